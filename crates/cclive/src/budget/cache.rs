//! The status line's cache and lock, in the runtime dir (`$XDG_RUNTIME_DIR/cclive`, else beside
//! the database): what one `cclive statusline` run leaves for the next (the store's figures, the
//! spend [`Memo`], the last official limits), and the non-blocking lock that keeps runs from
//! piling up on the store. It never blocks (a held lock means "use the last figures") and
//! never fails a run (a cache it cannot write is skipped).

use std::fs::{self, File, TryLockError};
use std::hash::{DefaultHasher, Hash as _, Hasher as _};
use std::path::{Path, PathBuf};

use cclive_core::statusline::{RateLimits, StatuslinePayload};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use tracing::debug;

use super::spend::{Figures, Memo, compute};
use crate::config::Settings;

/// The store's figures: computed under the lock, or the last ones when another run holds it.
pub(crate) fn store_figures(
    settings: &Settings,
    payload: &StatuslinePayload,
    now: Timestamp,
) -> Option<Figures> {
    let paths = CachePaths::for_settings(settings);
    // No place for a lock (a read-only dir): compute anyway, unprotected.
    let held = match paths.lock() {
        Ok(Some(file)) => Some(file),
        Ok(None) => {
            debug!("Another status line is reading the store; using the last figures.");
            return Cache::read(&paths.cache).and_then(|c| c.figures);
        }
        Err(e) => {
            debug!(error = %e, "No lock file for the status line.");
            None
        }
    };
    let mut cache = Cache::read(&paths.cache).unwrap_or_default();
    let figures = match compute(settings, now, &mut cache.memo) {
        Ok(f) => f,
        Err(e) => {
            debug!(error = format!("{e:#}"), "Cannot read the store's figures.");
            cache.memo = Memo::default();
            None
        }
    };
    cache.figures.clone_from(&figures);
    if !payload.rate_limits.is_empty() {
        cache.rate_limits = Some(payload.rate_limits.clone());
        cache.rate_limits_at = Some(now);
    }
    cache.write(&paths.cache);
    drop(held);
    figures
}

/// Where the lock and the cache live: the runtime dir (`$XDG_RUNTIME_DIR/cclive`), else beside
/// the database; named after the database, so two histories never share figures.
pub(crate) struct CachePaths {
    lock: PathBuf,
    pub(crate) cache: PathBuf,
}

impl CachePaths {
    pub(crate) fn for_settings(settings: &Settings) -> CachePaths {
        let db = &settings.db.value;
        let dir = crate::config::env::runtime_dir()
            .or_else(|| db.parent().map(Path::to_path_buf))
            .unwrap_or_else(std::env::temp_dir);
        let mut hasher = DefaultHasher::new();
        db.hash(&mut hasher);
        let tag = format!("{:08x}", hasher.finish() & 0xffff_ffff);
        CachePaths {
            lock: dir.join(format!("statusline-{tag}.lock")),
            cache: dir.join(format!("statusline-{tag}.json")),
        }
    }

    /// The lock, if it could be taken at once: `Ok(None)` when another run holds it, `Err`
    /// when there is no place for it.
    fn lock(&self) -> std::io::Result<Option<File>> {
        if let Some(dir) = self.lock.parent() {
            fs::create_dir_all(dir)?;
        }
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.lock)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(file)),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => Err(e),
        }
    }
}

/// What one run leaves for the next: the store's figures (for a run that finds the lock taken),
/// the [`Memo`] (for the next run that reads the store), and the last official limits.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Cache {
    #[serde(default)]
    figures: Option<Figures>,
    #[serde(default)]
    memo: Memo,
    #[serde(default)]
    pub(crate) rate_limits: Option<RateLimits>,
    #[serde(default)]
    pub(crate) rate_limits_at: Option<Timestamp>,
}

impl Cache {
    pub(crate) fn read(path: &Path) -> Option<Cache> {
        serde_json::from_slice(&fs::read(path).ok()?).ok()
    }

    /// Written to a temp file and renamed, so a reader never sees half of it.
    fn write(&self, path: &Path) {
        let Ok(json) = serde_json::to_vec(self) else {
            return;
        };
        let tmp = path.with_extension(format!("json.{}", std::process::id()));
        if fs::write(&tmp, json)
            .and_then(|()| fs::rename(&tmp, path))
            .is_err()
        {
            let _ = fs::remove_file(&tmp);
            debug!(path = %path.display(), "Cannot write the status line cache.");
        }
    }
}
