//! Budget alerts in the running monitor: a pipeline [`Callback`] that notices spend changing and
//! a worker thread that checks the `[budget]` limits against the store.
//!
//! Why a thread: the callback runs on the monitor task and must stay quick, while a check reads
//! a month of usage from the database. The callback only nudges the worker when a session's
//! usage changed (not on the one-second ticks); the worker waits [`DEBOUNCE`] (so the store
//! writer, which flushes every 100 ms, has committed the usage that caused the nudge), checks,
//! and checks once more [`TRAILING`] later to catch the last batch of a burst.
//!
//! A check computes [`cclive_core::budget::evaluate`] and offers every threshold reached to
//! [`Store::record_alert`]; only alerts the store did not have yet go to the sinks. That is what
//! makes each threshold fire once per period, across monitor restarts (and several monitors).
//! The default sink prints the alert's line on stderr; later notification sinks (webhooks, exec
//! hooks) subscribe by passing their own [`AlertSink`] to [`callbacks_with`].
//!
//! Wiring (in `cmd/watch.rs`, the `PipelineConfig`'s callbacks):
//! `callbacks: [vec![publish], crate::budget_watch::callbacks(&settings, store.clone(),
//! &prices)?].concat(),`

// Until `cmd/watch.rs` calls `callbacks` (the wiring above), only tests use this module.
#![allow(
    dead_code,
    reason = "wired into `cclive watch` by its owner; see the module docs"
)]

use std::collections::HashMap;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use cclive_core::budget::{self, Budget, BudgetAlert, BudgetStatus, Period};
use cclive_core::{PriceTable, SessionId, Update, UpdateKind};
use cclive_store::{Store, StoreError};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use tracing::{debug, warn};

use crate::config::Settings;
use crate::pipeline::Callback;

/// Receives each new budget alert (once per threshold per period).
pub(crate) type AlertSink = Arc<dyn Fn(&BudgetAlert) + Send + Sync>;

/// How long the worker waits after a nudge before it checks.
pub(crate) const DEBOUNCE: Duration = Duration::from_millis(500);

/// After a check, how long the worker waits for more usage before its last check of a burst.
pub(crate) const TRAILING: Duration = Duration::from_secs(2);

/// The monitor callbacks that raise budget alerts on stderr; none without a `[budget]` limit.
pub(crate) fn callbacks(
    settings: &Settings,
    store: Arc<dyn Store>,
    prices: &PriceTable,
) -> anyhow::Result<Vec<Callback>> {
    callbacks_with(settings, store, prices, vec![print_sink()])
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

/// Like [`callbacks`], sending each new alert to `sinks` instead.
pub(crate) fn callbacks_with(
    settings: &Settings,
    store: Arc<dyn Store>,
    prices: &PriceTable,
    sinks: Vec<AlertSink>,
) -> anyhow::Result<Vec<Callback>> {
    let config = &settings.budget.value;
    if !has_period_limits(&config.budget) {
        return Ok(Vec::new());
    }
    let worker = Worker {
        budget: config.budget.clone(),
        tz: config.time_zone(),
        store,
        prices: prices.clone(),
        sinks,
    };
    let (tx, rx) = sync_channel::<()>(1);
    std::thread::Builder::new()
        .name("cclive-budget".into())
        .spawn(move || worker.run(&rx))?;
    // A first check at start: thresholds crossed while no monitor ran are announced now.
    let _ = tx.try_send(());
    Ok(vec![nudger(tx)])
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

struct Worker {
    budget: Budget,
    tz: TimeZone,
    store: Arc<dyn Store>,
    prices: PriceTable,
    sinks: Vec<AlertSink>,
}

impl Worker {
    /// Until every nudger is dropped (the pipeline stopped).
    fn run(&self, rx: &Receiver<()>) {
        while rx.recv().is_ok() {
            loop {
                std::thread::sleep(DEBOUNCE);
                while rx.try_recv().is_ok() {}
                self.check();
                match rx.recv_timeout(TRAILING) {
                    Ok(()) => {}
                    Err(RecvTimeoutError::Timeout) => {
                        self.check();
                        break;
                    }
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            }
        }
    }

    fn check(&self) {
        let now = Timestamp::now();
        match check_once(&self.budget, &*self.store, &self.prices, &self.tz, now) {
            Ok(new) => {
                for alert in &new {
                    for sink in &self.sinks {
                        sink(alert);
                    }
                }
            }
            Err(e) => warn!("Cannot check the budget: {e}"),
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
    let (records, _) = crate::usage_records::load(store, Some(since), None)?;
    Ok(budget::evaluate(budget, &records, now, tz, prices))
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
        let callbacks = callbacks_with(
            &settings_with(budget),
            store.clone(),
            &PriceTable::builtin(),
            vec![sink],
        )
        .unwrap();
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
        std::thread::sleep(DEBOUNCE * 2);
        let got: Vec<u8> = seen
            .lock()
            .unwrap()
            .iter()
            .map(|a| a.threshold_percent)
            .collect();
        assert_eq!(got, [50, 80], "each once");
    }

    /// Also the shape of the wiring line `cmd/watch.rs` uses: the monitor's own callbacks plus
    /// these, with its `Arc<SqliteStore>`.
    #[test]
    fn no_limits_means_no_callbacks() -> anyhow::Result<()> {
        let store = Arc::new(SqliteStore::open_in_memory().unwrap());
        let prices = PriceTable::builtin();
        let settings = settings_with(Budget::default());
        let publish: Callback = Arc::new(|_: &Update| {});
        let all = [
            vec![publish],
            crate::budget_watch::callbacks(&settings, store.clone(), &prices)?,
        ]
        .concat();
        assert_eq!(all.len(), 1);
        Ok(())
    }
}
