//! The subscription's official limits (Claude Code's `rate_limits`, which only its status line
//! payload carries): where to find the latest (the running monitor, the status line's cache,
//! the state file) and how a reset time reads. Shown by `cclive budget` and the status line.
//! It only reads; it never asks Claude Code or the API.

use std::fs;
use std::time::Duration;

use cclive_core::Snapshot;
use cclive_core::statusline::RateLimits;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use super::cache::{Cache, CachePaths};
use crate::config::Settings;
use crate::monitor::client as monitor_client;

/// The official limits, where they were found, and as of when.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct OfficialLimits {
    /// The limits.
    #[serde(flatten)]
    pub(crate) limits: RateLimits,
    /// Where they were found.
    pub(crate) source: LimitsSource,
    /// When they were reported (the monitor's are current).
    pub(crate) as_of: Timestamp,
}

/// Where the official limits were found. Serialized snake case (`monitor`, `statusline`,
/// `state_file`) in `--json` output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum LimitsSource {
    /// The running monitor (current).
    Monitor,
    /// The last status line run's cache.
    Statusline,
    /// The state file.
    StateFile,
}

/// The subscription's official limits as Claude Code last reported them: from the running
/// monitor, else the status line's cache, else the state file. `None` when no status line has
/// run (they only come with it).
pub(crate) fn official_rate_limits(settings: &Settings) -> Option<OfficialLimits> {
    let monitor = monitor_client::get(
        &settings.listen.value,
        settings.client_token(),
        "/api/current-session",
        Duration::from_millis(300),
    )
    .ok()
    .filter(monitor_client::Response::is_success)
    .and_then(|r| serde_json::from_slice::<Snapshot>(&r.body).ok());
    if let Some(limits) = monitor.as_ref().and_then(|s| s.rate_limits.clone()) {
        return Some(OfficialLimits {
            limits,
            source: LimitsSource::Monitor,
            as_of: Timestamp::now(),
        });
    }
    let cached = Cache::read(&CachePaths::for_settings(settings).cache).and_then(|c| {
        Some(OfficialLimits {
            limits: c.rate_limits?,
            source: LimitsSource::Statusline,
            as_of: c.rate_limits_at?,
        })
    });
    let state = fs::read(&settings.state_file.value)
        .ok()
        .and_then(|b| serde_json::from_slice::<Snapshot>(&b).ok())
        .and_then(|s| {
            Some(OfficialLimits {
                limits: s.rate_limits?,
                source: LimitsSource::StateFile,
                as_of: s.updated_at,
            })
        });
    // The cache says when Claude Code reported them; the state file only when it was written.
    cached.or(state)
}

/// `resets 16:00` / `resets Mon 09:00` / `reset since` for one window, in `tz`.
pub(crate) fn resets_text(
    resets_at: Option<Timestamp>,
    now: Timestamp,
    tz: &TimeZone,
) -> Option<String> {
    let at = resets_at?;
    if at <= now {
        return Some("reset since".to_owned());
    }
    let zoned = at.to_zoned_datetime(tz.clone());
    let soon = at.duration_since(now) < SignedDuration::from_hours(20);
    let when = if soon {
        zoned.strftime("%H:%M").to_string()
    } else {
        zoned.strftime("%a %H:%M").to_string()
    };
    Some(format!("resets {when}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn resets_are_shown_in_the_zone() {
        let now = ts("2026-09-03T09:00:00Z");
        let tz = TimeZone::UTC;
        assert_eq!(
            resets_text(Some(ts("2026-09-03T14:00:00Z")), now, &tz).unwrap(),
            "resets 14:00"
        );
        assert_eq!(
            resets_text(Some(ts("2026-09-07T08:00:00Z")), now, &tz).unwrap(),
            "resets Mon 08:00"
        );
        assert_eq!(
            resets_text(Some(ts("2026-09-03T08:00:00Z")), now, &tz).unwrap(),
            "reset since"
        );
        assert!(resets_text(None, now, &tz).is_none());
    }
}
