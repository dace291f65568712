//! Importing history: every transcript's new bytes, read in parallel, folded once, stored once.
//!
//! Files are read by worker threads, each from its checkpoint, in bounded chunks (files of
//! hundreds of megabytes exist), through the same [`TranscriptReader`] the live tailer uses. The
//! readers start with the walk: each file with new bytes is handed to them as the walk finds it
//! (the one with the most to read of those waiting first), so a catch-up's reading overlaps the
//! walk's `stat` of every unchanged file. Workers send events to this thread, which folds them
//! into one [`Monitor`] — one fold, so a response replayed by a resumed session in another file
//! still counts once (this thread walks first: the events wait in the channel). At the end one
//! transaction stores every touched session (with its ledger), the per-response usage rows and
//! the new checkpoints. Files unchanged since their checkpoint are not opened: a second import
//! of the same history is a `stat` per file. The first import of a history keeps per-event
//! history only for the last [`RECENT_EVENTS`] (sessions, usage and totals are what outlive
//! Claude Code's cleanup of old transcripts; the recent events are those of sessions that may
//! still run, whose first monitor may have died before it stored anything); once the store holds
//! history, an import is a catch-up — lines written while no monitor ran — and keeps the events
//! a live read would have kept (tool calls, usage, …), once: they are stored in the same
//! transaction as the checkpoints past them. A catch-up continues the stored sessions it
//! touches: the workers restore them (a long session's ledger is a large decode) and send them
//! with their events, so they are restored in parallel, not one after the other by the fold;
//! they look up which stored session owns each response they read the same way, a batch at a
//! time.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError, mpsc};
use std::time::{Duration, Instant};

use anyhow::Context;
use cclive_core::event::request_usage_key;
use cclive_core::{Event, EventKind, Monitor, PriceTable, SessionState};
use cclive_server::ImportProgress;
use cclive_store::{Batch, Checkpoint, SessionQuery, Store, UsageRow};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::ingest::discover;
use crate::ingest::liveness::LivenessProbe;
use crate::ingest::tail::{self, FileTail};
use crate::ingest::transcripts::TranscriptReader;
use crate::ingest::work_queue::{EndOfWalk, WorkQueue};

/// How to import.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    /// Reader threads (and the threads a first import makes its usage rows on).
    pub threads: usize,
    /// Show a progress bar on stderr (when it is a terminal).
    pub progress: bool,
    /// The database's path, whose hook spool (`ingest::hook_spool`) this import drains: what
    /// `cclive hook` could not hand over is stored with the import, once.
    pub drain_hook_spool: Option<PathBuf>,
    /// Where a monitor's server reads how far the import is (`/api/import`).
    pub shared_progress: Option<ImportProgress>,
    /// End the imported sessions whose Claude Code is gone before storing them (what
    /// `liveness::finalize_stored` does after an import, without reading them back).
    pub finalize: bool,
}

impl Default for ImportOptions {
    fn default() -> Self {
        let threads = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        Self {
            threads,
            progress: false,
            drain_hook_spool: None,
            shared_progress: None,
            finalize: false,
        }
    }
}

/// What an import did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ImportReport {
    /// Transcripts found.
    pub files: usize,
    /// Transcripts that had new bytes.
    pub files_read: usize,
    /// Transcripts unchanged since the last import (not opened).
    pub files_unchanged: usize,
    /// Bytes read.
    pub bytes: u64,
    /// Lines read.
    pub lines: u64,
    /// Lines that could not be read (skipped and counted).
    pub malformed: u64,
    /// Sessions created or updated.
    pub sessions: usize,
    /// API responses (deduplicated) of those sessions.
    pub responses: usize,
    /// Events drained from the hook spool.
    pub spooled_events: usize,
    /// Files that could not be read, with why.
    pub errors: Vec<String>,
    /// Wall time.
    pub elapsed_ms: u64,
    /// Sessions ended because their Claude Code is gone ([`ImportOptions::finalize`]).
    #[serde(skip)]
    pub finalized: usize,
}

enum Msg {
    /// Events read, with what the reader looked up in the store for them.
    Events(Vec<Event>, StoredFor),
    Progress(u64),
    Done {
        checkpoint: Checkpoint,
        malformed: u64,
        lines: u64,
    },
    Failed(PathBuf, std::io::Error),
}

/// What a catch-up's reader looked up in the store for a batch of events, off the fold's
/// thread ([`LookedUp::stored_for`]): the stored sessions they continue and the stored owners
/// of the responses they report (see [`claim_stored_usage`]).
#[derive(Default)]
struct StoredFor {
    sessions: Vec<SessionState>,
    /// Each key looked up, with the session that owns it (`None`: not stored).
    owners: HashMap<String, Option<cclive_core::SessionId>>,
}

/// Events per message from a reader thread.
const EVENTS_PER_MESSAGE: usize = 2048;
/// Bytes a reader reads before reporting progress.
const PROGRESS_STEP: u64 = 8 * 1024 * 1024;

/// How far back a first import keeps events: a day, so a session that runs now (or ran while a
/// monitor that never got to store anything was killed) has its timeline, while a cold import
/// of a year of history stays a sum of usage.
pub const RECENT_EVENTS: jiff::SignedDuration = jiff::SignedDuration::from_hours(24);

/// Imports every transcript under `config_dirs` into `store`.
pub fn import(
    config_dirs: &[PathBuf],
    store: &dyn Store,
    prices: &PriceTable,
    options: &ImportOptions,
) -> anyhow::Result<ImportReport> {
    let started = Instant::now();
    let mut report = ImportReport::default();
    let checkpoints: HashMap<PathBuf, Checkpoint> = store
        .checkpoints()
        .context("reading checkpoints")?
        .into_iter()
        .map(|c| (c.path.clone(), c))
        .collect();
    // Sessions already stored (by an earlier import, a monitor, `cclive run` or a hook) are
    // continued, never rebuilt from their transcript over what else was recorded of them.
    let resuming = !checkpoints.is_empty()
        || !store
            .sessions(&SessionQuery {
                limit: Some(1),
                ..SessionQuery::default()
            })
            .context("reading stored sessions")?
            .is_empty();
    // A catch-up keeps the events a live read would keep; a first import, the recent ones (see
    // the module comment).
    let recent_from = jiff::Timestamp::now()
        .checked_sub(RECENT_EVENTS)
        .unwrap_or(jiff::Timestamp::MIN);
    let shared = options.shared_progress.clone().unwrap_or_default();
    let queue = WorkQueue::default();
    let walked = Walked::default();
    // Only files with new bytes are read; an unchanged one costs the walk's stat, nothing more.
    // Runs on the walk's threads, as each file is found.
    let on_found = |f: discover::Found| {
        walked.files.fetch_add(1, Ordering::Relaxed);
        let cp = checkpoints.get(&f.path);
        if cp.is_some_and(|c| {
            tail::read_to_end((c.dev, c.inode, c.length_read()), (f.dev, f.inode, f.size))
        }) {
            walked.unchanged.fetch_add(1, Ordering::Relaxed);
            return;
        }
        match FileTail::open(&f.path, cp) {
            Ok(tail) if tail.up_to_date() => {
                walked.unchanged.fetch_add(1, Ordering::Relaxed);
            }
            Ok(tail) => {
                let new_bytes = f.size.saturating_sub(tail.checkpoint().offset);
                queue.push(new_bytes, tail);
            }
            Err(e) => walked.error(format!("{}: {e}", f.path.display())),
        }
    };
    let (tx, rx) = mpsc::sync_channel::<Msg>(64);
    let threads = options.threads.max(1);

    let read = std::thread::scope(|scope| -> anyhow::Result<Option<Read>> {
        // The readers start with the walk and read each file with new bytes as soon as it is
        // found (the largest waiting first): a catch-up's reading, and its restoring of the
        // long sessions it continues, overlap the walk's `stat`s of every unchanged file.
        // A catch-up continues stored sessions: the readers restore them (decoding a long
        // session's ledger) in parallel, not the fold one by one.
        let restore = resuming.then_some(store);
        for _ in 0..threads {
            let tx = tx.clone();
            let queue = &queue;
            scope.spawn(move || reader_thread(queue, restore, &tx));
        }
        drop(tx);
        let walk_errors = {
            // Ended however the walk ends, or the readers would wait for it forever.
            let _ending = EndOfWalk(&queue);
            discover::each(config_dirs, &on_found)
        };
        let (files_read, total_bytes) = queue.walk_done();
        report.files = walked.files.load(Ordering::Relaxed);
        report.files_unchanged = walked.unchanged.load(Ordering::Relaxed);
        report.files_read = files_read;
        report.errors.extend(
            walk_errors
                .into_iter()
                .map(|(p, e)| format!("{}: {e}", p.display())),
        );
        report.errors.extend(walked.take_errors());
        shared.set_total(files_read as u64, total_bytes);
        // Taken once the totals show (it waits for a hook that is writing it); the readers go on.
        let mut spool = match &options.drain_hook_spool {
            Some(db) => crate::ingest::hook_spool::take(db).context("reading the hook spool")?,
            None => crate::ingest::hook_spool::Drained::default(),
        };
        report.spooled_events = spool.events.len();
        if files_read == 0 && spool.events.is_empty() {
            // The readers found nothing to take and are gone.
            return Ok(None);
        }

        let mut monitor = Monitor::new(prices.clone());
        let mut folded = Folded::default();
        // Folds one event as the live pipeline would; a catch-up keeps it.
        let fold = |monitor: &mut Monitor,
                    folded: &mut Folded,
                    event: Event,
                    keep: bool|
         -> anyhow::Result<()> {
            let Folded {
                kept,
                touched,
                stored_owners,
            } = folded;
            if resuming {
                claim_stored_usage(monitor, store, stored_owners, &event)?;
            }
            if resuming
                && !monitor.contains(&event.session_id)
                && let Some(stored) = store
                    .session(&event.session_id)
                    .context("reading a stored session")?
            {
                monitor.insert(stored);
            }
            let event = event.screened();
            let repeat = monitor.repeats(&event);
            let applied = monitor.count_for_store(&event);
            if resuming && let Some((holder, counted)) = applied.usage {
                touched
                    .responses
                    .insert(counted.key.to_owned(), holder.session_id.clone());
            }
            touched.retired.extend(applied.retired_usage);
            // As the live pipeline: an event is kept once (not another source's repeat of it)
            // and only with a session to belong to (a rerouted replay has none).
            if keep && !repeat && monitor.contains(&event.session_id) {
                kept.push(event);
            }
            Ok(())
        };
        // What hooks spooled happened before anything read now could be newer: first, and kept
        // (a monitor would have stored them). The readers' messages wait in the channel.
        for event in std::mem::take(&mut spool.events) {
            fold(&mut monitor, &mut folded, event, true)?;
        }
        let bar = progress_bar(options.progress, total_bytes, files_read);
        let mut new_checkpoints = Vec::new();
        let mut done_files = 0;
        for msg in rx {
            match msg {
                Msg::Events(events, stored) => {
                    for session in stored.sessions {
                        if !monitor.contains(&session.session_id) {
                            monitor.insert(session);
                        }
                    }
                    folded.stored_owners.extend(stored.owners);
                    for event in events {
                        let keep = resuming || event.at >= recent_from;
                        fold(&mut monitor, &mut folded, event, keep)?;
                    }
                }
                Msg::Progress(bytes) => {
                    report.bytes += bytes;
                    bar.inc(bytes);
                    shared.add_bytes(bytes);
                }
                Msg::Done {
                    checkpoint,
                    malformed,
                    lines,
                } => {
                    report.malformed += malformed;
                    report.lines += lines;
                    new_checkpoints.push(checkpoint);
                    done_files += 1;
                    shared.file_done();
                    bar.set_message(format!("{done_files} files"));
                }
                Msg::Failed(path, e) => report.errors.push(format!("{}: {e}", path.display())),
            }
        }
        bar.finish_and_clear();
        Ok(Some(Read {
            monitor,
            folded,
            checkpoints: new_checkpoints,
            spool,
        }))
    })?;
    let Some(Read {
        mut monitor,
        mut folded,
        checkpoints: new_checkpoints,
        spool,
    }) = read
    else {
        report.elapsed_ms = elapsed_ms(started);
        return Ok(report);
    };
    let read_ms = elapsed_ms(started);

    if options.finalize {
        let (finalized, endings) = finalize_gone(config_dirs, &mut monitor);
        report.finalized = finalized;
        // Stored with the sessions they end, as a monitor stores what its probe saw: a session
        // ended here has its end in its timeline too.
        folded.kept.extend(endings);
    }
    let sessions: Vec<SessionState> = monitor.take_sessions().collect();
    report.sessions = sessions.len();
    report.responses = sessions.iter().map(|s| s.usage_by_key().count()).sum();
    // A first import stores every response; a catch-up, those it changed (a session with
    // thousands of stored responses that gained ten writes ten rows, not thousands).
    let usage: Vec<UsageRow> = if resuming {
        folded.touched.rows(&sessions)
    } else {
        every_usage_row(&sessions, options.threads)
    };
    let batch = Batch {
        sessions,
        events: folded.kept,
        usage,
        retired_usage: folded.touched.retired,
        checkpoints: new_checkpoints,
    };
    let write_started = Instant::now();
    store
        .write(&batch)
        .context("writing the imported history")?;
    // Where the time went (`--verbose`): reading and folding, then the one transaction.
    tracing::debug!(
        read_ms,
        write_ms = elapsed_ms(write_started),
        sessions = batch.sessions.len(),
        usage_rows = batch.usage.len(),
        "import stored"
    );
    // What the fold remembers (every response's owner) is freed off the critical path, once
    // stored: freed while the rows were made and the store wrote, it took a core from them.
    drop_elsewhere((monitor, batch));
    // Committed: the spool is drained, once.
    if let Err(e) = spool.done() {
        report
            .errors
            .push(format!("the drained hook spool stays: {e}"));
    }
    report.elapsed_ms = elapsed_ms(started);
    Ok(report)
}

/// The row of every response `sessions` counted, in their order: a first import's tens of
/// thousands, each a copy of its key and model, made on the import's `threads` (on one, they
/// held up the write for ~2 % of the import).
fn every_usage_row(sessions: &[SessionState], threads: usize) -> Vec<UsageRow> {
    let rows_of = |part: &[SessionState]| -> Vec<UsageRow> {
        part.iter().flat_map(UsageRow::of_session).collect()
    };
    if threads < 2 || sessions.len() < 2 {
        return rows_of(sessions);
    }
    let part = sessions.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let parts: Vec<_> = sessions
            .chunks(part)
            .map(|chunk| scope.spawn(move || rows_of(chunk)))
            .collect();
        let mut rows = Vec::new();
        for part in parts {
            // Making a row panics on nothing; were it to, the panic goes on here.
            rows.extend(part.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
        }
        rows
    })
}

/// What the fold gathers besides the sessions.
#[derive(Default)]
struct Folded {
    /// The events to store: a catch-up's, or a first import's recent ones.
    kept: Vec<Event>,
    touched: Touched,
    /// The stored owners the readers looked up (see [`StoredFor`]; a key's owner in the store
    /// does not change while the import reads).
    stored_owners: HashMap<String, Option<cclive_core::SessionId>>,
}

/// What a catch-up changed of the per-response usage table.
#[derive(Default)]
struct Touched {
    /// The responses whose counts changed, with the session that counts each.
    responses: HashMap<String, cclive_core::SessionId>,
    /// Placeholder keys merged into a message id (their rows go).
    retired: Vec<String>,
}

impl Touched {
    /// The rows of the changed responses, as their sessions count them at the end.
    fn rows(&self, sessions: &[SessionState]) -> Vec<UsageRow> {
        let by_id: HashMap<&cclive_core::SessionId, &SessionState> =
            sessions.iter().map(|s| (&s.session_id, s)).collect();
        self.responses
            .iter()
            .filter_map(|(key, owner)| {
                let session = by_id.get(owner)?;
                Some(UsageRow::counted(owner, &session.counted_usage(key)?))
            })
            .collect()
    }
}

/// Ends the monitor's live sessions whose Claude Code is gone, as
/// `liveness::finalize_stored` would once they are stored; returns how many ended, and the
/// events of those (what ended them).
fn finalize_gone(config_dirs: &[PathBuf], monitor: &mut Monitor) -> (usize, Vec<Event>) {
    let live: Vec<SessionState> = monitor
        .sessions()
        .filter(|s| s.status.is_live())
        .cloned()
        .collect();
    if live.is_empty() {
        return (0, Vec::new());
    }
    let events = LivenessProbe::new(config_dirs.to_vec()).scan(
        &live,
        jiff::Timestamp::now(),
        Duration::ZERO,
    );
    // Only what concerns these sessions (the probe also announces registry sessions it sees).
    let mut applied = Vec::new();
    for event in events {
        if monitor.contains(&event.session_id) {
            monitor.apply(&event);
            applied.push(event);
        }
    }
    let ended =
        |id: &cclive_core::SessionId| monitor.session(id).is_some_and(|now| !now.status.is_live());
    let count = live.iter().filter(|s| ended(&s.session_id)).count();
    applied.retain(|event| ended(&event.session_id));
    (count, applied)
}

/// Drops `value` on a thread of its own: freeing a big history's fold takes a while, and
/// nothing waits for it.
fn drop_elsewhere<T: Send + 'static>(value: T) {
    // Without a thread, it is dropped here, with the closure.
    let _ = std::thread::Builder::new()
        .name("import-drop".into())
        .spawn(move || drop(value));
}

fn reader_thread(queue: &WorkQueue, restore: Option<&dyn Store>, tx: &mpsc::SyncSender<Msg>) {
    let mut looked_up = LookedUp::default();
    while let Some(mut tail) = queue.next() {
        let mut reader = TranscriptReader::new(tail.path());
        let mut events = Vec::with_capacity(EVENTS_PER_MESSAGE);
        let now = jiff::Timestamp::now();
        loop {
            let outcome = tail.read_new(PROGRESS_STEP, |line| reader.line(line, now, &mut events));
            match outcome {
                Ok(o) => {
                    if !o.more {
                        reader.end_of_data(o.modified, &mut events);
                    }
                    if events.len() >= EVENTS_PER_MESSAGE || !o.more {
                        let batch =
                            std::mem::replace(&mut events, Vec::with_capacity(EVENTS_PER_MESSAGE));
                        let stored = restore
                            .map(|store| looked_up.stored_for(store, &batch))
                            .unwrap_or_default();
                        if !batch.is_empty() && tx.send(Msg::Events(batch, stored)).is_err() {
                            return;
                        }
                    }
                    let _ = tx.send(Msg::Progress(o.bytes));
                    if !o.more {
                        break;
                    }
                }
                Err(e) => {
                    let _ = tx.send(Msg::Failed(tail.path().to_path_buf(), e));
                    break;
                }
            }
        }
        let done = Msg::Done {
            checkpoint: tail.checkpoint(),
            malformed: reader.malformed,
            lines: reader.lines,
        };
        if tx.send(done).is_err() {
            return;
        }
    }
}

/// What the reading part of an import hands on to the store's write.
struct Read {
    monitor: Monitor,
    folded: Folded,
    /// Where each file read was read up to.
    checkpoints: Vec<Checkpoint>,
    /// The hook spool drained, to let go once its events are stored.
    spool: crate::ingest::hook_spool::Drained,
}

/// What the walk saw of the files it found, counted on its threads.
#[derive(Default)]
struct Walked {
    files: AtomicUsize,
    unchanged: AtomicUsize,
    /// Files that could not be opened, with why.
    errors: Mutex<Vec<String>>,
}

impl Walked {
    fn error(&self, error: String) {
        self.errors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(error);
    }

    /// The errors, sorted (the walk's threads found them in no particular order).
    fn take_errors(&self) -> Vec<String> {
        let mut errors =
            std::mem::take(&mut *self.errors.lock().unwrap_or_else(PoisonError::into_inner));
        errors.sort();
        errors
    }
}

/// What one reader already looked up in the store: each session and key once.
#[derive(Default)]
struct LookedUp {
    sessions: HashSet<cclive_core::SessionId>,
    keys: HashSet<String>,
}

impl LookedUp {
    /// What the store holds for `events` that this reader has not looked up yet: the owners of
    /// the responses they report, then the stored sessions they continue or whose responses
    /// they replay. What cannot be read is left out: the fold looks it up again and reports
    /// the error.
    fn stored_for(&mut self, store: &dyn Store, events: &[Event]) -> StoredFor {
        let keys: Vec<String> = events
            .iter()
            .flat_map(claimable_keys)
            .filter(|key| !self.keys.contains(key.as_ref()))
            .map(Cow::into_owned)
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let owners: HashMap<String, Option<cclive_core::SessionId>> =
            match store.usage_owners(&keys.iter().map(String::as_str).collect::<Vec<_>>()) {
                Ok(owners) => keys.into_iter().zip(owners).collect(),
                Err(_) => HashMap::new(),
            };
        self.keys.extend(owners.keys().cloned());
        let continued = events.iter().map(|event| &event.session_id);
        let replayed = owners.values().flatten();
        let mut sessions = Vec::new();
        for id in continued.chain(replayed) {
            if self.sessions.insert(id.clone())
                && let Ok(Some(stored)) = store.session(id)
            {
                sessions.push(stored);
            }
        }
        StoredFor { sessions, owners }
    }
}

/// The keys a usage event may claim: its response's, and the placeholder its request id would
/// have been counted under.
fn claimable_keys(event: &Event) -> impl Iterator<Item = Cow<'_, str>> {
    let (key, placeholder) = match &event.kind {
        EventKind::Usage {
            key, request_id, ..
        } => (
            Some(Cow::Borrowed(key.as_str())),
            request_id
                .as_deref()
                .map(|id| Cow::Owned(request_usage_key(id))),
        ),
        _ => (None, None),
    };
    key.into_iter().chain(placeholder)
}

/// Responses already stored belong to their sessions: a replay of one in a new file is not new.
/// Only the keys this event carries are looked up (once per key: the monitor remembers the
/// owner after the first report), so an incremental import costs what it reads, not what the
/// history holds. The readers looked most up already (`looked_up`, a batch at a time, off this
/// thread); any other is a point query here. A response another stored session owns (a
/// resumed session replays its parent's) brings that session in, so the replay is folded into
/// it.
fn claim_stored_usage(
    monitor: &mut Monitor,
    store: &dyn Store,
    looked_up: &HashMap<String, Option<cclive_core::SessionId>>,
    event: &Event,
) -> anyhow::Result<()> {
    for key in claimable_keys(event) {
        if monitor.usage_owner(&key).is_some() {
            continue;
        }
        let owner = match looked_up.get(key.as_ref()) {
            Some(owner) => owner.clone(),
            None => store.usage_owner(&key).context("reading stored usage")?,
        };
        if let Some(owner) = owner {
            // The owner is held, as a first import holds every session: the monitor counts
            // the replay where the response first appeared, never in the replaying session.
            if owner != event.session_id
                && !monitor.contains(&owner)
                && let Some(stored) = store.session(&owner).context("reading a stored session")?
            {
                monitor.insert(stored);
            }
            monitor.claim_usage(&key, &owner);
        }
    }
    Ok(())
}

fn progress_bar(show: bool, total: u64, files: usize) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "importing {bar:30} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} ETA {eta} · {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(format!("0/{files} files"));
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::atomic::AtomicU64;

    use cclive_core::{EventKind, SessionId, Tokens};
    use cclive_store::{SqliteStore, StoreError};

    use super::*;

    /// A real SQLite store that counts how much of the stored usage an import reads.
    struct Counting {
        inner: SqliteStore,
        whole_table_reads: AtomicU64,
        owner_lookups: AtomicU64,
        /// Of those, the ones asked on the thread that called the import (the fold's).
        owner_lookups_by_the_fold: AtomicU64,
        usage_rows_written: AtomicU64,
        /// Each stored session read, with the thread that read it.
        restores: std::sync::Mutex<Vec<(SessionId, std::thread::ThreadId)>>,
        fold_thread: std::thread::ThreadId,
    }

    impl Store for Counting {
        fn write(&self, batch: &Batch) -> Result<(), StoreError> {
            self.usage_rows_written
                .fetch_add(batch.usage.len() as u64, Ordering::Relaxed);
            self.inner.write(batch)
        }
        fn session(&self, id: &SessionId) -> Result<Option<SessionState>, StoreError> {
            self.restores
                .lock()
                .unwrap()
                .push((id.clone(), std::thread::current().id()));
            self.inner.session(id)
        }
        fn sessions(&self, q: &SessionQuery) -> Result<Vec<SessionState>, StoreError> {
            self.inner.sessions(q)
        }
        fn events(&self, id: &SessionId) -> Result<Vec<Event>, StoreError> {
            self.inner.events(id)
        }
        fn usage_totals(&self, id: &SessionId) -> Result<(Tokens, u64), StoreError> {
            self.inner.usage_totals(id)
        }
        fn usage_owner(&self, key: &str) -> Result<Option<SessionId>, StoreError> {
            self.usage_owners(&[key]).map(|mut owners| owners.remove(0))
        }
        fn usage_owners(&self, keys: &[&str]) -> Result<Vec<Option<SessionId>>, StoreError> {
            let n = keys.len() as u64;
            self.owner_lookups.fetch_add(n, Ordering::Relaxed);
            if std::thread::current().id() == self.fold_thread {
                self.owner_lookups_by_the_fold
                    .fetch_add(n, Ordering::Relaxed);
            }
            self.inner.usage_owners(keys)
        }
        fn usage_rows(
            &self,
            since: Option<jiff::Timestamp>,
            until: Option<jiff::Timestamp>,
        ) -> Result<Vec<UsageRow>, StoreError> {
            self.whole_table_reads.fetch_add(1, Ordering::Relaxed);
            self.inner.usage_rows(since, until)
        }
        fn checkpoints(&self) -> Result<Vec<Checkpoint>, StoreError> {
            self.inner.checkpoints()
        }
        fn checkpoint(&self, path: &Path) -> Result<Option<Checkpoint>, StoreError> {
            self.inner.checkpoint(path)
        }
    }

    /// One assistant line of Claude Code 2.1 with its own message id and usage.
    fn response(session: &str, n: usize) -> String {
        format!(
            r#"{{"type":"assistant","sessionId":"{session}","uuid":"u-{session}-{n}","timestamp":"2026-11-25T12:{:02}:00.000Z","cwd":"/work/app","version":"2.1.332","isSidechain":false,"requestId":"req_{session}_{n}","message":{{"id":"msg_{session}_{n}","type":"message","role":"assistant","model":"claude-opus-5-5","content":[{{"type":"text","text":"ok"}}],"usage":{{"input_tokens":10,"output_tokens":5,"cache_read_input_tokens":0,"cache_creation_input_tokens":0}}}}}}"#,
            n % 60
        ) + "\n"
    }

    /// A throw-away Claude Code home and its one project folder.
    fn claude_home() -> (tempfile::TempDir, std::path::PathBuf) {
        let home = tempfile::tempdir().unwrap();
        let project = home.path().join("projects/-work-app");
        std::fs::create_dir_all(&project).unwrap();
        (home, project)
    }

    /// Imports every transcript under `home` into `store`.
    fn import_home(home: &Path, store: &dyn Store, options: &ImportOptions) -> ImportReport {
        import(
            &[home.to_path_buf()],
            store,
            &PriceTable::default(),
            options,
        )
        .unwrap()
    }

    fn append(path: &Path, text: &str) {
        use std::io::Write as _;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    #[test]
    fn an_incremental_import_looks_up_only_the_responses_it_reads() {
        let (home, project) = claude_home();
        for s in ["s1", "s2", "s3"] {
            let lines: String = (0..40).map(|n| response(s, n)).collect();
            append(&project.join(format!("{s}.jsonl")), &lines);
        }
        let store = Counting {
            inner: SqliteStore::open_in_memory().unwrap(),
            whole_table_reads: AtomicU64::new(0),
            owner_lookups: AtomicU64::new(0),
            owner_lookups_by_the_fold: AtomicU64::new(0),
            usage_rows_written: AtomicU64::new(0),
            restores: std::sync::Mutex::default(),
            fold_thread: std::thread::current().id(),
        };
        let dirs = vec![home.path().to_path_buf()];
        let prices = PriceTable::default();
        let first = import(&dirs, &store, &prices, &ImportOptions::default()).unwrap();
        assert_eq!(first.responses, 120);

        // Two new responses in one session, and a replay of a stored one in a new file.
        append(
            &project.join("s2.jsonl"),
            &(response("s2", 40) + &response("s2", 41)),
        );
        append(&project.join("s4.jsonl"), &response("s1", 0));
        store.owner_lookups.store(0, Ordering::Relaxed);
        store.usage_rows_written.store(0, Ordering::Relaxed);
        let second = import(
            &dirs,
            &store,
            &prices,
            &ImportOptions {
                threads: 2,
                ..ImportOptions::default()
            },
        )
        .unwrap();

        assert_eq!(store.whole_table_reads.load(Ordering::Relaxed), 0);
        // At most each new report's message id and request-id placeholder, nothing else.
        let lookups = store.owner_lookups.load(Ordering::Relaxed);
        assert!((1..=3 * 2).contains(&lookups), "{lookups} lookups");
        // Asked by the readers, a batch at a time, not by the fold one by one.
        assert_eq!(store.owner_lookups_by_the_fold.load(Ordering::Relaxed), 0);
        // The two new responses are written; the session's 40 stored ones are not again.
        assert_eq!(store.usage_rows_written.load(Ordering::Relaxed), 2);
        assert_eq!(second.files_read, 2);
        // The replayed response stays its first session's.
        let rows = store.inner.usage_rows(None, None).unwrap();
        assert_eq!(rows.len(), 122);
        let replayed = rows.iter().find(|r| r.key == "msg_s1_0").unwrap();
        assert_eq!(replayed.session_id.as_str(), "s1");
        // The sessions continued (s2, and s1 for its replay) were restored by the readers,
        // each once, not one after the other by the fold.
        let mut restores = store.restores.lock().unwrap().clone();
        assert!(
            restores
                .iter()
                .all(|(_, thread)| *thread != std::thread::current().id()),
            "{restores:?}"
        );
        restores.sort_by(|a, b| a.0.cmp(&b.0));
        let sessions: Vec<&str> = restores.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(sessions, ["s1", "s2"]);
    }

    #[test]
    fn an_unchanged_file_is_skipped_and_one_replaced_at_the_same_size_is_read_again() {
        let (home, project) = claude_home();
        let path = project.join("s1.jsonl");
        append(
            &path,
            &(0..3).map(|n| response("s1", n)).collect::<String>(),
        );
        let store = SqliteStore::open_in_memory().unwrap();
        let dirs = vec![home.path().to_path_buf()];
        let prices = PriceTable::default();
        let run = || import(&dirs, &store, &prices, &ImportOptions::default()).unwrap();
        assert_eq!(run().files_read, 1);
        let again = run();
        assert_eq!((again.files_read, again.files_unchanged), (0, 1));

        // Another file (another inode) of the same size moved over it: read from the start.
        let other = project.join("s1.jsonl.new");
        append(
            &other,
            &(0..3).map(|n| response("s9", n)).collect::<String>(),
        );
        assert_eq!(
            std::fs::metadata(&other).unwrap().len(),
            std::fs::metadata(&path).unwrap().len()
        );
        std::fs::rename(&other, &path).unwrap();
        let replaced = run();
        assert_eq!((replaced.files_read, replaced.responses), (1, 3));
        assert_eq!(store.usage_rows(None, None).unwrap().len(), 6);
    }

    #[test]
    fn a_resumed_session_replaying_a_stored_response_does_not_count_it_again() {
        let (home, project) = claude_home();
        append(
            &project.join("s1.jsonl"),
            &(response("s1", 0) + &response("s1", 1)),
        );
        let store = SqliteStore::open_in_memory().unwrap();
        let dirs = vec![home.path().to_path_buf()];
        let prices = PriceTable::default();
        import(&dirs, &store, &prices, &ImportOptions::default()).unwrap();

        // A later session (resumed from s1) replays s1's first response, then answers anew.
        let replay = response("s1", 0).replace("\"sessionId\":\"s1\"", "\"sessionId\":\"s2\"");
        append(&project.join("s2.jsonl"), &(replay + &response("s2", 0)));
        import(&dirs, &store, &prices, &ImportOptions::default()).unwrap();

        let s2 = store.session(&SessionId::new("s2")).unwrap().unwrap();
        assert_eq!(s2.tokens.output, 5, "only its own response");
        let s1 = store.session(&SessionId::new("s1")).unwrap().unwrap();
        assert_eq!(s1.tokens.output, 10);
    }

    /// Claude Code's totals for `session` at the end of a run (`cost-state`, cumulative).
    fn cost_state(session: &str, cost: f64, output: u64) -> String {
        format!(
            r#"{{"type":"cost-state","sessionId":"{session}","totalCostUSD":{cost},"modelUsage":{{"claude-opus-5-5":{{"inputTokens":{},"outputTokens":{output},"cacheReadInputTokens":0,"cacheCreationInputTokens":0,"costUSD":{cost}}}}}}}"#,
            output * 2
        ) + "\n"
    }

    #[test]
    fn a_first_imports_usage_rows_made_on_several_threads_are_every_sessions_in_order() {
        let (home, project) = claude_home();
        for s in 0..5 {
            let id = format!("s{s}");
            append(
                &project.join(format!("{id}.jsonl")),
                &(response(&id, 0) + &response(&id, 1)),
            );
        }
        let store = SqliteStore::open_in_memory().unwrap();
        import_home(home.path(), &store, &ImportOptions::default());
        let sessions: Vec<SessionState> = (0..5)
            .map(|s| {
                store
                    .session(&SessionId::new(format!("s{s}")))
                    .unwrap()
                    .unwrap()
            })
            .collect();
        let one_by_one: Vec<UsageRow> = sessions.iter().flat_map(UsageRow::of_session).collect();
        assert_eq!(one_by_one.len(), 10);
        assert_eq!(every_usage_row(&sessions, 3), one_by_one);
        assert_eq!(every_usage_row(&sessions, 1), one_by_one);
    }

    #[test]
    fn a_resumed_sessions_copy_of_an_earlier_runs_totals_leaves_the_last_ones() {
        let (home, project) = claude_home();
        // Two runs of s1, each ending with the session's totals so far.
        let runs = response("s1", 0)
            + &cost_state("s1", 0.01, 5)
            + &response("s1", 1)
            + &cost_state("s1", 0.02, 10);
        append(&project.join("s1.jsonl"), &runs);
        // A later session's transcript starts with a copy of s1's first run, its totals too.
        let copy = response("s1", 0) + &cost_state("s1", 0.01, 5);
        let one_reader = ImportOptions {
            threads: 1,
            ..ImportOptions::default()
        };
        let figures = |store: &SqliteStore| {
            let s1 = store.session(&SessionId::new("s1")).unwrap().unwrap();
            (s1.tokens.output, s1.total_cost_usd, s1.api_requests)
        };

        // Read in one import (the bigger file first: the copy comes after)…
        append(&project.join("s2.jsonl"), &copy);
        let store = SqliteStore::open_in_memory().unwrap();
        import_home(home.path(), &store, &one_reader);
        assert_eq!(figures(&store), (10, 0.02, 2));

        // …or in a later one, which continues s1 as stored.
        std::fs::remove_file(project.join("s2.jsonl")).unwrap();
        let store = SqliteStore::open_in_memory().unwrap();
        import_home(home.path(), &store, &one_reader);
        append(&project.join("s2.jsonl"), &copy);
        import_home(home.path(), &store, &one_reader);
        assert_eq!(figures(&store), (10, 0.02, 2));
    }

    #[test]
    fn a_catch_up_that_finds_only_a_sessions_last_lines_counts_its_end_at_their_writing() {
        let (home, project) = claude_home();
        let path = project.join("s1.jsonl");
        append(&path, &response("s1", 0));
        let store = SqliteStore::open_in_memory().unwrap();
        import_home(home.path(), &store, &ImportOptions::default());

        // The session ended since: Claude Code wrote its last lines, which carry no time.
        let last =
            r#"{"type":"last-prompt","sessionId":"s1","lastPrompt":"done?"}"#.to_owned() + "\n";
        append(&path, &(last + &cost_state("s1", 0.5, 7)));
        let written: jiff::Timestamp = "2026-11-25T13:00:00Z".parse().unwrap();
        std::fs::File::options()
            .append(true)
            .open(&path)
            .unwrap()
            .set_modified(std::time::SystemTime::try_from(written).unwrap())
            .unwrap();
        import_home(home.path(), &store, &ImportOptions::default());

        let s1 = store.session(&SessionId::new("s1")).unwrap().unwrap();
        assert_eq!(s1.cost_source, cclive_core::CostSource::Reported);
        assert_eq!((s1.total_cost_usd, s1.tokens.output), (0.5, 7));
        assert_eq!(
            (s1.status, s1.ended_at),
            (cclive_core::Status::Completed, Some(written))
        );
    }

    #[test]
    fn a_response_counted_after_claude_codes_own_totals_still_gets_its_row() {
        let (home, project) = claude_home();
        let path = project.join("s1.jsonl");
        append(&path, &(response("s1", 0) + &cost_state("s1", 0.01, 5)));
        let store = SqliteStore::open_in_memory().unwrap();
        import_home(home.path(), &store, &ImportOptions::default());

        // Resumed under the same id: a response the session's tokens (its reported totals) do
        // not show until the run's own `cost-state`, streamed in two lines (a partial count,
        // then the final one); the response's row follows its count all the same.
        let partial = response("s1", 1).replace("\"output_tokens\":5", "\"output_tokens\":2");
        append(&path, &partial);
        import_home(home.path(), &store, &ImportOptions::default());
        append(&path, &response("s1", 1));
        import_home(home.path(), &store, &ImportOptions::default());
        let rows = |store: &SqliteStore| {
            let mut rows: Vec<(String, u64)> = store
                .usage_rows(None, None)
                .unwrap()
                .into_iter()
                .map(|r| (r.key, r.tokens.output))
                .collect();
            rows.sort();
            rows
        };
        assert_eq!(
            rows(&store),
            [("msg_s1_0".to_owned(), 5), ("msg_s1_1".to_owned(), 5)]
        );
    }

    #[test]
    fn a_file_ending_in_an_unfinished_line_is_not_read_again_until_it_grows() {
        let (home, project) = claude_home();
        let path = project.join("s1.jsonl");
        // A writer that crashed mid-line leaves the half line for good.
        let whole = response("s1", 1);
        append(&path, &(response("s1", 0) + &whole[..whole.len() / 2]));
        let store = SqliteStore::open_in_memory().unwrap();
        let dirs = vec![home.path().to_path_buf()];
        let prices = PriceTable::default();
        let run = || import(&dirs, &store, &prices, &ImportOptions::default()).unwrap();
        let first = run();
        assert_eq!(
            (
                first.files_read,
                store.usage_rows(None, None).unwrap().len()
            ),
            (1, 1)
        );
        let again = run();
        assert_eq!((again.files_read, again.files_unchanged), (0, 1));

        // The line is finished: read from its start.
        append(&path, &whole[whole.len() / 2..]);
        let finished = run();
        assert_eq!(finished.files_read, 1);
        assert_eq!(store.usage_rows(None, None).unwrap().len(), 2);
    }

    const ASSISTANT: &str = r#"{"type":"assistant","uuid":"u-a","timestamp":"2026-11-20T10:00:01.000Z","sessionId":"s1","cwd":"/w","message":{"id":"msg_2","model":"claude-sonnet-4-5","content":[{"type":"tool_use","id":"toolu_1","name":"Bash","input":{}}],"stop_reason":"tool_use","usage":{"input_tokens":100,"output_tokens":20}}}"#;
    /// The same response's next content block, with the same final usage (Claude Code 2.1).
    const ASSISTANT_BLOCK: &str = r#"{"type":"assistant","uuid":"u-a2","timestamp":"2026-11-20T10:00:01.010Z","sessionId":"s1","cwd":"/w","message":{"id":"msg_2","model":"claude-sonnet-4-5","content":[{"type":"text","text":"Running it."}],"stop_reason":"tool_use","usage":{"input_tokens":100,"output_tokens":20}}}"#;
    const RESULT: &str = r#"{"type":"user","uuid":"u-r","timestamp":"2026-11-20T10:00:03.000Z","sessionId":"s1","cwd":"/w","message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"ok"}]}}"#;
    const FIRST: &str = r#"{"type":"assistant","uuid":"u-1","timestamp":"2026-11-20T10:00:00.000Z","sessionId":"s1","cwd":"/w","message":{"id":"msg_1","model":"claude-sonnet-4-5","content":[],"stop_reason":"end_turn","usage":{"input_tokens":100,"output_tokens":10}}}"#;

    fn kinds(store: &SqliteStore) -> Vec<&'static str> {
        store
            .events(&SessionId::new("s1"))
            .unwrap()
            .iter()
            .filter_map(|e| match e.kind {
                EventKind::ToolUse { .. } => Some("tool_use"),
                EventKind::ToolResult { .. } => Some("tool_result"),
                EventKind::Usage { .. } => Some("usage"),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_catch_up_keeps_the_events_a_live_read_would_once() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("projects/-w");
        std::fs::create_dir_all(&project).unwrap();
        let file = project.join("s1.jsonl");
        std::fs::write(&file, format!("{FIRST}\n")).unwrap();
        let store = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
        let prices = PriceTable::default();
        let dirs = [dir.path().to_path_buf()];
        let options = ImportOptions {
            threads: 1,
            progress: false,
            drain_hook_spool: None,
            shared_progress: None,
            finalize: false,
        };
        import(&dirs, &store, &prices, &options).unwrap();
        assert!(kinds(&store).is_empty(), "a first import keeps no events");

        // Lines written while no monitor ran (killed), read by the next one's catch-up.
        let text = std::fs::read_to_string(&file).unwrap();
        std::fs::write(
            &file,
            format!("{text}{ASSISTANT}\n{ASSISTANT_BLOCK}\n{RESULT}\n"),
        )
        .unwrap();
        import(&dirs, &store, &prices, &options).unwrap();
        // The response's usage once, though two lines report it.
        assert_eq!(kinds(&store), ["usage", "tool_use", "tool_result"]);

        import(&dirs, &store, &prices, &options).unwrap();
        assert_eq!(kinds(&store).len(), 3, "a second catch-up adds nothing");
    }

    #[test]
    fn a_session_an_import_ends_has_its_end_in_its_timeline() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("projects/-w");
        std::fs::create_dir_all(&project).unwrap();
        // Cut off mid-turn long ago (a tool call never answered), in a folder no claude runs in.
        std::fs::write(project.join("s1.jsonl"), format!("{ASSISTANT}\n")).unwrap();
        let store = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
        let options = ImportOptions {
            threads: 1,
            finalize: true,
            ..ImportOptions::default()
        };
        let report = import(
            &[dir.path().to_path_buf()],
            &store,
            &PriceTable::default(),
            &options,
        )
        .unwrap();
        assert_eq!(report.finalized, 1);
        let id = SessionId::new("s1");
        assert!(!store.session(&id).unwrap().unwrap().status.is_live());
        let endings: Vec<Event> = store
            .events(&id)
            .unwrap()
            .into_iter()
            .filter(|e| matches!(e.kind, EventKind::ProcessGone { .. }))
            .collect();
        assert_eq!(endings.len(), 1, "{endings:?}");
    }

    /// The lines at the old fixed date, moved to the last hour.
    fn recent(line: &str) -> String {
        let hour_ago = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1);
        let date = hour_ago.strftime("%Y-%m-%dT%H").to_string();
        line.replace("2026-11-20T10", &date)
    }

    #[test]
    fn a_first_import_keeps_the_events_of_the_last_day() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("projects/-w");
        std::fs::create_dir_all(&project).unwrap();
        // An old session and one that ran within the hour (its first monitor killed before it
        // stored anything, say).
        std::fs::write(
            project.join("s1.jsonl"),
            format!("{}\n{}\n", recent(ASSISTANT), recent(RESULT)),
        )
        .unwrap();
        std::fs::write(
            project.join("old.jsonl"),
            format!(
                "{}\n",
                ASSISTANT
                    .replace("\"s1\"", "\"old\"")
                    .replace("msg_2", "msg_old")
                    .replace("toolu_1", "toolu_old")
            ),
        )
        .unwrap();
        let store = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
        let options = ImportOptions {
            threads: 1,
            progress: false,
            drain_hook_spool: None,
            shared_progress: None,
            finalize: false,
        };
        import(
            &[dir.path().to_path_buf()],
            &store,
            &PriceTable::default(),
            &options,
        )
        .unwrap();
        assert_eq!(kinds(&store), ["usage", "tool_use", "tool_result"]);
        assert!(store.events(&SessionId::new("old")).unwrap().is_empty());
    }
}
