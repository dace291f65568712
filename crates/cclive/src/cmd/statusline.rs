//! `cclive statusline`: the command Claude Code's `statusLine` setting runs (interactive sessions
//! only). It reads the JSON Claude Code sends on stdin and prints one short line:
//! `$0.42 session · $12.30 today · 61% daily · block 2h13m left · ctx 18% · 5h 42% (official)`.
//!
//! Claude Code runs it after every turn and tool round, drops a slow one silently and aborts one
//! still running when the next starts, so it must be fast whatever the history holds:
//! - **Never transcripts**: today's spend, the budget's percentage and the 5-hour block come from
//!   the store, in small indexed range queries: each run sums only the last minutes of usage and
//!   carries the older sums and the last known block over from the run before
//!   ([`crate::budget::spend::Memo`], in the cache); a run without them sums the day (the week or month for such a limit) and reads the
//!   usage times of the last day. A run that finds the store's files as the run before left
//!   them (and the same settings) does not open it at all: the last figures hold until the day
//!   or the block turns ([`crate::budget::spend::Figures::still_true_at`]). The session's own
//!   cost, the context used and the official limits come from the payload itself.
//! - **No pile-up**: the store is read under a non-blocking lock file in the runtime dir. A run
//!   that finds it taken does not wait: it prints the payload's figures with the store's figures
//!   of the last run, kept beside the lock ([`crate::budget::cache::Cache`]).
//! - **The monitor**: the payload is the only running cost of an interactive session before it
//!   ends, and its `rate_limits` are the subscription's official limits, so it is handed to a
//!   running monitor as an `EventKind::StatusLine` event (`POST /api/events`) on a thread, with a
//!   hard [`POST_BUDGET`]; a monitor that is not there costs a refused connection (no thread).
//! - **Fail open**: unreadable input prints [`FALLBACK`]; a missing database or config leaves
//!   figures out; the exit status is always 0. Nothing here is fatal to Claude Code's screen.
//!
//! `--chain CMD` (what `cclive hooks install --statusline --chain` writes when the user had a status
//! line) runs the previous command with the same stdin, in parallel, and appends its output.
//! The official limits are also kept in the cache, so `cclive budget` can show them when no
//! monitor runs ([`crate::budget::official::official_rate_limits`]).
//!
//! A leaf: the figures, the cache and the official limits are `crate::budget`'s; this file
//! reads stdin, hands the payload on, lays out the line and runs the chained command.

use std::io::{IsTerminal as _, Read as _, Write as _};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use cclive_core::Event;
use cclive_core::statusline::{self, RateLimits, StatuslinePayload};
use jiff::Timestamp;
use tracing::debug;

use crate::budget::cache::store_figures;
use crate::budget::spend::Figures;
use crate::cli::StatuslineArgs;
use crate::config::{ConfigError, Settings};
use crate::monitor::client as monitor_client;

/// The whole exchange with the monitor: it runs while the store is read, and is never waited
/// for longer than this.
pub(crate) const POST_BUDGET: Duration = Duration::from_millis(10);

/// How long a chained status line command may take before its output is left out.
const CHAIN_BUDGET: Duration = Duration::from_secs(2);

/// Largest payload read from stdin.
const MAX_PAYLOAD: u64 = 1024 * 1024;

/// The line for input that is not a status line payload.
pub(crate) const FALLBACK: &str = "cclive: no status (unreadable input)";

/// The line when stdin is a terminal (someone ran it by hand).
const NO_INPUT: &str =
    "cclive: no status (no input: Claude Code passes the session's JSON on stdin)";

/// The monitor's intake path for cclive's own events.
const EVENTS_PATH: &str = "/api/events";

/// Prints the line. Always exits 0.
pub(super) fn run(args: &StatuslineArgs, settings: Result<&Settings, &ConfigError>) -> ExitCode {
    let started = Instant::now();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        render(args, settings, started)
    }));
    let text = outcome.unwrap_or_else(|_| FALLBACK.to_owned());
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
    debug!(
        elapsed_us = started.elapsed().as_micros(),
        "Status line printed."
    );
    ExitCode::SUCCESS
}

/// The whole text to print (one line, or more when a chained command printed more).
fn render(
    args: &StatuslineArgs,
    settings: Result<&Settings, &ConfigError>,
    started: Instant,
) -> String {
    let input = if std::io::stdin().is_terminal() {
        None
    } else {
        read_stdin()
    };
    // The chained command runs while we compute ours.
    let chained = args
        .chain
        .as_deref()
        .and_then(|command| Chained::spawn(command, input.as_deref().unwrap_or_default()));
    let ours = match &input {
        None => NO_INPUT.to_owned(),
        Some(bytes) => match statusline::parse_payload(bytes) {
            Ok(payload) => our_line(&payload, settings),
            Err(e) => {
                debug!(error = %e, "Unreadable status line payload.");
                FALLBACK.to_owned()
            }
        },
    };
    debug!(
        elapsed_us = started.elapsed().as_micros(),
        "Own line ready."
    );
    match chained.and_then(Chained::output) {
        Some(theirs) => join_chained(&ours, &theirs),
        None => ours,
    }
}

fn read_stdin() -> Option<Vec<u8>> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .lock()
        .take(MAX_PAYLOAD)
        .read_to_end(&mut bytes)
        .ok()?;
    Some(bytes)
}

/// Our line for a parsed payload: the monitor is told, the store (or the cache) read.
fn our_line(payload: &StatuslinePayload, settings: Result<&Settings, &ConfigError>) -> String {
    let now = Timestamp::now();
    let settings = match settings {
        Ok(s) => s,
        Err(e) => {
            debug!(error = %e, "No usable settings; payload figures only.");
            return line(payload, None, now);
        }
    };
    debug!("Settings resolved.");
    let post = hand_to_monitor(
        &settings.listen.value,
        settings.client_token(),
        payload,
        now,
    );
    let figures = store_figures(settings, payload, now);
    if let Some(post) = post {
        // It has had the whole store read to finish; it never takes longer than its budget.
        let _ = post.join();
    }
    line(payload, figures.as_ref(), now)
}

/// Sends the payload's event to the monitor on a thread; `None` when there is nothing to send,
/// or no monitor to send it to. On a loopback address the connection is made here first: it
/// is made or refused at once, and a run without a monitor (the common case) then costs no
/// thread.
fn hand_to_monitor(
    listen: &str,
    token: Option<&str>,
    payload: &StatuslinePayload,
    now: Timestamp,
) -> Option<std::thread::JoinHandle<()>> {
    let session = payload.session_id.clone()?;
    let kind = statusline::to_event(payload)?;
    let body = serde_json::to_vec(&Event::new(session, now, kind)).ok()?;
    let connected = if monitor_client::is_loopback(listen) {
        match monitor_client::connect(listen, POST_BUDGET) {
            Ok(connection) => Some(connection),
            Err(e) => {
                debug!(error = %e, "No monitor took the status line.");
                return None;
            }
        }
    } else {
        None
    };
    let (listen, token) = (listen.to_owned(), token.map(str::to_owned));
    std::thread::Builder::new()
        .name("cclive-statusline-post".into())
        .spawn(move || {
            let token = token.as_deref();
            let sent = match connected {
                Some(connection) => connection.exchange(token, "POST", EVENTS_PATH, Some(&body)),
                None => monitor_client::post_json(&listen, token, EVENTS_PATH, &body, POST_BUDGET),
            };
            match sent {
                Ok(r) if r.is_success() => debug!("The monitor took the status line."),
                Ok(r) => debug!(status = r.status, "The monitor refused the status line."),
                Err(e) => debug!(error = %e, "No monitor took the status line."),
            }
        })
        .ok()
}

/// The line: the payload's figures, and the store's while they are still true at `now`.
pub(crate) fn line(
    payload: &StatuslinePayload,
    figures: Option<&Figures>,
    now: Timestamp,
) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(cost) = payload.total_cost_usd {
        parts.push(format!("{} session", money(cost)));
    }
    if let Some(f) = figures {
        if now < f.today_until {
            parts.push(format!("{} today", money(f.today_usd)));
        }
        if let Some(l) = f.limit.as_ref().filter(|l| now < l.until) {
            parts.push(format!("{} {}", percent(l.percent), l.period.adjective()));
        }
        if let Some(end) = f.block_end.filter(|end| now < *end) {
            let left = end.as_millisecond() - now.as_millisecond();
            parts.push(format!("block {} left", hours_minutes(left)));
        }
    }
    if let Some(ctx) = payload.context_used_percentage {
        parts.push(format!("ctx {}", percent(ctx)));
    }
    let limits = official(&payload.rate_limits);
    if !limits.is_empty() {
        parts.push(format!("{limits} (official)"));
    }
    if parts.is_empty() {
        "cclive: no figures yet".to_owned()
    } else {
        parts.join(" · ")
    }
}

/// `5h 42% · 7d 7%`.
fn official(limits: &RateLimits) -> String {
    [("5h", &limits.five_hour), ("7d", &limits.seven_day)]
        .into_iter()
        .filter_map(|(name, l)| Some(format!("{name} {}", percent(l.as_ref()?.used_percentage))))
        .collect::<Vec<_>>()
        .join(" · ")
}

/// `$0.42`, `$12.30`.
fn money(usd: f64) -> String {
    format!("${usd:.2}")
}

/// `61%` (rounded down, as budgets count thresholds).
fn percent(v: f64) -> String {
    format!("{:.0}%", v.max(0.0).floor())
}

/// `2h13m`, `42m`, `0m`.
fn hours_minutes(ms: i64) -> String {
    let minutes = ms.max(0) / 60_000;
    if minutes >= 60 {
        format!("{}h{:02}m", minutes / 60, minutes % 60)
    } else {
        format!("{minutes}m")
    }
}

/// Ours, then what the chained command printed: its first line after ours, any more below.
fn join_chained(ours: &str, theirs: &str) -> String {
    let mut lines = theirs.trim_end_matches(['\n', '\r']).lines();
    match lines.next().map(str::trim_end).filter(|l| !l.is_empty()) {
        None => ours.to_owned(),
        Some(first) => {
            let mut out = format!("{ours} | {first}");
            for more in lines {
                out.push('\n');
                out.push_str(more);
            }
            out
        }
    }
}

/// A chained status line command, running.
struct Chained {
    child: Child,
    output: mpsc::Receiver<Vec<u8>>,
}

impl Chained {
    /// Starts `sh -c command` with `input` on its stdin.
    fn spawn(command: &str, input: &[u8]) -> Option<Chained> {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(command)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| debug!(error = %e, "Cannot run the chained status line."))
            .ok()?;
        if let Some(mut stdin) = child.stdin.take() {
            let input = input.to_vec();
            // A command that does not read its stdin must not block us.
            std::thread::spawn(move || {
                let _ = stdin.write_all(&input);
            });
        }
        let mut stdout = child.stdout.take()?;
        let (tx, output) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = (&mut stdout).take(64 * 1024).read_to_end(&mut buf);
            let _ = tx.send(buf);
        });
        Some(Chained { child, output })
    }

    /// Its output, once it closed stdout, within [`CHAIN_BUDGET`]; killed after that.
    fn output(mut self) -> Option<String> {
        let got = self.output.recv_timeout(CHAIN_BUDGET);
        if got.is_err() {
            debug!("The chained status line took too long; left out.");
            let _ = self.child.kill();
        }
        // Reaped on a thread: a child that keeps running after closing stdout is not waited for.
        std::thread::spawn(move || {
            let _ = self.child.wait();
        });
        String::from_utf8(got.ok()?).ok()
    }
}

#[cfg(test)]
mod tests {
    use cclive_core::SessionId;
    use cclive_core::budget::Period;
    use cclive_core::statusline::RateLimit;

    use super::*;
    use crate::budget::spend::LimitUse;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn payload() -> StatuslinePayload {
        StatuslinePayload {
            session_id: Some(SessionId::new("s1")),
            total_cost_usd: Some(0.42),
            context_used_percentage: Some(18.6),
            rate_limits: RateLimits {
                five_hour: Some(RateLimit {
                    used_percentage: 42.5,
                    resets_at: None,
                }),
                seven_day: None,
                reported_at: None,
            },
            ..StatuslinePayload::default()
        }
    }

    fn figures_at(now: &str) -> Figures {
        Figures {
            at: ts(now),
            today_usd: 12.3,
            today_until: ts("2026-09-04T00:00:00Z"),
            limit: Some(LimitUse {
                period: Period::Day,
                percent: 61.5,
                until: ts("2026-09-04T00:00:00Z"),
            }),
            block_end: Some(ts("2026-09-03T12:00:00Z")),
            next_usage: None,
        }
    }

    #[test]
    fn the_line_has_every_figure_it_knows() {
        let now = ts("2026-09-03T09:47:00Z");
        let f = figures_at("2026-09-03T09:46:00Z");
        assert_eq!(
            line(&payload(), Some(&f), now),
            "$0.42 session · $12.30 today · 61% daily · block 2h13m left · ctx 18% · 5h 42% (official)"
        );
        assert_eq!(
            line(&payload(), None, now),
            "$0.42 session · ctx 18% · 5h 42% (official)"
        );
        assert_eq!(
            line(&StatuslinePayload::default(), None, now),
            "cclive: no figures yet"
        );
    }

    #[test]
    fn stale_figures_are_left_out() {
        let f = figures_at("2026-09-03T09:46:00Z");
        let next_day = ts("2026-09-04T00:10:00Z");
        assert_eq!(
            line(&payload(), Some(&f), next_day),
            "$0.42 session · ctx 18% · 5h 42% (official)",
            "yesterday's total, percentage and block are not today's"
        );
        let after_block = ts("2026-09-03T12:00:00Z");
        assert!(!line(&payload(), Some(&f), after_block).contains("block"));
    }

    #[test]
    fn chained_output_follows_ours() {
        assert_eq!(join_chained("ours", "theirs\n"), "ours | theirs");
        assert_eq!(join_chained("ours", "a\nb\n"), "ours | a\nb");
        assert_eq!(join_chained("ours", "\n"), "ours");
        assert_eq!(join_chained("ours", ""), "ours");
    }

    #[test]
    fn durations_and_percentages() {
        assert_eq!(hours_minutes(2 * 3_600_000 + 13 * 60_000 + 59_000), "2h13m");
        assert_eq!(hours_minutes(42 * 60_000), "42m");
        assert_eq!(hours_minutes(-5), "0m");
        assert_eq!(percent(99.99), "99%");
        assert_eq!(percent(-1.0), "0%");
    }
}
