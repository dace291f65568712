//! What [`Settings`] opens: the history database and the price table in use. Factories as
//! methods, so a command never rebuilds them from parts (ripgrep's `HiArgs::matcher()`). It
//! must never resolve a setting (that is `settings`' job) or print.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use cclive_core::PriceTable;
use cclive_store::SqliteStore;

use super::Settings;

impl Settings {
    /// Opens (creating if needed) the history database.
    pub fn open_store(&self) -> anyhow::Result<Arc<SqliteStore>> {
        let path = &self.db.value;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let store = SqliteStore::open(path)
            .with_context(|| format!("opening the history database {}", path.display()))?;
        Ok(Arc::new(store))
    }

    /// Opens the history database only if it exists (read-only commands create nothing).
    pub fn open_existing_store(&self) -> anyhow::Result<Option<Arc<SqliteStore>>> {
        if Path::new(&self.db.value).exists() {
            self.open_store().map(Some)
        } else {
            Ok(None)
        }
    }

    /// The price table: the user's file if configured (else `prices.json` beside the config
    /// file, where `cclive prices sync` writes, when present), else the built-in one.
    pub fn prices(&self) -> anyhow::Result<PriceTable> {
        match self.user_prices_file() {
            Some(path) => {
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("reading the price table {}", path.display()))?;
                PriceTable::parse(&text)
                    .with_context(|| format!("in the price table {}", path.display()))
            }
            None => Ok(PriceTable::builtin()),
        }
    }

    /// The user's price file: the `prices_file` setting, else `prices.json` beside the config
    /// file when it exists.
    pub fn user_prices_file(&self) -> Option<PathBuf> {
        self.prices_file
            .value
            .clone()
            .or_else(|| Some(self.default_prices_file()).filter(|p| p.is_file()))
    }

    /// Where `cclive prices sync` writes: the `prices_file` setting, else `prices.json` beside
    /// the config file.
    pub fn prices_sync_target(&self) -> PathBuf {
        self.prices_file
            .value
            .clone()
            .unwrap_or_else(|| self.default_prices_file())
    }

    fn default_prices_file(&self) -> PathBuf {
        self.config_file
            .value
            .parent()
            .unwrap_or_else(|| Path::new("."))
            .join("prices.json")
    }
}
