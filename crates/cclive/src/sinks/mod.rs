//! Sinks fed by the monitor's callbacks: webhooks and `[[on_change]]` commands (`notify`),
//! budget alerts and 5-hour block changes (`budget_watch`).

pub(crate) mod budget_watch;
pub mod notify;
