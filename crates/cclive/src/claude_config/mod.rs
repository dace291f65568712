//! Pure edits of Claude Code's `settings.json`: cclive's hook entries (`settings`) and the
//! telemetry environment (`telemetry`).

pub(crate) mod price_catalog;
pub(crate) mod settings;
pub(crate) mod telemetry;
