//! Pure edits of Claude Code's `settings.json`: cclive's hook entries (`settings`), the
//! telemetry environment (`telemetry`) and the monitor's token in it (`token`).

pub(crate) mod price_catalog;
pub(crate) mod settings;
pub(crate) mod telemetry;
pub(crate) mod token;
