//! Resolving what the user asked for into one [`Settings`], built once and passed down by `&`.
//!
//! - `file`: the config file's shape and reading it;
//! - `env`: the only reader of the process environment;
//! - `settings`: [`Settings`] and its resolution (defaults < file < env < flags, each value with
//!   its [`Origin`]);
//! - `open`: the factories on [`Settings`] (`open_store`, `prices`), as ripgrep's `HiArgs`;
//! - `zone`: IANA and system time zones.
//!
//! Nothing outside this folder reads an environment variable.

pub(crate) mod env;
mod file;
mod open;
mod settings;
mod zone;

pub use file::DEFAULT_CONFIG_TOML;
pub use settings::*;
pub use zone::{system_zone, zone_named};
