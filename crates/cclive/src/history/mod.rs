//! Reading the history back for views and reports: a session's events, usage rows as report inputs.

pub(crate) mod export;
pub(crate) mod session_events;
pub(crate) mod usage_records;
