//! The status line's cache and lock, in the runtime dir (`$XDG_RUNTIME_DIR/cclive`, else beside
//! the database): what one `cclive statusline` run leaves for the next (the store's figures, the
//! spend [`Memo`], the last official limits, what the figures were computed from), and the
//! non-blocking lock that keeps runs from piling up on the store. A run whose store and settings
//! are as the last run found them keeps its figures without opening the store. It never blocks (a held lock means "use the last figures") and
//! never fails a run (a cache it cannot write is skipped).

use std::fs::{self, File, TryLockError};
use std::hash::{DefaultHasher, Hash as _, Hasher as _};
use std::path::{Path, PathBuf};

use cclive_core::statusline::{RateLimits, StatuslinePayload};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use tracing::debug;

use super::spend::{Figures, Memo, compute, source};
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
    let read = Cache::read(&paths.cache);
    let mut cache = read.clone().unwrap_or_default();
    let tz = settings.budget.value.time_zone();
    let source = source(settings, &tz);
    let figures = match read.as_ref().and_then(|c| c.figures_for(source, now)) {
        Some(kept) => {
            debug!("Nothing new in the store; the last figures hold.");
            Some(kept)
        }
        None => match compute(settings, &tz, now, &mut cache.memo) {
            Ok(f) => f,
            Err(e) => {
                debug!(error = format!("{e:#}"), "Cannot read the store's figures.");
                cache.memo = Memo::default();
                None
            }
        },
    };
    cache.source = source.filter(|_| figures.is_some());
    cache.figures.clone_from(&figures);
    if !payload.rate_limits.is_empty() {
        cache.rate_limits = Some(payload.rate_limits.clone());
        cache.rate_limits_at = Some(now);
    }
    if read.is_none_or(|before| cache.news_since(&before, now)) {
        cache.write(&paths.cache);
    }
    drop(held);
    figures
}

/// How long a cache that says nothing new is left as it is: its times (when the figures were
/// computed, when Claude Code last reported its limits) may lag by this much.
const REWRITE_AFTER: jiff::SignedDuration = jiff::SignedDuration::from_secs(30);

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
    /// What `figures` were computed from ([`super::spend::source`]).
    #[serde(default)]
    source: Option<u64>,
}

impl Cache {
    pub(crate) fn read(path: &Path) -> Option<Cache> {
        serde_json::from_slice(&fs::read(path).ok()?).ok()
    }

    /// The figures at `now` without reading the store: this cache's, when they come from the
    /// same `source` and are still true at `now` (their time moved on to `now`). A status line
    /// runs after every turn; most runs find nothing new, and opening the store was most of
    /// their time.
    fn figures_for(&self, source: Option<u64>, now: Timestamp) -> Option<Figures> {
        let figures = self
            .figures
            .as_ref()
            .filter(|f| source.is_some() && self.source == source && f.still_true_at(now))?;
        Some(Figures {
            at: now,
            ..figures.clone()
        })
    }

    /// True when this cache says more than `before` did at `now`: other figures, memo or
    /// limits, or times older than [`REWRITE_AFTER`]. A status line runs after every message
    /// of a session, mostly to find the same figures; replacing the file each time cost it a
    /// third of its time (a rename over a file makes ext4 flush the new one's blocks).
    fn news_since(&self, before: &Cache, now: Timestamp) -> bool {
        let stale =
            |at: Option<Timestamp>| at.is_none_or(|at| now.duration_since(at) >= REWRITE_AFTER);
        let same_figures = match (&self.figures, &before.figures) {
            (Some(new), Some(old)) => {
                !stale(Some(old.at))
                    && Figures {
                        at: old.at,
                        ..new.clone()
                    } == *old
            }
            (None, None) => true,
            _ => false,
        };
        let same_limits = self.rate_limits == before.rate_limits
            && (self.rate_limits_at.is_none() || !stale(before.rate_limits_at));
        // Figures from another source (a new build, other settings) are news even when they
        // came out the same: left unwritten, the next run would compute them again.
        let same_source = self.source == before.source;
        !(same_figures && same_limits && same_source && self.memo.same_sums(&before.memo))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(at: Timestamp, today_usd: f64, five_hour: f64) -> Cache {
        Cache {
            figures: Some(Figures {
                at,
                today_usd,
                today_until: "2026-12-07T00:00:00Z".parse().unwrap(),
                limit: None,
                block_end: None,
                next_usage: None,
            }),
            memo: Memo::default(),
            rate_limits: Some(RateLimits {
                five_hour: Some(cclive_core::statusline::RateLimit {
                    used_percentage: five_hour,
                    resets_at: None,
                }),
                ..RateLimits::default()
            }),
            rate_limits_at: Some(at),
            source: Some(7),
        }
    }

    #[test]
    fn a_cache_that_only_moved_its_times_is_left_for_half_a_minute() {
        let then: Timestamp = "2026-12-06T10:00:00Z".parse().unwrap();
        let before = cache(then, 1.5, 42.0);
        let soon = then + jiff::SignedDuration::from_secs(5);
        assert!(!cache(soon, 1.5, 42.0).news_since(&before, soon));

        let later = then + REWRITE_AFTER;
        assert!(
            cache(later, 1.5, 42.0).news_since(&before, later),
            "stale times"
        );
        assert!(
            cache(soon, 1.6, 42.0).news_since(&before, soon),
            "other spend"
        );
        assert!(
            cache(soon, 1.5, 43.0).news_since(&before, soon),
            "other limits"
        );
        let mut none = cache(soon, 1.5, 42.0);
        none.figures = None;
        assert!(none.news_since(&before, soon), "figures gone");
        let mut rebuilt = cache(soon, 1.5, 42.0);
        rebuilt.source = Some(8);
        assert!(
            rebuilt.news_since(&before, soon),
            "the same figures from another build or settings"
        );
    }

    #[test]
    fn the_last_figures_hold_only_for_the_same_source_while_still_true() {
        let then: Timestamp = "2026-12-06T10:00:00Z".parse().unwrap();
        let soon = then + jiff::SignedDuration::from_secs(5);
        let last = cache(then, 1.5, 42.0);
        let kept = last.figures_for(Some(7), soon).unwrap();
        assert_eq!(kept.at, soon, "true as of this run");
        assert_eq!(kept.today_usd, 1.5);
        let next = Cache {
            figures: Some(kept),
            ..last.clone()
        };
        assert!(!next.news_since(&last, soon), "nothing to write");

        assert!(last.figures_for(Some(8), soon).is_none(), "another source");
        assert!(last.figures_for(None, soon).is_none(), "no source");
        let unknown = Cache {
            source: None,
            ..last.clone()
        };
        assert!(unknown.figures_for(None, soon).is_none());
        let tomorrow: Timestamp = "2026-12-07T00:00:00Z".parse().unwrap();
        assert!(
            last.figures_for(Some(7), tomorrow).is_none(),
            "the day turned"
        );
    }
}
