//! `cclive top`: a terminal dashboard (ratatui) — live sessions with the web cards' figures, the
//! 5-hour block, today / this week / this month against the budget, cost over the last hours,
//! the recent sessions, and a session's turn list.
//!
//! Layout, so the screen can be tested without a terminal:
//! - [`app`]: the state and what keys and messages do to it (pure).
//! - [`view`]: draws an [`app::App`] into any ratatui backend (`TestBackend` in tests).
//! - [`data`]: the store's figures ([`data::History`]), computed by the core's report, block and
//!   budget functions; [`turns`]: a session's turn list (the core's turns) from its events.
//! - `stream`: follows a running monitor's live stream (server-sent events) on a thread;
//!   `runner`: the monitor in this process when none runs.
//! - `run_terminal`: the thin runtime — raw mode and the alternate screen, restored on quit,
//!   on error and on panic; keys, messages and a one-second tick.
//!
//! It never prints while the screen is up: logs go to a file (`cmd/top.rs` sets that up).

pub mod app;
pub mod data;
pub(crate) mod runner;
pub(crate) mod stream;
pub mod turns;
pub mod view;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use cclive_core::budget::Budget;
use cclive_core::{PriceTable, SessionId};
use cclive_store::Store;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use ratatui::crossterm::event::{self, Event as TermEvent};

use self::app::{Action, App, Msg};
use self::data::History;
use crate::history::session_events::session_events;

/// After a signal, how long the screen has to stop before the process exits anyway (longer
/// than the in-process monitor's final write).
const FORCED_EXIT: Duration = Duration::from_secs(8);
/// How often the clock (durations, time left) moves on screen.
const TICK: Duration = Duration::from_secs(1);
/// The store is read again at least this often.
const HISTORY_EVERY: Duration = Duration::from_secs(10);
/// After live changes, the store is read again after this pause (the monitor's writer flushes
/// every 100 ms), and not more often than [`HISTORY_MIN_GAP`].
const HISTORY_DEBOUNCE: Duration = Duration::from_millis(500);
const HISTORY_MIN_GAP: Duration = Duration::from_secs(2);

/// What the store reader is asked for.
#[derive(Debug)]
pub(crate) enum Request {
    /// Read the figures again (live changes happened).
    Refresh,
    /// Read a session's turn list.
    Turns(SessionId),
}

/// Reads the store on a thread: figures on request (debounced) and every [`HISTORY_EVERY`],
/// turn lists on request. Without a store it sends empty figures once.
pub(crate) fn spawn_reader(
    store: Option<Arc<dyn Store>>,
    budget: Budget,
    prices: PriceTable,
    tz: TimeZone,
    tx: Sender<Msg>,
) -> anyhow::Result<Sender<Request>> {
    let (requests, rx) = std::sync::mpsc::channel::<Request>();
    std::thread::Builder::new()
        .name("cclive-top-reader".into())
        .spawn(move || reader(store.as_deref(), &budget, &prices, &tz, &rx, &tx))
        .context("starting the history reader")?;
    Ok(requests)
}

fn reader(
    store: Option<&dyn Store>,
    budget: &Budget,
    prices: &PriceTable,
    tz: &TimeZone,
    rx: &Receiver<Request>,
    tx: &Sender<Msg>,
) {
    let load = || -> Msg {
        let now = Timestamp::now();
        let history = match store {
            None => Ok(History::empty(now, tz)),
            Some(store) => History::load(store, budget, prices, tz, now),
        };
        match history {
            Ok(h) => Msg::History(Box::new(h)),
            Err(e) => {
                tracing::warn!("Cannot read the history: {e}");
                Msg::Notice(format!("cannot read the history: {e}"))
            }
        }
    };
    if tx.send(load()).is_err() {
        return;
    }
    let mut last = Instant::now();
    let mut owed = false;
    loop {
        let wait = if owed {
            HISTORY_DEBOUNCE.max(HISTORY_MIN_GAP.saturating_sub(last.elapsed()))
        } else {
            HISTORY_EVERY.saturating_sub(last.elapsed())
        };
        let request = match rx.recv_timeout(wait) {
            Ok(r) => Some(r),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        match request {
            Some(Request::Refresh) => {
                owed = true;
                continue;
            }
            Some(Request::Turns(id)) => {
                let result = match store {
                    None => Err("no history database yet".to_owned()),
                    Some(store) => session_events(store, &id, &mut None)
                        .map(|events| turns::build(&events, prices))
                        .map_err(|e| e.to_string()),
                };
                let msg = Msg::Turns {
                    session_id: id,
                    result,
                };
                if tx.send(msg).is_err() {
                    return;
                }
                continue;
            }
            None => {}
        }
        owed = false;
        last = Instant::now();
        if tx.send(load()).is_err() {
            return;
        }
    }
}

/// Sends [`Msg::Quit`] on SIGTERM, SIGHUP or SIGINT, so the terminal is restored and the
/// monitor's last state written before exiting. Once a handler is installed the default action
/// (death) is gone, so this never stops listening, and exits the process itself when the screen
/// has not stopped [`FORCED_EXIT`] after a signal (a terminal that went away can leave the
/// keyboard reader spinning).
pub(crate) fn spawn_signal_watch(tx: Sender<Msg>) {
    let spawned = std::thread::Builder::new()
        .name("cclive-top-signals".into())
        .spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                use tokio::signal::unix::{SignalKind, signal};
                let (Ok(mut term), Ok(mut hup), Ok(mut int)) = (
                    signal(SignalKind::terminate()),
                    signal(SignalKind::hangup()),
                    signal(SignalKind::interrupt()),
                ) else {
                    return;
                };
                let mut deadline: Option<tokio::time::Instant> = None;
                loop {
                    let forced = async {
                        match deadline {
                            Some(d) => tokio::time::sleep_until(d).await,
                            None => std::future::pending().await,
                        }
                    };
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = hup.recv() => {}
                        _ = int.recv() => {}
                        () = forced => {
                            tracing::warn!("The screen did not stop after a signal; exiting.");
                            ratatui::restore();
                            std::process::exit(1);
                        }
                    }
                    let _ = tx.send(Msg::Quit);
                    deadline.get_or_insert_with(|| tokio::time::Instant::now() + FORCED_EXIT);
                }
            });
        });
    if let Err(e) = spawned {
        tracing::warn!("No signal watch: {e}");
    }
}

/// Reads the keyboard on its own thread, into the same queue as the data: the screen's loop
/// then never sits inside the terminal library (which can spin on a terminal that went away).
fn spawn_input(tx: Sender<Msg>) -> anyhow::Result<()> {
    std::thread::Builder::new()
        .name("cclive-top-input".into())
        .spawn(move || {
            loop {
                let msg = match event::read() {
                    Ok(TermEvent::Key(key)) => Msg::Key(key),
                    Ok(TermEvent::Resize(..)) => Msg::Resize,
                    Ok(_) => continue,
                    Err(e) => {
                        tracing::warn!("Cannot read the keyboard: {e}");
                        let _ = tx.send(Msg::Quit);
                        return;
                    }
                };
                if tx.send(msg).is_err() {
                    return;
                }
            }
        })
        .context("starting the keyboard reader")?;
    Ok(())
}

/// Restores the terminal when dropped (quit, error or unwinding panic).
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        ratatui::restore();
    }
}

/// Runs the screen until `q` (or a signal): draws `app`, feeds it keys and messages, asks the
/// reader for what keys need. The terminal is restored however this returns (`ratatui::init`
/// also restores it before a panic message is printed). `tx` is the queue `messages` reads,
/// for the keyboard reader.
pub(crate) fn run_terminal(
    mut app: App,
    tx: Sender<Msg>,
    messages: &Receiver<Msg>,
    requests: &Sender<Request>,
) -> anyhow::Result<()> {
    let mut terminal = ratatui::try_init().context("setting up the terminal")?;
    let _restore = Restore;
    spawn_input(tx)?;
    let mut dirty = true;
    let mut last_tick = Instant::now();
    // Per session: the figures that change what the store holds (not the ticking duration).
    let mut seen: HashMap<SessionId, (u64, u64, &'static str)> = HashMap::new();
    loop {
        if dirty {
            terminal
                .draw(|frame| view::render(frame, &app))
                .context("drawing the screen")?;
            dirty = false;
        }
        let wait = TICK.saturating_sub(last_tick.elapsed());
        let first = match messages.recv_timeout(wait) {
            Ok(msg) => Some(msg),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => return Ok(()),
        };
        let mut live_changed = false;
        for msg in first
            .into_iter()
            .chain(std::iter::from_fn(|| messages.try_recv().ok()))
        {
            dirty = true;
            match &msg {
                Msg::Key(key) => match app.on_key(*key) {
                    Action::Quit => return Ok(()),
                    Action::LoadTurns(id) => {
                        let _ = requests.send(Request::Turns(id));
                    }
                    Action::None => {}
                },
                Msg::Update(u) => {
                    let s = &u.session;
                    let figures = (s.api_requests, s.tokens.total(), s.status.as_str());
                    live_changed |= seen.insert(s.session_id.clone(), figures) != Some(figures);
                }
                // The in-process monitor finished reading the history: show it.
                Msg::Source(app::Source::Own { catching_up: false }) => live_changed = true,
                _ => {}
            }
            if app.apply(msg) {
                return Ok(());
            }
        }
        if live_changed {
            let _ = requests.send(Request::Refresh);
        }
        if last_tick.elapsed() >= TICK {
            last_tick = Instant::now();
            app.apply(Msg::Tick(Timestamp::now()));
            dirty = true;
        }
    }
}
