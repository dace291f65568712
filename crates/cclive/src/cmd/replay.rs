//! `cclive replay SESSION_ID [--speed 10] [--max-gap SECS]`: plays a recorded session again into
//! the running monitor, so a dashboard shows it unfold.
//!
//! The session's stored events are sent to the monitor's `/api/events` as a NEW session,
//! `replay-<original id>-<8 hex>`, paced by their original timestamps divided by `--speed` and
//! re-stamped from now on. It is marked as a replay: its `SessionStarted` events say `source:
//! "replay"` and `session_type: "replay"`, and its API responses get keys of their own
//! (`<replay id>:<message id>`), so the replay shows the original's totals without taking over
//! the original's usage (the monitor keeps a replay's usage out of the per-response table that
//! reports are built from). The last of its events ends it as the original ended; a replay of a
//! session that was still live is ended when the events run out, and Ctrl-C or SIGTERM ends it
//! `INTERRUPTED`. Without a monitor answering there is nowhere to play to: that is an error.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use cclive_core::{Event, EventKind, SessionId, SessionState, Source};
use cclive_store::Store;
use jiff::{SignedDuration, Timestamp};

use crate::cli::ReplayArgs;
use crate::config::Settings;
use crate::monitor::client as monitor_client;

/// Most events in one POST.
const BATCH: usize = 500;
/// Events due this close together go in one POST.
const COALESCE: Duration = Duration::from_millis(5);
/// Time one POST may take.
const POST_DEADLINE: Duration = Duration::from_secs(10);
/// The `session_type` of a replayed session (its source is [`Source::Replay`]).
pub(crate) const REPLAY: &str = "replay";

/// Replays the session.
pub(super) fn run(args: &ReplayArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    let Some(store) = settings.open_existing_store()? else {
        bail!(
            "no history at {}: nothing to replay",
            settings.db.value.display()
        );
    };
    let id = crate::history::export::resolve_session(&*store, &args.session)?;
    let original = store
        .session(&id)?
        .with_context(|| format!("session {id} vanished while reading it"))?;
    let events = store.events(&id)?;
    if events.is_empty() {
        bail!(
            "session {id} has no recorded events to replay (sessions read from transcripts by `cclive import` keep their totals, not their events)"
        );
    }
    let listen = settings.listen.value.clone();
    let token = settings.client_token().map(str::to_owned);
    monitor_client::monitor_answers(&listen, token.as_deref(), Duration::from_secs(2)).map_err(|e| {
        anyhow!(
            "no cclive monitor answers at http://{listen} ({e}); start one with `cclive watch` or `cclive dashboard`, or name its address with --listen"
        )
    })?;

    let new_id = replay_id(&id);
    let plan = plan(
        &original,
        &events,
        &new_id,
        args.speed,
        args.max_gap
            .map(|s| SignedDuration::from_millis(millis_of(s))),
        Timestamp::now(),
    );
    let length = plan.last().map_or(Duration::ZERO, |p| p.due);
    eprintln!(
        "cclive: replaying {id} as {new_id} into http://{listen}: {} events over {}",
        plan.len(),
        crate::output::display::duration_ms(u64::try_from(length.as_millis()).unwrap_or(u64::MAX))
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let played = runtime.block_on(play(&listen, token.as_deref(), &new_id, plan))?;
    match played {
        Played::All(n) => eprintln!("cclive: replayed {n} events"),
        Played::Stopped(n) => {
            eprintln!("cclive: stopped after {n} events; the replay is marked INTERRUPTED");
        }
    }
    println!("{new_id}");
    Ok(ExitCode::SUCCESS)
}

/// `seconds` as whole milliseconds (validated positive and bounded by the CLI).
fn millis_of(seconds: f64) -> i64 {
    // Bounded to 1e6 s by the CLI parser, so this fits.
    #[allow(clippy::cast_possible_truncation)]
    let ms = (seconds * 1000.0).round() as i64;
    ms.max(0)
}

/// `start + due`, saturating at the end of time.
fn stamp(start: Timestamp, due: SignedDuration) -> Timestamp {
    start.checked_add(due).unwrap_or(Timestamp::MAX)
}

/// A fresh id for a replay of `original`.
pub(crate) fn replay_id(original: &SessionId) -> SessionId {
    let short = uuid::Uuid::new_v4().simple().to_string();
    SessionId::new(format!("{REPLAY}-{original}-{}", &short[..8]))
}

/// One event to send, and when (from the start of the replay).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Planned {
    /// Time from the start.
    pub(crate) due: Duration,
    /// The rewritten event.
    pub(crate) event: Event,
}

/// The replay of `events` (the stored events of `original`) as session `new_id`, starting at
/// `start`: each event due at its original offset from the first one divided by `speed`
/// (never earlier than the one before; pauses capped at `max_gap`), re-stamped
/// `start + due`, and rewritten as a replay (see the module docs).
pub(crate) fn plan(
    original: &SessionState,
    events: &[Event],
    new_id: &SessionId,
    speed: f64,
    max_gap: Option<SignedDuration>,
    start: Timestamp,
) -> Vec<Planned> {
    let mut out = Vec::with_capacity(events.len() + 2);
    let Some(first) = events.first() else {
        return out;
    };
    // A session whose first recorded event is not its start gets one, so the replay is marked
    // from its first event on.
    if !matches!(first.kind, EventKind::SessionStarted { .. }) {
        out.push(Planned {
            due: Duration::ZERO,
            event: Event::new(
                new_id.clone(),
                start,
                EventKind::SessionStarted {
                    mode: original.mode,
                    command: original.command.clone(),
                    cwd: original.cwd.clone(),
                    project_path: original.project_path.clone(),
                    session_type: Some(REPLAY.into()),
                    source: Source::Replay,
                },
            ),
        });
    }
    let mut latest = first.at;
    let mut due = SignedDuration::ZERO;
    let mut first_start = true;
    for event in events {
        let gap = event.at.duration_since(latest).max(SignedDuration::ZERO);
        let mut scaled = gap.div_f64(speed);
        if let Some(cap) = max_gap {
            scaled = scaled.min(cap);
        }
        due = due.saturating_add(scaled);
        latest = latest.max(event.at);
        let kind = match &event.kind {
            EventKind::SessionStarted {
                mode,
                command,
                cwd,
                project_path,
                ..
            } => {
                // The first start decides the mode: give it the one the original ended with.
                let mode = if first_start { original.mode } else { *mode };
                first_start = false;
                EventKind::SessionStarted {
                    mode,
                    command: command.clone(),
                    cwd: cwd.clone(),
                    project_path: project_path.clone(),
                    session_type: Some(REPLAY.into()),
                    source: Source::Replay,
                }
            }
            EventKind::Usage {
                key,
                reported_cost_usd,
                model,
                tokens,
                is_final,
                sidechain,
                ..
            } => EventKind::Usage {
                // A copy under new keys, linked to nothing: the originals stay counted once.
                key: format!("{new_id}:{key}"),
                request_id: None,
                reported_cost_usd: *reported_cost_usd,
                model: model.clone(),
                tokens: *tokens,
                is_final: *is_final,
                sidechain: *sidechain,
            },
            other => other.clone(),
        };
        out.push(Planned {
            due: due.unsigned_abs(),
            event: Event::new(new_id.clone(), stamp(start, due), kind),
        });
    }
    if original.status.is_live() {
        out.push(Planned {
            due: due.unsigned_abs(),
            event: Event::new(
                new_id.clone(),
                stamp(start, due),
                EventKind::SessionEnded {
                    reason: Some("replay finished".into()),
                },
            ),
        });
    }
    out
}

/// How far a replay got.
enum Played {
    /// Every event was sent.
    All(usize),
    /// Stopped by a signal after this many.
    Stopped(usize),
}

/// Sends the plan, on time, until done or interrupted.
async fn play(
    listen: &str,
    token: Option<&str>,
    new_id: &SessionId,
    plan: Vec<Planned>,
) -> anyhow::Result<Played> {
    let start = tokio::time::Instant::now();
    let total = plan.len();
    let mut sent = 0;
    let mut pending = plan.into_iter().peekable();
    let mut stop = std::pin::pin!(crate::monitor::runtime::shutdown_signal());
    while let Some(next) = pending.next() {
        tokio::select! {
            () = tokio::time::sleep_until(start + next.due) => {}
            () = &mut stop => {
                let at = Timestamp::now();
                post(listen, token, &[Event::new(
                    new_id.clone(),
                    at,
                    EventKind::Interrupted { signal: Some("replay stopped".into()) },
                )])
                .await
                .with_context(|| format!("marking {new_id} interrupted"))?;
                return Ok(Played::Stopped(sent));
            }
        }
        let mut batch = vec![next.event];
        while batch.len() < BATCH {
            match pending.peek() {
                Some(p)
                    if p.due <= next.due + COALESCE
                        || start + p.due <= tokio::time::Instant::now() =>
                {
                    batch.extend(pending.next().map(|p| p.event));
                }
                _ => break,
            }
        }
        post(listen, token, &batch).await.with_context(|| {
            format!("the monitor at http://{listen} stopped taking the replay after {sent} of {total} events")
        })?;
        sent += batch.len();
    }
    Ok(Played::All(sent))
}

/// POSTs events to the monitor.
async fn post(listen: &str, token: Option<&str>, events: &[Event]) -> anyhow::Result<()> {
    let body = serde_json::to_vec(events)?;
    let (listen, token) = (listen.to_owned(), token.map(str::to_owned));
    let response = tokio::task::spawn_blocking(move || {
        monitor_client::post_json(
            &listen,
            token.as_deref(),
            "/api/events",
            &body,
            POST_DEADLINE,
        )
    })
    .await
    .context("the sender thread failed")??;
    if !response.is_success() {
        bail!(
            "it answered HTTP {}: {}",
            response.status,
            String::from_utf8_lossy(&response.body).trim()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use cclive_core::{Mode, Monitor, PriceTable, Status, Tokens};

    use super::*;

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_millisecond(1_800_000_000_000 + ms).unwrap()
    }

    fn recorded() -> (SessionState, Vec<Event>) {
        let id = SessionId::new("orig");
        let kinds = [
            (
                0,
                EventKind::SessionStarted {
                    mode: Mode::Print,
                    command: Some("claude -p hi".into()),
                    cwd: Some("/p".into()),
                    project_path: Some("/p".into()),
                    session_type: Some("review".into()),
                    source: "wrapper".into(),
                },
            ),
            (
                1000,
                EventKind::PromptSubmitted {
                    id: None,
                    preview: Some("hi".into()),
                },
            ),
            (
                3000,
                EventKind::Usage {
                    key: "msg_1".into(),
                    request_id: None,
                    reported_cost_usd: None,
                    model: Some("claude-opus-5-5".into()),
                    tokens: Tokens {
                        input: 100,
                        output: 20,
                        cache_read: 0,
                        cache_creation: 0,
                        ..Tokens::default()
                    },
                    is_final: true,
                    sidechain: false,
                },
            ),
            // Out of order (a source stamped it earlier): it does not move the clock back.
            (2500, EventKind::Title { title: "t".into() }),
            (
                13_000,
                EventKind::ProcessExited {
                    code: Some(0),
                    signal: None,
                },
            ),
        ];
        let events: Vec<Event> = kinds
            .into_iter()
            .map(|(ms, k)| Event::new(id.clone(), at(ms), k))
            .collect();
        let mut monitor = Monitor::new(PriceTable::builtin());
        for e in &events {
            monitor.apply(e);
        }
        (monitor.session(&id).unwrap().clone(), events)
    }

    #[test]
    fn timing_is_scaled_and_events_are_restamped_from_now() {
        let (original, events) = recorded();
        let new_id = SessionId::new("replay-orig-1");
        let start = at(1_000_000);
        let plan = plan(&original, &events, &new_id, 10.0, None, start);
        let dues: Vec<u128> = plan.iter().map(|p| p.due.as_millis()).collect();
        assert_eq!(dues, [0, 100, 300, 300, 1300]);
        assert!(plan.iter().all(|p| p.event.session_id == new_id));
        assert_eq!(plan[4].event.at, at(1_001_300));
    }

    #[test]
    fn long_pauses_can_be_capped() {
        let (original, events) = recorded();
        let plan = plan(
            &original,
            &events,
            &SessionId::new("r"),
            1.0,
            Some(SignedDuration::from_millis(1500)),
            at(0),
        );
        let dues: Vec<u128> = plan.iter().map(|p| p.due.as_millis()).collect();
        assert_eq!(dues, [0, 1000, 2500, 2500, 4000]);
    }

    #[test]
    fn the_replay_is_marked_and_reproduces_the_totals_with_keys_of_its_own() {
        let (original, events) = recorded();
        let new_id = replay_id(&original.session_id);
        assert!(new_id.as_str().starts_with("replay-orig-"));
        let plan = plan(&original, &events, &new_id, 100.0, None, at(50_000));
        // Folded into a monitor that still holds the original, as a dashboard would.
        let mut monitor = Monitor::new(PriceTable::builtin());
        for e in &events {
            monitor.apply(e);
        }
        for p in &plan {
            monitor.apply(&p.event);
        }
        let replayed = monitor.session(&new_id).unwrap();
        assert_eq!(replayed.source, Source::Replay);
        assert_eq!(replayed.session_type.as_deref(), Some(REPLAY));
        assert_eq!(replayed.status, Status::Completed);
        assert_eq!(replayed.tokens, original.tokens);
        assert_eq!(replayed.total_cost_usd, original.total_cost_usd);
        assert_eq!(replayed.num_turns, original.num_turns);
        assert_eq!(replayed.mode, original.mode);
        let original_after = monitor.session(&original.session_id).unwrap();
        assert_eq!(
            original_after.tokens, original.tokens,
            "the original is untouched"
        );
    }

    #[test]
    fn a_replay_of_a_live_session_ends_and_one_without_a_start_gets_one() {
        let (mut original, events) = recorded();
        original.status = Status::Active;
        let plan = plan(
            &original,
            &events[1..4],
            &SessionId::new("r"),
            1.0,
            None,
            at(0),
        );
        assert!(matches!(
            plan.first().unwrap().event.kind,
            EventKind::SessionStarted {
                source: Source::Replay,
                ..
            }
        ));
        assert!(matches!(
            plan.last().unwrap().event.kind,
            EventKind::SessionEnded { .. }
        ));
        assert_eq!(plan.len(), 5);
    }
}
