//! Budget alerts and 5-hour block changes in a running monitor: a pipeline [`Callback`] that
//! notices usage changing, and a worker thread that checks the `[budget]` limits and the running
//! block against the store.
//!
//! Why a thread: the callback runs on the monitor task and must stay quick, while a check reads
//! the store's sums of up to a month of usage. The callback only nudges the worker when a
//! session's usage changed (not on the one-second ticks); the worker waits [`DEBOUNCE`] (so the
//! store writer, which flushes every 100 ms, has committed the usage that caused the nudge),
//! checks, and checks once more [`TRAILING`] later to catch the last batch of a burst. It also
//! wakes when the running block's five hours are over (a block ends with no usage at all), and
//! checks one last time when the monitor stops (every callback dropped), so the last usage of a
//! short `cclive run` is judged too; [`Watcher::join`] waits for that.
//!
//! A budget check computes [`cclive_core::budget::evaluate_groups`] over the store's quarter-hour
//! sums and offers every threshold reached to [`Store::record_alert`]; only alerts the store did
//! not have yet go to the sinks. That is what makes each threshold fire once per period, across
//! monitor restarts (and several monitors). A block check compares the block running now with
//! the one running at the last check ([`cclive_core::blocks::changes`]); the first look only
//! learns which block runs, so a block already running when the watcher starts is not announced
//! as started (its end is).
//!
//! Sinks: the monitor prints alerts on stderr ([`print_sink`]) and hands both kinds to webhooks
//! and on_change commands (`Notifier::alert_sink`, `Notifier::block_sink`); the library's
//! `SessionMonitorBuilder::on_budget` and `on_block` add callbacks of their own.

use std::collections::HashMap;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cclive_core::blocks::{self, BlockEvent, BlockSpan};
use cclive_core::budget::{self, Budget, BudgetAlert, BudgetStatus, Period};
use cclive_core::{PriceTable, SessionId, Update, UpdateKind};
use cclive_store::{Store, StoreError};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use tracing::{debug, warn};

use crate::config::Settings;
use crate::monitor::pipeline::Callback;

/// Receives each new budget alert (once per threshold per period).
pub(crate) type AlertSink = Arc<dyn Fn(&BudgetAlert) + Send + Sync>;

/// Receives each block change (a block started, a block ended).
pub(crate) type BlockSink = Arc<dyn Fn(&BlockEvent) + Send + Sync>;

/// How long the worker waits after a nudge before it checks.
pub(crate) const DEBOUNCE: Duration = Duration::from_millis(500);

/// After a check, how long the worker waits for more usage before its last check of a burst.
pub(crate) const TRAILING: Duration = Duration::from_secs(2);

/// How long after a block's end the worker looks (so "now" is surely past it).
const BLOCK_END_SLACK: Duration = Duration::from_secs(1);

/// What to watch, and whom to tell.
pub(crate) struct Watch {
    /// The limits (none: no budget alerts).
    pub(crate) budget: Budget,
    /// The zone budget periods are cut in.
    pub(crate) tz: TimeZone,
    /// Where usage is read and alerts are recorded.
    pub(crate) store: Arc<dyn Store>,
    /// Prices for the estimates.
    pub(crate) prices: PriceTable,
    /// Who gets each new budget alert.
    pub(crate) alert_sinks: Vec<AlertSink>,
    /// Who gets each block change (none: blocks are not watched).
    pub(crate) block_sinks: Vec<BlockSink>,
}

impl Watch {
    /// The `[budget]` of `settings`, with no sink yet (the monitor runtime is given the budget
    /// on its own; the tests start from settings).
    #[cfg(test)]
    pub(crate) fn from_settings(
        settings: &Settings,
        store: Arc<dyn Store>,
        prices: &PriceTable,
    ) -> Watch {
        let config = &settings.budget.value;
        Watch {
            budget: config.budget.clone(),
            tz: config.time_zone(),
            store,
            prices: prices.clone(),
            alert_sinks: Vec::new(),
            block_sinks: Vec::new(),
        }
    }

    /// Starts the worker when there is something to watch for someone; returns the monitor
    /// callbacks that nudge it (none otherwise). Blocking: when blocks are watched, it first
    /// reads which block runs now.
    pub(crate) fn spawn(self) -> std::io::Result<(Vec<Callback>, Watcher)> {
        let alerts = !self.alert_sinks.is_empty() && has_period_limits(&self.budget);
        let blocks = !self.block_sinks.is_empty();
        if !alerts && !blocks {
            return Ok((Vec::new(), Watcher { thread: None }));
        }
        let mut worker = Worker {
            watch: self,
            alerts,
            blocks,
            running_block: None,
        };
        if blocks {
            // Learn which block runs before any usage of this monitor comes, so the first one
            // it brings is announced.
            worker.look_at_blocks(Timestamp::now(), false);
        }
        let (tx, rx) = sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("cclive-budget".into())
            .spawn(move || worker.run(&rx))?;
        // A first check at start: thresholds crossed while no monitor ran are announced now.
        let _ = tx.try_send(());
        Ok((
            vec![nudger(tx)],
            Watcher {
                thread: Some(thread),
            },
        ))
    }
}

/// The running worker. It stops after its last check once every callback [`Watch::spawn`]
/// returned is dropped (the pipeline stopped).
#[derive(Debug)]
pub(crate) struct Watcher {
    thread: Option<JoinHandle<()>>,
}

impl Watcher {
    /// Waits for the worker's last check (blocking); call it after the pipeline has stopped.
    pub(crate) fn join(self) {
        if let Some(thread) = self.thread
            && thread.join().is_err()
        {
            warn!("The budget watcher panicked.");
        }
    }
}

/// The sink that prints each alert on the monitor's stderr.
pub(crate) fn print_sink() -> AlertSink {
    Arc::new(|alert: &BudgetAlert| {
        warn!(
            threshold = alert.threshold_percent,
            period = alert.period.as_str(),
            "Budget alert."
        );
        eprintln!("cclive: budget: {}", alert.message());
    })
}

/// True when some day, week or month limit is set (a hard limit alone raises no alert).
fn has_period_limits(budget: &Budget) -> bool {
    Period::ALL
        .into_iter()
        .any(|p| budget.scopes().any(|(_, l)| l.for_period(p).is_some()))
}

/// What `/metrics` reads for its budget gauges: the status of every limit, evaluated (with the
/// same rules and usage as the alerts) at each scrape; `None` without a `[budget]` limit.
pub(crate) fn metric_source(
    settings: &Settings,
    store: Arc<dyn Store>,
    prices: &PriceTable,
) -> Option<cclive_server::BudgetSource> {
    let config = &settings.budget.value;
    if !has_period_limits(&config.budget) {
        return None;
    }
    let (budget, tz, prices) = (config.budget.clone(), config.time_zone(), prices.clone());
    Some(Arc::new(move || {
        statuses(&budget, &*store, &prices, &tz, Timestamp::now())
    }))
}

/// What the dashboard's limits panel reads (`/api/limits`): the 5-hour block running now, the
/// spend of the current day, week and month, and every limit's status — the figures `cclive top`
/// and `cclive budget` show, from the same core rules, computed per request.
pub(crate) fn limits_source(
    settings: &Settings,
    store: Arc<dyn Store>,
    prices: &PriceTable,
) -> cclive_server::LimitsSource {
    let config = &settings.budget.value;
    let (budget, tz, prices) = (config.budget.clone(), config.time_zone(), prices.clone());
    Arc::new(move |now| usage_limits(&budget, &*store, &prices, &tz, now))
}

/// The limits panel's figures at `now` (see [`limits_source`]): the periods' spend and the
/// limits' statuses from one read of the store's quarter-hour sums since the month's (or the
/// week's) start — the sums the checks read, not every response of the month — and the block
/// from the responses [`recent`](crate::history::usage_records::recent) reads for it.
fn usage_limits(
    budget: &Budget,
    store: &dyn Store,
    prices: &PriceTable,
    tz: &TimeZone,
    now: Timestamp,
) -> Result<cclive_server::UsageLimits, StoreError> {
    let windows: Vec<budget::Window> = Period::ALL
        .into_iter()
        .map(|p| budget::window(p, now, tz, budget.week_start))
        .collect();
    let since = windows.iter().map(|w| w.start).min().unwrap_or(now);
    let groups = spend_sums(budget, store, prices, tz, since)?;
    let periods = windows
        .into_iter()
        .map(|window| {
            let spent = budget::Spend::of_groups(&groups, &window, prices).total_usd;
            cclive_server::PeriodSpend {
                period: window.period,
                projected_usd: budget::project_to_end(spent, &window, now),
                spent_usd: spent,
                key: window.key,
                start: window.start,
                end: window.end,
            }
        })
        .collect();
    let records = crate::history::usage_records::recent(store, now, now)?;
    let opts = cclive_core::report::ReportOptions::new(tz.clone());
    let block = blocks::active_block(&records, &opts, prices, now, None);
    let budgets = if has_period_limits(budget) {
        budget::evaluate_groups(budget, &groups, now, tz, prices)
    } else {
        Vec::new()
    };
    Ok(cclive_server::UsageLimits {
        block,
        periods,
        budgets,
    })
}

/// The callback: nudges the worker when a session's usage changed.
fn nudger(tx: SyncSender<()>) -> Callback {
    let seen: Mutex<HashMap<SessionId, (u64, u64)>> = Mutex::new(HashMap::new());
    Arc::new(move |update: &Update| {
        let s = &update.session;
        let figures = (s.api_requests, s.tokens.total());
        let changed = {
            let mut seen = seen.lock().unwrap_or_else(PoisonError::into_inner);
            let changed = seen.get(&s.session_id) != Some(&figures);
            if update.kind == UpdateKind::Ended {
                seen.remove(&s.session_id);
            } else {
                seen.insert(s.session_id.clone(), figures);
            }
            changed
        };
        if changed && figures != (0, 0) {
            // A full channel already holds a nudge; a closed one means the worker is gone.
            match tx.try_send(()) {
                Ok(()) | Err(TrySendError::Full(())) => {}
                Err(TrySendError::Disconnected(())) => debug!("The budget worker is gone."),
            }
        }
    })
}

/// When the worker checks next.
#[derive(Clone, Copy, Debug)]
enum Next {
    /// Soon after a nudge.
    Debounced(Instant),
    /// Once more after a burst.
    Trailing(Instant),
    /// Only on a nudge (or at the running block's end).
    Idle,
}

struct Worker {
    watch: Watch,
    /// Budget limits are set and someone wants the alerts.
    alerts: bool,
    /// Someone wants block changes.
    blocks: bool,
    /// The block running at the last look.
    running_block: Option<BlockSpan>,
}

impl Worker {
    /// Until every nudger is dropped (the pipeline stopped); then one last check.
    fn run(mut self, rx: &Receiver<()>) {
        let mut next = Next::Debounced(Instant::now() + DEBOUNCE);
        loop {
            let due = match next {
                Next::Debounced(at) | Next::Trailing(at) => Some(at),
                Next::Idle => None,
            };
            let wake = match (due, self.block_end()) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let got = match wake {
                Some(at) => rx.recv_timeout(at.saturating_duration_since(Instant::now())),
                None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            };
            match got {
                // A nudge: check soon, unless a check is already due soon.
                Ok(()) => {
                    if !matches!(next, Next::Debounced(_)) {
                        next = Next::Debounced(Instant::now() + DEBOUNCE);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    self.check();
                    let now = Instant::now();
                    next = match next {
                        Next::Debounced(at) if at <= now => Next::Trailing(now + TRAILING),
                        Next::Trailing(at) if at <= now => Next::Idle,
                        // The running block's end came first.
                        other => other,
                    };
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.check();
                    return;
                }
            }
        }
    }

    /// When the running block's five hours are over, as an instant to wake at.
    fn block_end(&self) -> Option<Instant> {
        let end = self.running_block?.end;
        let left = end.duration_since(Timestamp::now());
        // An end already past means the last look failed: look again, but not in a tight loop.
        let wait =
            Duration::try_from(left).map_or(Duration::from_secs(10), |d| d + BLOCK_END_SLACK);
        Some(Instant::now() + wait)
    }

    fn check(&mut self) {
        let now = Timestamp::now();
        if self.alerts {
            let w = &self.watch;
            match check_once(&w.budget, &*w.store, &w.prices, &w.tz, now) {
                Ok(new) => {
                    for alert in &new {
                        for sink in &w.alert_sinks {
                            sink(alert);
                        }
                    }
                }
                Err(e) => warn!("Cannot check the budget: {e}"),
            }
        }
        if self.blocks {
            self.look_at_blocks(now, true);
        }
    }

    /// Finds the block running at `now`; with `tell`, sends what changed since the last look.
    fn look_at_blocks(&mut self, now: Timestamp, tell: bool) {
        let w = &self.watch;
        // Reaching back to the last block's start, so its end carries its figures.
        let since = self.running_block.map_or(now, |b| b.start);
        match crate::history::usage_records::recent(&*w.store, since, now) {
            Ok(records) => {
                let (running, changes) =
                    blocks::changes(self.running_block.as_ref(), &records, &w.prices, now);
                self.running_block = running;
                if tell {
                    for change in &changes {
                        for sink in &w.block_sinks {
                            sink(change);
                        }
                    }
                }
            }
            Err(e) => warn!("Cannot check the 5-hour block: {e}"),
        }
    }
}

/// The status of every limit at `now`, from the store.
pub(crate) fn statuses(
    budget: &Budget,
    store: &dyn Store,
    prices: &PriceTable,
    tz: &TimeZone,
    now: Timestamp,
) -> Result<Vec<BudgetStatus>, StoreError> {
    let earliest = Period::ALL
        .into_iter()
        .filter(|p| budget.scopes().any(|(_, l)| l.for_period(*p).is_some()))
        .map(|p| budget::window(p, now, tz, budget.week_start).start)
        .min();
    let Some(since) = earliest else {
        return Ok(Vec::new());
    };
    let groups = spend_sums(budget, store, prices, tz, since)?;
    Ok(budget::evaluate_groups(budget, &groups, now, tz, prices))
}

/// The store's sums per quarter hour since `since` (what reports read), as the budget's rules
/// price them: not every response of a month (a check follows every change, and a heavy month
/// holds tens of thousands of responses). Each sum carries its project only when a project has
/// a limit: that is every stored session read (on a long history, most of a check's time).
fn spend_sums(
    budget: &Budget,
    store: &dyn Store,
    prices: &PriceTable,
    tz: &TimeZone,
    since: Timestamp,
) -> Result<Vec<cclive_core::report::UsageGroup>, StoreError> {
    let per_project = budget.scopes().any(|(key, _)| key.is_some());
    let (groups, _) = crate::history::usage_records::load_groups(
        store,
        Some(since),
        None,
        tz,
        prices,
        per_project,
    )?;
    Ok(groups)
}

/// One check: the thresholds reached at `now`, recorded in the store; returns those that were
/// new (the ones to announce).
pub(crate) fn check_once(
    budget: &Budget,
    store: &dyn Store,
    prices: &PriceTable,
    tz: &TimeZone,
    now: Timestamp,
) -> Result<Vec<BudgetAlert>, StoreError> {
    let statuses = statuses(budget, store, prices, tz, now)?;
    let mut new = Vec::new();
    for alert in budget::alerts(&statuses, now) {
        if store.record_alert(&alert)? {
            new.push(alert);
        }
    }
    Ok(new)
}

#[cfg(test)]
mod tests {
    use cclive_core::budget::Limits;
    use cclive_core::{SessionState, Tokens};
    use cclive_store::{Batch, SqliteStore, UsageRow};

    use super::*;

    /// `usd` of sonnet output ($15 per million tokens) at `at`.
    fn spend(key: &str, at: &str, usd: u64) -> UsageRow {
        UsageRow {
            key: key.into(),
            session_id: SessionId::new("s"),
            at: at.parse().unwrap(),
            model: Some("claude-sonnet-4-5".into()),
            tokens: Tokens {
                output: usd * 1_000_000 / 15,
                ..Tokens::default()
            },
            sidechain: false,
        }
    }

    fn write(store: &SqliteStore, rows: Vec<UsageRow>) {
        store
            .write(&Batch {
                usage: rows,
                ..Batch::default()
            })
            .unwrap();
    }

    fn thresholds(alerts: &[BudgetAlert]) -> Vec<(Period, u8)> {
        alerts
            .iter()
            .map(|a| (a.period, a.threshold_percent))
            .collect()
    }

    /// A project's limit counts that project's usage only; the global limit counts all of it,
    /// with or without a project limit beside it.
    #[test]
    fn project_limits_see_their_projects_and_the_global_limit_everything() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("cclive.db")).unwrap();
        let at: Timestamp = "2026-09-03T08:00:00Z".parse().unwrap();
        let mut app = SessionState::new(SessionId::new("s"), at);
        app.project_path = Some("/home/me/app".into());
        let other = SessionState::new(SessionId::new("t"), at);
        let mut elsewhere = spend("m2", "2026-09-03T09:00:00Z", 3);
        elsewhere.session_id = SessionId::new("t");
        store
            .write(&Batch {
                sessions: vec![app, other],
                usage: vec![spend("m1", "2026-09-03T08:30:00Z", 6), elsewhere],
                ..Batch::default()
            })
            .unwrap();
        let daily = |usd| Limits {
            daily_usd: Some(usd),
            ..Limits::default()
        };
        let (prices, tz) = (PriceTable::builtin(), TimeZone::UTC);
        let now: Timestamp = "2026-09-03T10:00:00Z".parse().unwrap();
        let spent = |budget: &Budget| -> Vec<(Option<String>, f64)> {
            statuses(budget, &store, &prices, &tz, now)
                .unwrap()
                .into_iter()
                .map(|s| (s.project, s.spent_usd))
                .collect()
        };
        let global = Budget {
            limits: daily(10.0),
            ..Budget::default()
        };
        assert_eq!(spent(&global), [(None, 9.0)]);
        let with_project = Budget {
            projects: [("app".to_owned(), daily(5.0))].into(),
            ..global
        };
        assert_eq!(
            spent(&with_project),
            [(None, 9.0), (Some("app".to_owned()), 6.0)]
        );
    }

    /// A store at `dir` with usage around 2026-09-03T10:00Z (UTC windows): before the month,
    /// in it, in the week, today, tomorrow, in two projects, with prompts below and in a model's
    /// long-prompt tier; and a budget with a daily, weekly and monthly limit for everything and
    /// for each project.
    fn priced_corpus(dir: &std::path::Path) -> (SqliteStore, Budget) {
        let store = SqliteStore::open(&dir.join("cclive.db")).unwrap();
        let at: Timestamp = "2026-08-01T08:00:00Z".parse().unwrap();
        let mut app = SessionState::new(SessionId::new("s"), at);
        app.project_path = Some("/home/me/app".into());
        let mut lib = SessionState::new(SessionId::new("t"), at);
        lib.cwd = Some("/home/me/lib".into());
        let of = |session: &str, mut row: UsageRow| {
            row.session_id = SessionId::new(session);
            row
        };
        // The built-in table's model with a long-prompt tier (over 100k prompt tokens).
        let prompt = |key: &str, input: u64| {
            let mut row = spend(key, "2026-09-02T10:00:00Z", 1);
            row.model = Some("claude-haiku-5-5".into());
            row.tokens.input = input;
            row
        };
        let rows = vec![
            spend("july", "2026-07-31T23:59:59Z", 40),
            spend("month", "2026-09-01T00:00:00Z", 7),
            of("t", spend("week", "2026-08-31T12:00:00Z", 5)),
            // One prompt in the long-prompt tier, two below it whose sum would be.
            prompt("long", 150_000),
            prompt("short", 60_000),
            prompt("short-2", 60_000),
            of("t", spend("today", "2026-09-03T08:30:00Z", 6)),
            spend("today-2", "2026-09-03T09:45:00Z", 2),
            spend("tomorrow", "2026-09-04T00:00:00Z", 30),
        ];
        store
            .write(&Batch {
                sessions: vec![app, lib],
                usage: rows,
                ..Batch::default()
            })
            .unwrap();
        let limits = Limits {
            daily_usd: Some(10.0),
            weekly_usd: Some(50.0),
            monthly_usd: Some(100.0),
            ..Limits::default()
        };
        let budget = Budget {
            limits,
            projects: [("app".to_owned(), limits), ("lib".to_owned(), limits)].into(),
            ..Budget::default()
        };
        (store, budget)
    }

    /// `statuses` are `one_by_one`'s: the same scopes, periods and levels, in the same order, and
    /// the same spend.
    fn assert_statuses_alike(statuses: &[BudgetStatus], one_by_one: &[BudgetStatus]) {
        assert_eq!(statuses.len(), one_by_one.len());
        for (status, one_by_one) in statuses.iter().zip(one_by_one) {
            assert_eq!(
                (&status.project, status.period, status.level),
                (&one_by_one.project, one_by_one.period, one_by_one.level)
            );
            assert!(
                (status.spent_usd - one_by_one.spent_usd).abs() < 1e-6,
                "{status:?} against {one_by_one:?}"
            );
        }
    }

    /// The limits panel shows the figures of every response priced one by one: each period's
    /// spend, each limit's status, and the block running now as a read of the whole history
    /// finds it.
    #[test]
    fn the_limits_panel_shows_every_responses_figures() {
        let dir = tempfile::tempdir().unwrap();
        let (store, budget) = priced_corpus(dir.path());
        let (prices, tz) = (PriceTable::builtin(), TimeZone::UTC);
        let now: Timestamp = "2026-09-03T10:00:00Z".parse().unwrap();

        let shown = usage_limits(&budget, &store, &prices, &tz, now).unwrap();
        let (records, _) = crate::history::usage_records::load(&store, None, None).unwrap();
        assert_eq!(shown.periods.len(), 3);
        for period in &shown.periods {
            let window = budget::window(period.period, now, &tz, budget.week_start);
            let one_by_one = budget::Spend::of_records(&records, &window, &prices).total_usd;
            assert!(
                (period.spent_usd - one_by_one).abs() < 1e-6,
                "{:?}: {} against {one_by_one}",
                period.period,
                period.spent_usd
            );
        }
        let day = shown
            .periods
            .iter()
            .find(|p| p.period == Period::Day)
            .unwrap();
        assert!(
            (day.spent_usd - 8.0).abs() < 1e-4,
            "today's $6 and $2: {}",
            day.spent_usd
        );
        let priced_one_by_one = budget::evaluate(&budget, &records, now, &tz, &prices);
        assert_statuses_alike(&shown.budgets, &priced_one_by_one);
        let opts = cclive_core::report::ReportOptions::new(tz.clone());
        let block = blocks::active_block(&records, &opts, &prices, now, None);
        assert!(block.is_some(), "today's responses make a running block");
        assert_eq!(shown.block, block);
    }

    /// A check (and `cclive budget`) reads the store's quarter-hour sums; the prompt gate and
    /// the status line read its per-project, per-model sums of the window
    /// (`budget::spend::spend_in`); `cclive_core::budget::evaluate` prices every response. All
    /// three give the same figure per project and period: only a long prompt is priced in its
    /// tier (not two shorter ones whose sum is as long), and usage outside the windows is left
    /// out.
    #[test]
    fn a_checks_figures_equal_every_responses_and_the_sums_the_gate_reads() {
        let dir = tempfile::tempdir().unwrap();
        let (store, budget) = priced_corpus(dir.path());
        let (prices, tz) = (PriceTable::builtin(), TimeZone::UTC);
        let now: Timestamp = "2026-09-03T10:00:00Z".parse().unwrap();

        let checked = statuses(&budget, &store, &prices, &tz, now).unwrap();
        assert_eq!(checked.len(), 9, "three scopes, three periods");
        let (records, _) = crate::history::usage_records::load(&store, None, None).unwrap();
        let priced_one_by_one = budget::evaluate(&budget, &records, now, &tz, &prices);
        assert_statuses_alike(&checked, &priced_one_by_one);
        for status in &checked {
            let window = budget::window(status.period, now, &tz, budget.week_start);
            let summed = crate::budget::spend::spend_in(&store, &window, &prices)
                .unwrap()
                .of_scope(status.project.as_deref());
            assert!(
                (summed - status.spent_usd).abs() < 1e-6,
                "{status:?}: the sums say {summed}"
            );
        }
        let global_day = checked
            .iter()
            .find(|s| s.project.is_none() && s.period == Period::Day)
            .unwrap();
        // Today's two responses ($6 and $2, less what whole tokens round off).
        assert!((global_day.spent_usd - 8.0).abs() < 1e-4, "{global_day:?}");
    }

    /// Each threshold fires once per period, also after the monitor (and its store handle) is
    /// restarted; a new day starts over.
    #[test]
    fn thresholds_fire_once_per_period_across_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cclive.db");
        let budget = Budget {
            limits: Limits {
                daily_usd: Some(10.0),
                weekly_usd: Some(100.0),
                ..Limits::default()
            },
            ..Budget::default()
        };
        let prices = PriceTable::builtin();
        let tz = TimeZone::UTC;
        let check = |store: &SqliteStore, now: &str| {
            check_once(&budget, store, &prices, &tz, now.parse().unwrap()).unwrap()
        };

        let store = SqliteStore::open(&path).unwrap();
        write(&store, vec![spend("m1", "2026-09-03T08:00:00Z", 6)]);
        assert_eq!(
            thresholds(&check(&store, "2026-09-03T09:00:00Z")),
            [(Period::Day, 50)]
        );
        assert!(
            check(&store, "2026-09-03T09:01:00Z").is_empty(),
            "not twice"
        );
        write(&store, vec![spend("m2", "2026-09-03T09:30:00Z", 3)]);
        assert_eq!(
            thresholds(&check(&store, "2026-09-03T10:00:00Z")),
            [(Period::Day, 80)]
        );
        drop(store);

        // The monitor restarts: nothing new to say until the spend grows.
        let store = SqliteStore::open(&path).unwrap();
        assert!(check(&store, "2026-09-03T11:00:00Z").is_empty());
        write(&store, vec![spend("m3", "2026-09-03T11:30:00Z", 2)]);
        assert_eq!(
            thresholds(&check(&store, "2026-09-03T12:00:00Z")),
            [(Period::Day, 100)]
        );
        // The next day starts over for the day; the week (2026-08-31) is at 50 % now.
        write(&store, vec![spend("m4", "2026-09-04T08:00:00Z", 40)]);
        let next = check(&store, "2026-09-04T09:00:00Z");
        assert_eq!(
            thresholds(&next),
            [
                (Period::Day, 50),
                (Period::Day, 80),
                (Period::Day, 100),
                (Period::Week, 50)
            ]
        );
        assert_eq!(next[0].period_key, "2026-09-04");
        assert_eq!(store.alerts(None).unwrap().len(), 7);
    }

    fn settings_with(budget: Budget) -> Settings {
        let env = |k: &str| (k == "HOME").then(|| "/nonexistent-home".to_owned());
        let mut s = Settings::resolve(&crate::config::Inputs {
            listen: None,
            global: &crate::cli::GlobalArgs {
                config: None,
                ..Default::default()
            },
            session: None,
            env: &env,
        })
        .unwrap();
        s.budget.value.budget = budget;
        s.budget.value.timezone = Some("UTC".into());
        s
    }

    /// The callback nudges the worker only when usage changes; the worker announces the
    /// threshold once.
    #[test]
    fn the_monitor_callback_announces_a_new_threshold() {
        let store = Arc::new(SqliteStore::open_in_memory().unwrap());
        let now = Timestamp::now().to_string();
        write(&store, vec![spend("m1", &now, 9)]);
        let budget = Budget {
            limits: Limits {
                daily_usd: Some(10.0),
                ..Limits::default()
            },
            ..Budget::default()
        };
        let seen: Arc<Mutex<Vec<BudgetAlert>>> = Arc::default();
        let sink: AlertSink = {
            let seen = seen.clone();
            Arc::new(move |a: &BudgetAlert| seen.lock().unwrap().push(a.clone()))
        };
        let mut watch = Watch::from_settings(
            &settings_with(budget),
            store.clone(),
            &PriceTable::builtin(),
        );
        watch.alert_sinks = vec![sink];
        let (callbacks, watcher) = watch.spawn().unwrap();
        assert_eq!(callbacks.len(), 1);
        let mut session = SessionState::new(SessionId::new("s"), Timestamp::now());
        session.api_requests = 1;
        session.tokens.output = 600_000;
        let update = Update {
            kind: UpdateKind::Progress,
            previous_status: None,
            session,
        };
        callbacks[0](&update);
        callbacks[0](&update);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while seen.lock().unwrap().len() < 2 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        // Every later check (the trailing one, the last one) has run once the worker stops.
        drop(callbacks);
        watcher.join();
        let got: Vec<u8> = seen
            .lock()
            .unwrap()
            .iter()
            .map(|a| a.threshold_percent)
            .collect();
        assert_eq!(got, [50, 80], "each once");
    }

    #[test]
    fn nothing_to_watch_means_no_callbacks_and_no_thread() -> anyhow::Result<()> {
        let store = Arc::new(SqliteStore::open_in_memory().unwrap());
        let prices = PriceTable::builtin();
        let mut watch = Watch::from_settings(&settings_with(Budget::default()), store, &prices);
        watch.alert_sinks = vec![print_sink()];
        let (callbacks, watcher) = watch.spawn()?;
        assert!(callbacks.is_empty(), "no limit, no block sink");
        assert!(watcher.thread.is_none());
        Ok(())
    }

    /// A block sink learns of the block the monitor's first usage opens (not of one already
    /// running when it started), and the last usage before the monitor stops is still judged:
    /// the final check comes after the callbacks are dropped.
    #[test]
    fn block_changes_and_a_last_budget_check_reach_the_sinks() {
        let store = Arc::new(SqliteStore::open_in_memory().unwrap());
        let budget = Budget {
            limits: Limits {
                daily_usd: Some(10.0),
                ..Limits::default()
            },
            ..Budget::default()
        };
        let blocks_seen: Arc<Mutex<Vec<BlockEvent>>> = Arc::default();
        let alerts_seen: Arc<Mutex<Vec<u8>>> = Arc::default();
        let mut watch = Watch::from_settings(
            &settings_with(budget),
            store.clone(),
            &PriceTable::builtin(),
        );
        watch.block_sinks = vec![{
            let seen = blocks_seen.clone();
            Arc::new(move |b: &BlockEvent| seen.lock().unwrap().push(b.clone()))
        }];
        watch.alert_sinks = vec![{
            let seen = alerts_seen.clone();
            Arc::new(move |a: &BudgetAlert| seen.lock().unwrap().push(a.threshold_percent))
        }];
        let (callbacks, watcher) = watch.spawn().unwrap();
        // Usage arrives and the monitor stops at once, before the first debounce is over.
        write(&store, vec![spend("m1", &Timestamp::now().to_string(), 6)]);
        let mut session = SessionState::new(SessionId::new("s"), Timestamp::now());
        session.api_requests = 1;
        callbacks[0](&Update {
            kind: UpdateKind::Progress,
            previous_status: None,
            session,
        });
        drop(callbacks);
        watcher.join();
        let blocks = blocks_seen.lock().unwrap();
        assert_eq!(blocks.len(), 1, "{blocks:?}");
        assert_eq!(blocks[0].change, cclive_core::blocks::BlockChange::Started);
        assert_eq!(blocks[0].messages, 1);
        assert!(blocks[0].span.contains(Timestamp::now()));
        assert_eq!(*alerts_seen.lock().unwrap(), [50]);
    }

    #[test]
    fn a_block_running_when_the_watcher_starts_is_not_announced() {
        let store = Arc::new(SqliteStore::open_in_memory().unwrap());
        write(&store, vec![spend("m0", &Timestamp::now().to_string(), 1)]);
        let seen: Arc<Mutex<Vec<BlockEvent>>> = Arc::default();
        let mut watch = Watch::from_settings(
            &settings_with(Budget::default()),
            store,
            &PriceTable::builtin(),
        );
        watch.block_sinks = vec![{
            let seen = seen.clone();
            Arc::new(move |b: &BlockEvent| seen.lock().unwrap().push(b.clone()))
        }];
        let (callbacks, watcher) = watch.spawn().unwrap();
        assert_eq!(callbacks.len(), 1);
        drop(callbacks);
        watcher.join();
        assert!(
            seen.lock().unwrap().is_empty(),
            "{:?}",
            seen.lock().unwrap()
        );
    }
}
