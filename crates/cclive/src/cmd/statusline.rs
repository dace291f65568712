//! `cclive statusline`: the command Claude Code's `statusLine` setting runs (interactive sessions
//! only). It reads the JSON Claude Code sends on stdin and prints one short line:
//! `$0.42 session · $12.30 today · 61% daily · block 2h13m left · ctx 18% · 5h 42% (official)`.
//!
//! Claude Code runs it after every turn and tool round, drops a slow one silently and aborts one
//! still running when the next starts, so it must be fast whatever the history holds:
//! - **Never transcripts**: today's spend, the budget's percentage and the 5-hour block come from
//!   the store, in small indexed range queries: each run sums only the last minutes of usage and
//!   carries the older sums and the last known block over from the run before ([`Memo`], in the
//!   cache); a run without them sums the day (the week or month for such a limit) and reads the
//!   usage times of the last day. The session's own cost, the context used and the official
//!   limits come from the payload itself.
//! - **No pile-up**: the store is read under a non-blocking lock file in the runtime dir. A run
//!   that finds it taken does not wait: it prints the payload's figures with the store's figures
//!   of the last run, kept beside the lock ([`Cache`]).
//! - **The monitor**: the payload is the only running cost of an interactive session before it
//!   ends, and its `rate_limits` are the subscription's official limits, so it is handed to a
//!   running monitor as an `EventKind::StatusLine` event (`POST /api/events`) on a thread, with a
//!   hard [`POST_BUDGET`]; a monitor that is not there costs nothing.
//! - **Fail open**: unreadable input prints [`FALLBACK`]; a missing database or config leaves
//!   figures out; the exit status is always 0. Nothing here is fatal to Claude Code's screen.
//!
//! `--chain CMD` (what `cclive hooks install --statusline --chain` writes when the user had a status
//! line) runs the previous command with the same stdin, in parallel, and appends its output.
//! The official limits are also kept in the cache, so `cclive budget` can show them when no
//! monitor runs ([`official_rate_limits`]).

use std::fs::{self, File, TryLockError};
use std::hash::{DefaultHasher, Hash as _, Hasher as _};
use std::io::{IsTerminal as _, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use cclive_core::blocks;
use cclive_core::budget::{self, Budget, Period};
use cclive_core::statusline::{self, RateLimits, StatuslinePayload};
use cclive_core::{Event, PriceTable, Snapshot};
use cclive_store::{Store, StoreError};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use tracing::debug;

use crate::cli::{GlobalArgs, StatuslineArgs};
use crate::config::Settings;
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
pub(super) fn run(args: &StatuslineArgs, global: &GlobalArgs) -> ExitCode {
    let started = Instant::now();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        render(args, global, started)
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
fn render(args: &StatuslineArgs, global: &GlobalArgs, started: Instant) -> String {
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
            Ok(payload) => our_line(&payload, args, global),
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
fn our_line(payload: &StatuslinePayload, args: &StatuslineArgs, global: &GlobalArgs) -> String {
    let now = Timestamp::now();
    let settings = match Settings::from_process_listen(global, args.listen.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            debug!(error = %e, "No usable settings; payload figures only.");
            return line(payload, None, now);
        }
    };
    debug!("Settings resolved.");
    let post = hand_to_monitor(&settings.listen.value, payload, now);
    let figures = store_figures(&settings, payload, now);
    if let Some(post) = post {
        // It has had the whole store read to finish; it never takes longer than its budget.
        let _ = post.join();
    }
    line(payload, figures.as_ref(), now)
}

/// Sends the payload's event to the monitor on a thread; `None` when there is nothing to send.
fn hand_to_monitor(
    listen: &str,
    payload: &StatuslinePayload,
    now: Timestamp,
) -> Option<std::thread::JoinHandle<()>> {
    let session = payload.session_id.clone()?;
    let kind = statusline::to_event(payload)?;
    let body = serde_json::to_vec(&Event::new(session, now, kind)).ok()?;
    let listen = listen.to_owned();
    std::thread::Builder::new()
        .name("cclive-statusline-post".into())
        .spawn(
            move || match monitor_client::post_json(&listen, EVENTS_PATH, &body, POST_BUDGET) {
                Ok(r) if r.is_success() => debug!("The monitor took the status line."),
                Ok(r) => debug!(status = r.status, "The monitor refused the status line."),
                Err(e) => debug!(error = %e, "No monitor took the status line."),
            },
        )
        .ok()
}

/// The store's figures: computed under the lock, or the last ones when another run holds it.
fn store_figures(
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

fn compute(
    settings: &Settings,
    now: Timestamp,
    memo: &mut Memo,
) -> anyhow::Result<Option<Figures>> {
    let Some(store) = settings.open_existing_store()? else {
        return Ok(None);
    };
    let prices = settings.prices()?;
    let config = &settings.budget.value;
    let tz = config.time_zone();
    debug!("Store open, prices and zone read.");
    let figures = figures(&*store, &config.budget, &prices, &tz, now, memo)?;
    debug!("Store figures computed.");
    Ok(Some(figures))
}

/// What the store says, as the status line shows it. Also what the cache keeps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Figures {
    /// When they were computed.
    pub(crate) at: Timestamp,
    /// Estimated spend of the local day (the budget's zone).
    pub(crate) today_usd: f64,
    /// The day's end: after it, `today_usd` is yesterday's.
    pub(crate) today_until: Timestamp,
    /// The global limit shown: the daily one, else the weekly, else the monthly.
    pub(crate) limit: Option<LimitUse>,
    /// The end of the 5-hour block running at `at`.
    pub(crate) block_end: Option<Timestamp>,
}

/// One limit's use.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct LimitUse {
    /// Which period.
    pub(crate) period: Period,
    /// Spend as a share of the limit, in percent.
    pub(crate) percent: f64,
    /// The period's end: after it, the figure is stale.
    pub(crate) until: Timestamp,
}

/// Spend older than this is "settled": its sum is kept in the [`Memo`] and only newer usage is
/// read again (the monitor's writer commits within a fraction of a second; this leaves room for
/// a transcript read a little late).
const SETTLE: SignedDuration = SignedDuration::from_mins(10);

/// A kept sum older than this is computed again from the history, so usage that arrived later
/// than [`SETTLE`] (an import of old transcripts) is counted within this time.
const HEAL: SignedDuration = SignedDuration::from_mins(15);

/// The chain of blocks is read again from the history this often. Carrying it on is exact as
/// long as no usage older than the running block arrives; reading it again costs the most of
/// any query here for a history without 5-hour pauses (a week of usage times).
const BLOCK_HEAL: SignedDuration = SignedDuration::from_hours(6);

/// What a run leaves for the next (in the [`Cache`]) so each run reads only recent usage: the
/// settled spend per window, and the last 5-hour block known, to chain the next one from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Memo {
    #[serde(default)]
    settled: Vec<Settled>,
    #[serde(default)]
    block: Option<KnownBlock>,
}

/// The spend of a window up to `until`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Settled {
    /// `day:2026-09-03`, `week:2026-08-31`, `month:2026-09`.
    window: String,
    until: Timestamp,
    usd: f64,
    /// When it was last summed from the window's start.
    full_at: Timestamp,
}

/// A block whose boundaries are certain.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
struct KnownBlock {
    start: Timestamp,
    end: Timestamp,
    /// When the chain was last read from the history rather than carried on.
    checked_at: Timestamp,
}

/// The figures at `now`. With a [`Memo`] of an earlier run, a few small range queries: the usage
/// of the last [`SETTLE`] minutes of each window, and the usage times after the last known
/// block, if it ended. Without one (or every [`HEAL`], [`BLOCK_HEAL`]): the window's sum, and
/// the usage times of the last day (of the last week when the day held no quiet spell of 5
/// hours).
pub(crate) fn figures(
    store: &dyn Store,
    budget: &Budget,
    prices: &PriceTable,
    tz: &TimeZone,
    now: Timestamp,
    memo: &mut Memo,
) -> Result<Figures, StoreError> {
    let mut used = Vec::new();
    let day = budget::window(Period::Day, now, tz, budget.week_start);
    let today_usd = spend(store, memo, &day, prices, now, &mut used)?;
    let limit = if let Some(daily) = budget.limits.daily_usd {
        Some(LimitUse {
            period: Period::Day,
            percent: today_usd / daily * 100.0,
            until: day.end,
        })
    } else {
        let longer = [Period::Week, Period::Month]
            .into_iter()
            .find_map(|p| Some((p, budget.limits.for_period(p)?)));
        match longer {
            None => None,
            Some((period, limit)) => {
                let window = budget::window(period, now, tz, budget.week_start);
                let spent = spend(store, memo, &window, prices, now, &mut used)?;
                Some(LimitUse {
                    period,
                    percent: spent / limit * 100.0,
                    until: window.end,
                })
            }
        }
    };
    memo.settled.retain(|s| used.contains(&s.window));
    Ok(Figures {
        at: now,
        today_usd,
        today_until: day.end,
        limit,
        block_end: block_end(store, memo, now)?,
    })
}

/// The estimated spend of `window` up to `now` (and any usage stamped later inside it).
fn spend(
    store: &dyn Store,
    memo: &mut Memo,
    window: &budget::Window,
    prices: &PriceTable,
    now: Timestamp,
    used: &mut Vec<String>,
) -> Result<f64, StoreError> {
    let name = format!("{}:{}", window.period.as_str(), window.key);
    let settle = (now - SETTLE).clamp(window.start, window.end);
    let kept = memo
        .settled
        .iter()
        .find(|s| s.window == name && s.until <= settle && now - s.full_at < HEAL)
        .cloned();
    let (base, from, full_at) = match kept {
        Some(s) => (s.usd, s.until, s.full_at),
        None => (0.0, window.start, now),
    };
    let settled = base + usd_between(store, from, settle, prices)?;
    let recent = usd_between(store, settle, window.end, prices)?;
    memo.settled.retain(|s| s.window != name);
    memo.settled.push(Settled {
        window: name.clone(),
        until: settle,
        usd: settled,
        full_at,
    });
    used.push(name);
    Ok(settled + recent)
}

fn usd_between(
    store: &dyn Store,
    from: Timestamp,
    to: Timestamp,
    prices: &PriceTable,
) -> Result<f64, StoreError> {
    if from >= to {
        return Ok(0.0);
    }
    let range = budget::Window {
        period: Period::Day,
        key: String::new(),
        start: from,
        end: to,
    };
    Ok(super::budget::spend_in(store, &range, prices)?.total_usd)
}

/// The end of the 5-hour block running at `now`, chained on from the last known block: a block
/// that ended is followed by one starting at the hour of the first usage at or after its end.
fn block_end(
    store: &dyn Store,
    memo: &mut Memo,
    now: Timestamp,
) -> Result<Option<Timestamp>, StoreError> {
    let kept = memo
        .block
        .filter(|b| b.start <= now && now - b.checked_at < BLOCK_HEAL);
    let (mut block, checked_at) = match kept {
        Some(b) => (Some((b.start, b.end)), b.checked_at),
        None => (last_block(store, now)?, now),
    };
    while let Some((_, end)) = block.filter(|(_, end)| *end <= now) {
        let next = store
            .usage_times(Some(end), Some(now + SignedDuration::from_millis(1)))?
            .first()
            .copied();
        let Some(first) = next else { break };
        block = blocks::spans([first]).first().map(|s| (s.start, s.end));
    }
    memo.block = block.map(|(start, end)| KnownBlock {
        start,
        end,
        checked_at,
    });
    Ok(block
        .filter(|(start, end)| *start <= now && now < *end)
        .map(|(_, end)| end))
}

/// The last block up to `now`, from the usage times of the last day (the last week when the day
/// had no quiet spell to start the chain from).
fn last_block(
    store: &dyn Store,
    now: Timestamp,
) -> Result<Option<(Timestamp, Timestamp)>, StoreError> {
    let until = now + SignedDuration::from_millis(1);
    let day = now - SignedDuration::from_hours(24);
    let mut times = store.usage_times(Some(day), Some(until))?;
    if !crate::history::usage_records::anchored(times.iter().copied(), day) {
        times = store.usage_times(Some(now - SignedDuration::from_hours(7 * 24)), Some(until))?;
    }
    Ok(blocks::spans(times).last().map(|s| (s.start, s.end)))
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

/// Where the lock and the cache live: the runtime dir (`$XDG_RUNTIME_DIR/cclive`), else beside
/// the database; named after the database, so two histories never share figures.
struct CachePaths {
    lock: PathBuf,
    cache: PathBuf,
}

impl CachePaths {
    fn for_settings(settings: &Settings) -> CachePaths {
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
struct Cache {
    #[serde(default)]
    figures: Option<Figures>,
    #[serde(default)]
    memo: Memo,
    #[serde(default)]
    rate_limits: Option<RateLimits>,
    #[serde(default)]
    rate_limits_at: Option<Timestamp>,
}

impl Cache {
    fn read(path: &Path) -> Option<Cache> {
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
    use cclive_core::SessionId;
    use cclive_core::budget::Limits;
    use cclive_core::statusline::RateLimit;
    use cclive_core::{SessionState, Tokens};
    use cclive_store::{Batch, SqliteStore, UsageRow};

    use super::*;

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

    fn spend(store: &SqliteStore, key: &str, at: &str, usd: u64) {
        let session = SessionState::new(SessionId::new("s"), ts(at));
        store
            .write(&Batch {
                sessions: vec![session],
                usage: vec![UsageRow {
                    key: key.into(),
                    session_id: SessionId::new("s"),
                    at: ts(at),
                    model: Some("claude-sonnet-4-5".into()),
                    // $15 per million output tokens.
                    tokens: Tokens {
                        output: usd * 1_000_000 / 15,
                        ..Tokens::default()
                    },
                    sidechain: false,
                }],
                ..Batch::default()
            })
            .unwrap();
    }

    #[test]
    fn figures_come_from_the_store() {
        let store = SqliteStore::open_in_memory().unwrap();
        spend(&store, "yesterday", "2026-09-02T22:00:00Z", 5);
        spend(&store, "m1", "2026-09-03T08:10:00Z", 3);
        spend(&store, "m2", "2026-09-03T09:30:00Z", 3);
        let prices = PriceTable::builtin();
        let now = ts("2026-09-03T09:47:00Z");
        let budget = Budget {
            limits: Limits {
                daily_usd: Some(10.0),
                ..Limits::default()
            },
            ..Budget::default()
        };
        let f = figures(
            &store,
            &budget,
            &prices,
            &TimeZone::UTC,
            now,
            &mut Memo::default(),
        )
        .unwrap();
        // Whole tokens: $3 is 199,999.99… tokens, so figures are within a micro-dollar.
        assert!((f.today_usd - 6.0).abs() < 1e-3, "{}", f.today_usd);
        let limit = f.limit.unwrap();
        assert_eq!(limit.period, Period::Day);
        assert!((limit.percent - 60.0).abs() < 1e-3);
        assert_eq!(f.block_end, Some(ts("2026-09-03T13:00:00Z")), "08:00 + 5 h");

        let monthly = Budget {
            limits: Limits {
                monthly_usd: Some(100.0),
                ..Limits::default()
            },
            ..Budget::default()
        };
        let f = figures(
            &store,
            &monthly,
            &prices,
            &TimeZone::UTC,
            now,
            &mut Memo::default(),
        )
        .unwrap();
        let limit = f.limit.unwrap();
        assert_eq!(limit.period, Period::Month);
        assert!((limit.percent - 11.0).abs() < 1e-3, "{}", limit.percent);
        assert_eq!(limit.until, ts("2026-10-01T00:00:00Z"));
    }

    /// Runs a minute apart, each carrying the memo of the one before, agree with runs that read
    /// everything afresh: through usage arriving, a block ending, the next one starting, and
    /// midnight.
    #[test]
    fn carried_figures_agree_with_fresh_ones() {
        let store = SqliteStore::open_in_memory().unwrap();
        let prices = PriceTable::builtin();
        let budget = Budget {
            limits: Limits {
                daily_usd: Some(10.0),
                ..Limits::default()
            },
            ..Budget::default()
        };
        let mut memo = Memo::default();
        let start = ts("2026-09-03T18:50:00Z");
        let mut key = 0;
        for minute in 0..(8 * 60) {
            let now = start + SignedDuration::from_mins(minute);
            // Usage every 7 minutes, except a quiet spell from 21:00 to 23:30.
            let quiet = (ts("2026-09-03T21:00:00Z")..ts("2026-09-03T23:30:00Z")).contains(&now);
            if minute % 7 == 0 && !quiet {
                key += 1;
                spend(&store, &format!("k{key}"), &now.to_string(), 1);
            }
            if minute % 5 != 0 {
                continue;
            }
            let carried =
                figures(&store, &budget, &prices, &TimeZone::UTC, now, &mut memo).unwrap();
            let fresh = figures(
                &store,
                &budget,
                &prices,
                &TimeZone::UTC,
                now,
                &mut Memo::default(),
            )
            .unwrap();
            assert!(
                (carried.today_usd - fresh.today_usd).abs() < 1e-6,
                "{now}: {} vs {}",
                carried.today_usd,
                fresh.today_usd
            );
            assert_eq!(carried.block_end, fresh.block_end, "{now}");
            assert_eq!(carried.today_until, fresh.today_until);
        }
        // The chain was carried: blocks 18:00-23:00, then 23:00 (first usage after 23:00 is
        // 23:30) to 04:00 the next day.
        assert_eq!(memo.block.unwrap().start, ts("2026-09-03T23:00:00Z"));
        assert_eq!(memo.settled.len(), 1, "only today's window is kept");
        assert!(memo.settled[0].window.starts_with("day:2026-09-04"));
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
