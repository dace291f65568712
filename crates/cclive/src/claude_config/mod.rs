//! Claude Code's configuration as cclive touches it: pure edits of `settings.json` (cclive's
//! hook entries in `settings`, its status line in `statusline`, the telemetry environment in
//! `telemetry`, the monitor's token in `token`), how the file is laid out (`format`), the file
//! itself on disk (`file`: lock, backup, atomic replace), and the price catalog baked into an
//! installed Claude Code (`price_catalog`).

pub(crate) mod file;
pub(crate) mod format;
pub(crate) mod price_catalog;
pub(crate) mod settings;
pub(crate) mod statusline;
pub(crate) mod telemetry;
pub(crate) mod token;
