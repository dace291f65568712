//! Is a session's claude still running? The signals, strongest first, and what they decide.
//!
//! 1. Claude Code 2.1.x's registry, `<config dir>/sessions/<pid>.json`: the session id and a
//!    status (busy / idle / waiting) rewritten on every change, deleted on a clean exit — but
//!    left behind, still "busy", after a SIGKILL. So an entry counts only while its pid is alive
//!    AND the process's start time (`/proc/<pid>/stat` field 22) equals the entry's `procStart`
//!    (which also defeats pid reuse). Entry alive → `Activity`; entry deleted → `SessionEnded`;
//!    entry left by a dead process → `ProcessGone`.
//! 2. Hooks (received elsewhere) say busy/idle/ended as they happen.
//! 3. Claude Code 1.0.x has no registry: a `node` process named `claude` whose cwd is the
//!    session's cwd keeps it alive (with several sessions in one cwd, the most recently active
//!    ones, one per such process).
//!
//! A live session that none of these vouch for, and that is older than [`GRACE`], is gone:
//! `ProcessGone` ends it at its last record, `INTERRUPTED` when its records leave a turn open
//! and `COMPLETED` otherwise (`SessionState::turn_open`, the one rule). Transcript activity alone never decides liveness: nothing is written while a
//! reply streams or a long tool runs. Sessions wrapped by `cclive run` are left to their wrapper.
//!
//! A session known only from Claude Code's telemetry (source `otel`, usually another machine's)
//! has no process here to look at: it ends `COMPLETED` after [`TELEMETRY_QUIET`] without news,
//! and a new prompt makes it live again.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cclive_core::event::Activity;
use cclive_core::registry::{self, Liveness, RegistryEntry};
use cclive_core::{Event, EventKind, Mode, PriceTable, SessionId, SessionState, Source};
use cclive_server::IngestCounters;
use cclive_store::{Batch, SessionQuery, Store};
use jiff::Timestamp;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::monitor::pipeline::EventSink;

/// How long a new session may go without any liveness signal before it is taken for gone
/// (the registry entry is written within half a second of claude starting).
pub const GRACE: Duration = Duration::from_secs(5);

/// How long a telemetry-only session may go without news before it is taken for ended. Claude
/// Code exports every few seconds while it works and nothing while it waits for the user.
pub const TELEMETRY_QUIET: Duration = Duration::from_mins(2);

/// Fastest the probe runs again after a poke (a registry or transcript change).
const PROBE_MIN_INTERVAL: Duration = Duration::from_millis(100);
/// With no live session, the probe runs at least this often.
const PROBE_IDLE_INTERVAL: Duration = Duration::from_secs(30);
/// With a live session, the probe runs at least this often.
const PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// Runs the probe for a monitor (`cclive watch`, `cclive top`'s own) until `cancel`: every
/// second while something is live (a SIGKILL leaves no file event behind); when nothing is,
/// only when `poke`d (the registry or a transcript changed) or, as a safety net, now and then,
/// so an idle monitor sleeps.
pub(crate) async fn probe_loop(
    dirs: Vec<PathBuf>,
    sink: EventSink,
    poke: Arc<Notify>,
    cancel: CancellationToken,
    counters: IngestCounters,
) {
    let mut probe = LivenessProbe::new(dirs);
    loop {
        counters.probed();
        let live = sink.sync().await;
        let events =
            tokio::task::block_in_place(|| probe.scan(&live, jiff::Timestamp::now(), GRACE));
        let every = if live.is_empty() && events.is_empty() {
            PROBE_IDLE_INTERVAL
        } else {
            PROBE_INTERVAL
        };
        for event in events {
            tracing::debug!(session = %event.session_id, kind = ?event.kind, "Liveness changed.");
            if !sink.send(event).await {
                return;
            }
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(every) => {}
            () = poke.notified() => tokio::time::sleep(PROBE_MIN_INTERVAL).await,
        }
    }
}

/// What the last scan knew of a session in the registry.
#[derive(Clone, Debug, PartialEq)]
struct Known {
    pid: u32,
    activity: Option<Activity>,
    waiting_for: Option<String>,
}

/// Compares each scan with the one before and reports the differences as events.
#[derive(Debug, Default)]
pub struct LivenessProbe {
    config_dirs: Vec<PathBuf>,
    known: HashMap<SessionId, Known>,
    /// Sessions this probe ended, with when: each is ended once, until news newer than that
    /// revives it (a transcript-only session that gets new lines must end again).
    gone: HashMap<SessionId, Timestamp>,
}

impl LivenessProbe {
    /// A probe of the registries under `config_dirs`.
    pub fn new(config_dirs: Vec<PathBuf>) -> Self {
        Self {
            config_dirs,
            known: HashMap::new(),
            gone: HashMap::new(),
        }
    }

    /// Looks at the registry and the process table; returns what changed for `live` (the
    /// monitor's live sessions) and for sessions newly seen in the registry.
    pub fn scan(&mut self, live: &[SessionState], now: Timestamp, grace: Duration) -> Vec<Event> {
        let mut events = Vec::new();
        let (entries, present_pids) = read_registries(&self.config_dirs);
        let live_ids: HashSet<&SessionId> = live.iter().map(|s| &s.session_id).collect();
        let mut alive: HashSet<SessionId> = HashSet::new();
        // Claude rewrites its entry in place, so a read can catch it half-written. An entry that
        // is there but did not parse this time keeps what the last scan knew.
        for (id, k) in &self.known {
            if present_pids.contains(&k.pid) && !entries.iter().any(|e| e.pid == k.pid) {
                alive.insert(id.clone());
            }
        }

        for entry in &entries {
            let id = entry.session_id.clone();
            match registry::liveness(entry, proc_start_of(entry.pid)) {
                Liveness::Alive(activity) => {
                    alive.insert(id.clone());
                    self.gone.remove(&id);
                    let now_known = Known {
                        pid: entry.pid,
                        activity,
                        waiting_for: entry.waiting_for.clone(),
                    };
                    let before = self.known.insert(id.clone(), now_known.clone());
                    if before.is_none() && !live_ids.contains(&id) {
                        let at = entry.started_at.unwrap_or(now);
                        events.push(Event::new(
                            id.clone(),
                            at,
                            EventKind::SessionStarted {
                                mode: if entry.entrypoint.as_deref() == Some("sdk-cli") {
                                    Mode::Print
                                } else {
                                    Mode::Interactive
                                },
                                command: None,
                                cwd: entry.cwd.clone(),
                                project_path: None,
                                session_type: None,
                                source: "registry".into(),
                            },
                        ));
                    }
                    if let (Some(state), true) = (activity, before.as_ref() != Some(&now_known)) {
                        events.push(Event::new(
                            id,
                            now,
                            EventKind::Activity {
                                state,
                                waiting_for: now_known.waiting_for,
                                pid: Some(entry.pid),
                            },
                        ));
                    }
                }
                Liveness::Stale => {
                    let was_alive = self.known.remove(&id).is_some();
                    if (was_alive || live_ids.contains(&id))
                        && self.gone.insert(id.clone(), now).is_none()
                    {
                        events.push(Event::new(
                            id,
                            now,
                            EventKind::ProcessGone {
                                pid: Some(entry.pid),
                            },
                        ));
                    }
                }
            }
        }
        // Entries that disappeared: claude removes its entry when it exits cleanly.
        let vanished: Vec<SessionId> = self
            .known
            .keys()
            .filter(|id| !entries.iter().any(|e| &e.session_id == *id))
            .cloned()
            .collect();
        for id in vanished {
            self.known.remove(&id);
            events.push(Event::new(
                id,
                now,
                EventKind::SessionEnded {
                    reason: Some("exit".into()),
                },
            ));
        }

        // Live sessions nothing vouches for.
        let old_claude = if live.iter().any(|s| needs_process_check(s, &alive)) {
            old_claude_cwds()
        } else {
            Vec::new()
        };
        let mut slots: HashMap<&str, usize> = HashMap::new();
        for cwd in &old_claude {
            *slots.entry(cwd.as_str()).or_default() += 1;
        }
        for s in live.iter().filter(|s| {
            s.status.is_live() && s.source == Source::Otel && !alive.contains(&s.session_id)
        }) {
            if now.duration_since(s.updated_at).unsigned_abs() < TELEMETRY_QUIET {
                // Live again after a new prompt: it may end again.
                self.gone.remove(&s.session_id);
            } else if self.gone.insert(s.session_id.clone(), now).is_none() {
                events.push(Event::new(
                    s.session_id.clone(),
                    now,
                    EventKind::SessionEnded {
                        reason: Some("telemetry stopped".into()),
                    },
                ));
            }
        }
        let mut candidates: Vec<&SessionState> = live
            .iter()
            .filter(|s| needs_process_check(s, &alive))
            .collect();
        candidates.sort_by_key(|s| std::cmp::Reverse(s.updated_at));
        for s in candidates {
            let cwd_slot = s
                .cwd
                .as_deref()
                .and_then(|cwd| slots.get_mut(cwd))
                .filter(|n| **n > 0);
            if let Some(n) = cwd_slot {
                *n -= 1;
                continue;
            }
            // Revived after this probe ended it (new transcript lines, nothing vouching for it):
            // the ending rule applies again.
            if self
                .gone
                .get(&s.session_id)
                .is_some_and(|ended| s.updated_at > *ended)
            {
                self.gone.remove(&s.session_id);
            }
            let young = now.duration_since(s.started_at).unsigned_abs() < grace
                || now.duration_since(s.updated_at).unsigned_abs() < grace;
            if !young && !self.gone.contains_key(&s.session_id) {
                self.gone.insert(s.session_id.clone(), now);
                // Nothing vouches for it: it ended at its last record, not when we looked (a
                // session read from history must not last until the import).
                events.push(Event::new(
                    s.session_id.clone(),
                    s.last_record_at().min(now),
                    EventKind::ProcessGone { pid: s.pid },
                ));
            }
        }
        events
    }
}

/// A live session whose liveness the registry does not settle (and no wrapper or `cclive
/// replay`, which end their sessions themselves, owns).
fn needs_process_check(s: &SessionState, alive: &HashSet<SessionId>) -> bool {
    s.status.is_live()
        && !matches!(s.source, Source::Wrapper | Source::Replay | Source::Otel)
        && !alive.contains(&s.session_id)
}

/// Every parseable `<pid>.json` under each dir's `sessions/` (never the `.key` secrets beside),
/// and the pids of every such file present, parseable or not.
fn read_registries(config_dirs: &[PathBuf]) -> (Vec<RegistryEntry>, HashSet<u32>) {
    let mut entries = Vec::new();
    let mut present = HashSet::new();
    for dir in config_dirs {
        let Ok(files) = std::fs::read_dir(dir.join("sessions")) else {
            continue;
        };
        for file in files.flatten() {
            let path = file.path();
            let Some(pid) = registry_pid(&path) else {
                continue;
            };
            present.insert(pid);
            match std::fs::read(&path).map(|b| registry::parse_entry(&b)) {
                Ok(Ok(entry)) => entries.push(entry),
                // Claude rewrites these files often; a half-read one is read again next time.
                Ok(Err(e)) => {
                    tracing::debug!(path = %path.display(), "Skipped a registry entry: {e}");
                }
                Err(e) => {
                    tracing::debug!(path = %path.display(), "Cannot read a registry entry: {e}");
                }
            }
        }
    }
    (entries, present)
}

/// The pid of a registry file name (`<pid>.json`); `None` for anything else.
fn registry_pid(path: &Path) -> Option<u32> {
    let name = path.file_name()?.to_str()?;
    name.strip_suffix(".json")?.parse().ok()
}

/// The start time of process `pid` (clock ticks since boot), if it exists.
fn proc_start_of(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    registry::proc_start_time(&stat)
}

/// Working directories of Claude Code 1.0.x processes (`node`, named `claude`).
fn old_claude_cwds() -> Vec<String> {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut cwds = Vec::new();
    for p in procs.flatten() {
        let name = p.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let base = Path::new("/proc").join(pid);
        if std::fs::read_to_string(base.join("comm")).is_ok_and(|c| c.trim() == "claude") {
            let exe = std::fs::read_link(base.join("exe")).unwrap_or_default();
            let is_node = exe
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("node"));
            if is_node && let Ok(cwd) = std::fs::read_link(base.join("cwd")) {
                cwds.push(cwd.display().to_string());
            }
        }
    }
    cwds
}

/// After an import: ends the stored live sessions whose claude is gone (an import reads history,
/// whose sessions mostly ended long ago). Returns how many were ended.
pub fn finalize_stored(
    config_dirs: &[PathBuf],
    store: &dyn Store,
    prices: &PriceTable,
) -> anyhow::Result<usize> {
    let listed = store.sessions(&SessionQuery {
        live_only: true,
        ..SessionQuery::default()
    })?;
    if listed.is_empty() {
        return Ok(0);
    }
    let mut live = Vec::with_capacity(listed.len());
    for s in listed {
        if let Some(full) = store.session(&s.session_id)? {
            live.push(full);
        }
    }
    let now = Timestamp::now();
    let events = LivenessProbe::new(config_dirs.to_vec()).scan(&live, now, Duration::ZERO);
    let mut changed = Vec::new();
    // What ended them, stored with them: their timelines end too.
    let mut endings = Vec::new();
    for mut s in live {
        let id = s.session_id.clone();
        let applied: Vec<&Event> = events.iter().filter(|e| e.session_id == id).collect();
        for e in &applied {
            s.apply(e, prices);
        }
        if !applied.is_empty() && !s.status.is_live() {
            changed.push(s);
            endings.extend(applied.into_iter().cloned());
        }
    }
    let n = changed.len();
    store.write(&Batch {
        sessions: changed,
        events: endings,
        ..Batch::default()
    })?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_files_are_pid_json_only() {
        assert_eq!(
            registry_pid(Path::new("/x/sessions/25255.json")),
            Some(25255)
        );
        assert_eq!(registry_pid(Path::new("/x/sessions/25255.abc.key")), None);
        assert_eq!(registry_pid(Path::new("/x/sessions/notes.json")), None);
        assert_eq!(registry_pid(Path::new("/x/sessions/.json")), None);
    }

    #[test]
    fn a_telemetry_only_session_ends_after_a_quiet_spell_and_may_end_again_once_revived() {
        let started: Timestamp = "2026-11-25T12:00:00Z".parse().unwrap();
        let mut remote = SessionState::new(SessionId::new("remote"), started);
        remote.source = "otel".into();
        let mut probe = LivenessProbe::new(Vec::new());
        let quiet = jiff::SignedDuration::try_from(TELEMETRY_QUIET).unwrap();
        let soon = started + jiff::SignedDuration::from_secs(30);
        assert!(
            probe.scan(&[remote.clone()], soon, GRACE).is_empty(),
            "no process check for a session whose process is elsewhere"
        );
        let later = started + quiet;
        let events = probe.scan(&[remote.clone()], later, GRACE);
        assert!(matches!(
            events.as_slice(),
            [Event { kind: EventKind::SessionEnded { reason: Some(r) }, .. }] if r == "telemetry stopped"
        ));
        assert!(
            probe.scan(&[remote.clone()], later, GRACE).is_empty(),
            "once"
        );
        // A new prompt revived it; then it goes quiet again.
        remote.updated_at = later + jiff::SignedDuration::from_secs(10);
        assert!(
            probe
                .scan(&[remote.clone()], remote.updated_at, GRACE)
                .is_empty()
        );
        let events = probe.scan(&[remote.clone()], remote.updated_at + quiet, GRACE);
        assert_eq!(events.len(), 1);
    }

    /// A session known from its transcript alone, started at `started`, in a folder no claude
    /// runs in.
    fn transcript_only(started: Timestamp) -> SessionState {
        let mut s = SessionState::new(SessionId::new("tx"), started);
        s.source = "transcript".into();
        s.cwd = Some("/nowhere/no/claude/runs".into());
        s
    }

    /// True when `events` is one `ProcessGone`.
    fn one_process_gone(events: &[Event]) -> bool {
        matches!(
            events,
            [Event {
                kind: EventKind::ProcessGone { .. },
                ..
            }]
        )
    }

    #[test]
    fn a_revived_transcript_only_session_ends_again() {
        let started: Timestamp = "2026-11-25T12:00:00Z".parse().unwrap();
        let mut s = transcript_only(started);
        let mut probe = LivenessProbe::new(Vec::new());
        let grace = jiff::SignedDuration::try_from(GRACE).unwrap();
        let ended_at = started + grace + grace;
        let events = probe.scan(&[s.clone()], ended_at, GRACE);
        assert!(one_process_gone(&events), "{events:?}");
        // The monitor has not applied it yet: not twice.
        assert!(probe.scan(&[s.clone()], ended_at, GRACE).is_empty());
        // New lines revive it (IDLE after their end_turn); nothing vouches for it.
        s.updated_at = ended_at + jiff::SignedDuration::from_secs(60);
        assert!(
            probe.scan(&[s.clone()], s.updated_at, GRACE).is_empty(),
            "young again"
        );
        let events = probe.scan(&[s.clone()], s.updated_at + grace + grace, GRACE);
        assert!(
            one_process_gone(&events),
            "the ending rule applies again: {events:?}"
        );
    }

    #[test]
    fn a_stored_session_ended_after_the_fact_has_its_end_in_its_timeline() {
        use cclive_store::{Batch, SqliteStore, Store};
        let started: Timestamp = "2026-11-25T12:00:00Z".parse().unwrap();
        let store = SqliteStore::open_in_memory().unwrap();
        store
            .write(&Batch {
                sessions: vec![transcript_only(started)],
                ..Batch::default()
            })
            .unwrap();
        let ended = finalize_stored(&[], &store, &PriceTable::builtin()).unwrap();
        assert_eq!(ended, 1);
        let id = SessionId::new("tx");
        assert!(!store.session(&id).unwrap().unwrap().status.is_live());
        let events = store.events(&id).unwrap();
        assert!(one_process_gone(&events), "{events:?}");
    }

    #[test]
    fn this_process_has_a_start_time() {
        assert!(proc_start_of(std::process::id()).is_some());
        assert!(proc_start_of(u32::MAX).is_none());
    }
}
