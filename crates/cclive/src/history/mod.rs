//! Reading the history back for views and reports: a session's events, usage rows as report inputs;
//! sessions rebuilt from their stored events after a recover.

pub(crate) mod export;
pub(crate) mod rebuild;
pub(crate) mod session_events;
pub(crate) mod usage_records;
