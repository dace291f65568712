//! The monitor service: events in, session state folded, sinks fed.
//!
//! One task owns the [`Monitor`]. Sources send [`Event`]s (and the checkpoints of what they
//! read) through an [`EventSink`]. For each event the task applies it, calls the registered
//! callbacks with the [`Update`], and owes the state file a rewrite (throttled). Every
//! `flush_interval` it hands the store writer one batch: the latest state of each session that
//! changed, the events to keep, per-response usage rows, and checkpoints — in that order, so a
//! checkpoint is only committed with the data read before it. A one-second tick keeps live
//! durations moving. With a store, a session the monitor does not hold is read back from it
//! (with its ledger) before its first new event, so a restart continues sessions instead of
//! recounting them. When every sink handle is dropped the task drains, writes the final state
//! everywhere and returns what it saw.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use cclive_core::{
    Event, EventKind, Monitor, PriceTable, SessionId, SessionState, Snapshot, Source, Update,
    UpdateKind,
};
use cclive_store::{Batch, Checkpoint, Store, UsageRow};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::monitor::state_file::StateFileWriter;
use crate::monitor::writer::StoreWriter;

/// A function called with every update, in order, on the monitor task. Keep it quick; spawn
/// work elsewhere if it may block.
pub type Callback = Arc<dyn Fn(&Update) + Send + Sync>;

/// What the monitor service needs.
#[derive(Clone)]
pub struct PipelineConfig {
    /// Where to write the state file, if anywhere.
    pub state_file: Option<PathBuf>,
    /// The history store, if any.
    pub store: Option<Arc<dyn Store>>,
    /// Prices for estimates.
    pub prices: PriceTable,
    /// Called with every update.
    pub callbacks: Vec<Callback>,
    /// Called with every update once the store has committed what it changed (at once without
    /// a store), on the writer thread, in order: integrations that must not fire twice for one
    /// transition. A monitor killed before the commit never fired it, and the next one (which
    /// finds nothing stored) fires it once; killed after, the next one reads the change back
    /// and has nothing to fire. Keep them quick.
    pub committed_callbacks: Vec<Callback>,
    /// Minimum time between two state-file writes.
    pub state_file_interval: Duration,
    /// How often live durations move.
    pub tick: Duration,
    /// How often changes go to the store.
    pub flush_interval: Duration,
    /// Receives every new snapshot (for the HTTP server), at the state file's pace.
    pub snapshots: Option<watch::Sender<Snapshot>>,
    /// Sessions to start with (e.g. live sessions read back from the store after a restart).
    pub initial_sessions: Vec<SessionState>,
    /// Receives a copy of every event applied (e.g. to forward them to a running monitor).
    pub tap: Option<mpsc::UnboundedSender<Event>>,
    /// Called on the store's writer thread after each commit (e.g. to wake the team uploader);
    /// must return at once.
    pub after_commit: Option<Arc<dyn Fn() + Send + Sync>>,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            state_file: None,
            store: None,
            prices: PriceTable::builtin(),
            callbacks: Vec::new(),
            committed_callbacks: Vec::new(),
            state_file_interval: Duration::from_millis(50),
            tick: Duration::from_secs(1),
            flush_interval: Duration::from_millis(100),
            snapshots: None,
            initial_sessions: Vec::new(),
            tap: None,
            after_commit: None,
        }
    }
}

/// Finished sessions kept in memory (the state file shows the latest; the rest are in the store).
const KEEP_FINISHED: usize = 16;
/// How long after its last change a finished session may be forgotten (well past the writer's
/// commit of it), on the monitor's clock.
const PRUNE_AFTER: Duration = Duration::from_mins(1);

enum Input {
    Event { event: Event, keep: bool },
    Checkpoint(Checkpoint),
    Sync(oneshot::Sender<Vec<SessionState>>),
}

/// Where sources send events. Cheap to clone; the service stops when every clone is dropped.
#[derive(Clone, Debug)]
pub struct EventSink {
    tx: mpsc::Sender<Input>,
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Input")
    }
}

impl EventSink {
    /// Sends one event, to be applied and kept in the store. Returns false when the monitor is
    /// gone.
    pub async fn send(&self, event: Event) -> bool {
        self.tx
            .send(Input::Event { event, keep: true })
            .await
            .is_ok()
    }

    /// Sends one event to apply without keeping it as an event in the store (bulk catch-up: the
    /// session's state and usage are still stored).
    pub async fn send_unkept(&self, event: Event) -> bool {
        self.tx
            .send(Input::Event { event, keep: false })
            .await
            .is_ok()
    }

    /// Records how far a file has been read; stored with the data sent before it.
    pub async fn checkpoint(&self, checkpoint: Checkpoint) -> bool {
        self.tx.send(Input::Checkpoint(checkpoint)).await.is_ok()
    }

    /// Waits until everything sent before has been applied; returns the live sessions.
    pub async fn sync(&self) -> Vec<SessionState> {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Input::Sync(tx)).await.is_err() {
            return Vec::new();
        }
        rx.await.unwrap_or_default()
    }
}

/// What the service saw, returned when it stops.
#[derive(Debug, Clone)]
pub struct PipelineReport {
    /// Every session's final state.
    pub sessions: Vec<SessionState>,
    /// Failed history writes.
    pub store_failures: u64,
    /// True when something could not be stored in the end.
    pub unsaved: bool,
}

/// Starts the monitor service on the current tokio runtime.
pub fn spawn(config: PipelineConfig) -> std::io::Result<(EventSink, JoinHandle<PipelineReport>)> {
    let (sink, inputs) = channel();
    Ok((sink, spawn_on(inputs, config)?))
}

/// What was sent to an [`EventSink`] before its service started.
pub struct Inputs(mpsc::Receiver<Input>);

/// A sink whose service starts later ([`spawn_on`]): what is sent before waits, in order (up
/// to the channel's bound, then senders wait). The monitor runtime hands it to its services
/// before the catch-up import, and starts the service after it.
pub fn channel() -> (EventSink, Inputs) {
    let (tx, rx) = mpsc::channel(4096);
    (EventSink { tx }, Inputs(rx))
}

/// Starts the monitor service of a sink made by [`channel`].
pub fn spawn_on(
    inputs: Inputs,
    config: PipelineConfig,
) -> std::io::Result<JoinHandle<PipelineReport>> {
    let writer = config
        .store
        .clone()
        .map(|store| {
            StoreWriter::spawn_with(
                store,
                config.after_commit.clone(),
                config.committed_callbacks.clone(),
            )
        })
        .transpose()?;
    Ok(tokio::spawn(run(inputs.0, config, writer)))
}

struct Service {
    monitor: Monitor,
    config: PipelineConfig,
    writer: Option<StoreWriter>,
    state_file: Option<StateFileWriter>,
    dirty: HashSet<SessionId>,
    /// When each session was last handed to the writer, for the last [`PRUNE_AFTER`]: not
    /// forgotten before then.
    written_at: HashMap<SessionId, tokio::time::Instant>,
    /// Sessions past their replay: one of their responses was nobody else's, so the ones that
    /// follow are their own too (a resumed session replays its parent's at its start).
    answering: HashSet<SessionId>,
    pending: Batch,
    /// The responses of the batches handed to the writer and not known to be committed, by
    /// batch number: with those waiting in `pending`, what the store may not hold yet.
    in_flight: VecDeque<(u64, Vec<(SessionId, String)>)>,
    /// Updates for the committed callbacks, handed to the writer with the next batch.
    deferred: Vec<Update>,
    snapshot_owed: bool,
}

impl Service {
    /// The snapshot to publish. Its sessions carry their figures and, of their ledgers, only the
    /// responses the store may not hold yet: a reader of the store (the server's window totals)
    /// adds those, fresher than the store by a flush. A snapshot that shared a session's whole
    /// ledger made the session copy it at its next change: 22 % of a line's cost for a session
    /// of 1,459 responses.
    fn snapshot(&mut self) -> Snapshot {
        let committed = self
            .writer
            .as_ref()
            .map_or(u64::MAX, StoreWriter::committed);
        while self.in_flight.front().is_some_and(|(n, _)| *n <= committed) {
            self.in_flight.pop_front();
        }
        let mut unstored: HashMap<&SessionId, Vec<&str>> = HashMap::new();
        let waiting = self.pending.usage.iter().map(|r| (&r.session_id, &r.key));
        let handed = self
            .in_flight
            .iter()
            .flat_map(|(_, rows)| rows.iter().map(|(s, k)| (s, k)));
        for (session, key) in handed.chain(waiting) {
            unstored.entry(session).or_default().push(key);
        }
        let mut s = self.monitor.snapshot_as(jiff::Timestamp::now(), |held| {
            match unstored.get(&held.session_id) {
                Some(keys) => held.figures_with_usage(keys.iter().copied()),
                None => held.figures(),
            }
        });
        s.monitor_pid = Some(std::process::id());
        s
    }

    async fn handle(&mut self, input: Input) {
        match input {
            Input::Event { event, keep } => {
                self.read_back(&event.session_id).await;
                self.claim_stored_owner(&event).await;
                self.apply(event, keep);
            }
            Input::Checkpoint(c) => self.pending.checkpoints.push(c),
            Input::Sync(reply) => {
                let live = self
                    .monitor
                    .sessions()
                    .filter(|s| s.status.is_live())
                    .cloned()
                    .collect();
                let _ = reply.send(live);
            }
        }
    }

    /// Reads a session the monitor does not hold back from the store, so its figures go on
    /// from where they were. The read runs on a blocking thread (the store's connection may
    /// wait on the writer's transaction); the service waits for it, so events keep their order.
    async fn read_back(&mut self, id: &SessionId) {
        let Some(store) = &self.config.store else {
            return;
        };
        if self.monitor.contains(id) {
            return;
        }
        let (store, read_id) = (Arc::clone(store), id.clone());
        match tokio::task::spawn_blocking(move || store.session(&read_id)).await {
            Ok(Ok(Some(stored))) => self.monitor.insert(stored),
            Ok(Ok(None)) => {}
            Ok(Err(e)) => tracing::warn!(session = %id, "Cannot read the session back: {e}"),
            Err(e) => tracing::warn!(session = %id, "Cannot read the session back: {e}"),
        }
    }

    /// A response another stored session owns (a resumed session replays its parent's) is
    /// folded into that session, as an import does and as a monitor that held the parent
    /// would: a key the monitor does not know is looked up, and its owner read back. Only
    /// until the session's first response of its own: a replay is a resumed session's start,
    /// so a session costs a lookup or so, not one per response.
    /// A `cclive replay` session shows a recorded session's figures again under its own id, so
    /// its reports are not claimed.
    async fn claim_stored_owner(&mut self, event: &Event) {
        let (Some(store), EventKind::Usage { key, .. }) = (&self.config.store, &event.kind) else {
            return;
        };
        if self.answering.contains(&event.session_id)
            || self.monitor.usage_owner(key).is_some()
            || self
                .monitor
                .session(&event.session_id)
                .is_some_and(|s| s.source == Source::Replay)
        {
            return;
        }
        let (store, lookup) = (Arc::clone(store), key.clone());
        let owner = match tokio::task::spawn_blocking(move || store.usage_owner(&lookup)).await {
            Ok(Ok(owner)) => owner,
            Ok(Err(e)) => {
                tracing::warn!(session = %event.session_id, "Cannot look a response up: {e}");
                return;
            }
            Err(e) => {
                tracing::warn!(session = %event.session_id, "Cannot look a response up: {e}");
                return;
            }
        };
        match owner.filter(|o| *o != event.session_id) {
            Some(owner) => {
                self.read_back(&owner).await;
                self.monitor.claim_usage(key, &owner);
            }
            None => {
                self.answering.insert(event.session_id.clone());
            }
        }
    }

    fn apply(&mut self, event: Event, keep: bool) {
        // Stored as counted: an event with unbelievable figures is kept as its input error.
        let event = event.screened();
        // Another source's report of what the session already holds is applied (it may fill
        // in details) but kept once: the first report.
        let repeat = self.monitor.repeats(&event);
        if let Some(tap) = &self.config.tap {
            let _ = tap.send(event.clone());
        }
        let applied = self.monitor.apply_for_store(&event);
        // A replay (`cclive replay`) shows a recorded session's figures again: its responses
        // are already in the per-response usage table, under the original. Without a store,
        // nothing is kept for one.
        if let Some((holder, counted)) = applied.usage
            && holder.source != Source::Replay
            && self.writer.is_some()
        {
            let mut row = UsageRow::counted(&holder.session_id, &counted);
            row.at = row.at.min(event.at);
            self.pending.usage.push(row);
        }
        if self.writer.is_some() {
            self.pending.retired_usage.extend(applied.retired_usage);
        }
        let update = applied.update;
        // A transient event (a streaming response's output growing, dozens a second) moves
        // the live figures only: the store learns the response's final usage.
        let transient = event.kind.is_transient();
        if let Some(update) = update {
            if transient {
                // Nor do integrations hear of it (a `progress` webhook or `[[on_change]]`
                // command dozens of times a second): the final usage's update tells them.
                for callback in &self.config.callbacks {
                    callback(&update);
                }
            } else {
                self.dirty.insert(update.session.session_id.clone());
                self.notify(update);
            }
            self.owe_snapshot();
        }
        // An event is kept only with a session to belong to (a replayed response that was
        // rerouted to a session held elsewhere has none here).
        if keep
            && !transient
            && !repeat
            && self.writer.is_some()
            && self.monitor.contains(&event.session_id)
        {
            self.dirty.insert(event.session_id.clone());
            self.pending.events.push(event);
        }
    }

    /// Calls the callbacks now, and the committed callbacks after the writer's next commit.
    fn notify(&mut self, update: Update) {
        if update.kind == UpdateKind::Ended {
            // Nothing more to remember of it (a revived session costs one more lookup).
            self.answering.remove(&update.session.session_id);
        }
        for callback in &self.config.callbacks {
            callback(&update);
        }
        if self.config.committed_callbacks.is_empty() {
            return;
        }
        if self.writer.is_some() {
            self.deferred.push(update);
        } else {
            for callback in &self.config.committed_callbacks {
                callback(&update);
            }
        }
    }

    fn owe_snapshot(&mut self) {
        self.snapshot_owed = true;
        if let Some(sf) = &mut self.state_file {
            sf.mark_dirty();
        }
    }

    fn tick(&mut self) {
        for update in self.monitor.tick(jiff::Timestamp::now()) {
            self.notify(update);
            self.owe_snapshot();
        }
    }

    /// Hands the writer what changed since the last flush.
    fn flush(&mut self) {
        let Some(writer) = &mut self.writer else {
            return;
        };
        let mut batch = std::mem::take(&mut self.pending);
        let now = tokio::time::Instant::now();
        // Copies that carry what changed of their ledgers since the last ones: the store
        // writes that, not the whole ledgers (`Monitor::hand_over`).
        batch.sessions = self
            .dirty
            .drain()
            .filter_map(|id| {
                let session = self.monitor.hand_over(&id);
                self.written_at.insert(id, now);
                session
            })
            .collect();
        let responses: Vec<(SessionId, String)> = batch
            .usage
            .iter()
            .map(|r| (r.session_id.clone(), r.key.clone()))
            .collect();
        let number = writer.send_with(batch, std::mem::take(&mut self.deferred));
        if !responses.is_empty() {
            self.in_flight.push_back((number, responses));
        }
        // Forget sessions that ended a while ago and were not written lately: they are in the
        // store, and are read back if they ever change again.
        self.written_at
            .retain(|_, at| now.saturating_duration_since(*at) < PRUNE_AFTER);
        let written_at = &self.written_at;
        self.monitor
            .prune_finished_except(KEEP_FINISHED, |id| written_at.contains_key(id));
    }

    fn publish(&mut self) {
        let due = self.state_file.as_ref().and_then(StateFileWriter::due_at);
        let now = tokio::time::Instant::now();
        if self.snapshot_owed && due.is_none_or(|d| d <= now) {
            let snapshot = self.snapshot();
            // Live readers first; the state file's disk write happens on its own thread.
            if let Some(tx) = &self.config.snapshots {
                tx.send_replace(snapshot.clone());
            }
            if let Some(sf) = &mut self.state_file {
                sf.write_now(snapshot);
            }
            self.snapshot_owed = false;
        }
    }
}

async fn run(
    mut rx: mpsc::Receiver<Input>,
    config: PipelineConfig,
    writer: Option<StoreWriter>,
) -> PipelineReport {
    let mut monitor = Monitor::new(config.prices.clone());
    for s in config.initial_sessions.iter().cloned() {
        monitor.insert(s);
    }
    let state_file = config
        .state_file
        .clone()
        .map(|p| StateFileWriter::new(p, config.state_file_interval));
    let (tick_every, flush_every) = (config.tick, config.flush_interval);
    let mut svc = Service {
        monitor,
        config,
        writer,
        state_file,
        dirty: HashSet::new(),
        written_at: HashMap::new(),
        answering: HashSet::new(),
        pending: Batch::default(),
        in_flight: VecDeque::new(),
        deferred: Vec::new(),
        snapshot_owed: true,
    };

    if let Some(sf) = &mut svc.state_file {
        // The state file says what is true from the start (INACTIVE when nothing runs).
        sf.mark_dirty();
    }
    // Timers run only when there is something for them to do, so an idle monitor sleeps: the
    // tick while a session is live (its duration moves), the flush while changes wait.
    let mut next_tick: Option<Instant> = None;
    let mut next_flush: Option<Instant> = None;
    loop {
        let due = svc
            .snapshot_owed
            .then(|| svc.state_file.as_ref().and_then(StateFileWriter::due_at))
            .flatten();
        let live = svc.monitor.sessions().any(|s| s.status.is_live());
        next_tick = match (live, next_tick) {
            (true, None) => Some(Instant::now() + tick_every),
            (true, kept) => kept,
            (false, _) => None,
        };
        let waiting = !svc.dirty.is_empty() || !svc.pending.is_empty() || !svc.deferred.is_empty();
        next_flush = match (waiting && svc.writer.is_some(), next_flush) {
            (true, None) => Some(Instant::now() + flush_every),
            (true, kept) => kept,
            (false, _) => None,
        };
        tokio::select! {
            biased;
            received = rx.recv() => {
                let Some(first) = received else { break };
                svc.handle(first).await;
                while let Ok(more) = rx.try_recv() {
                    svc.handle(more).await;
                }
            }
            () = sleep_until_opt(due) => {}
            () = sleep_until_opt(next_tick) => {
                next_tick = None;
                svc.tick();
            }
            () = sleep_until_opt(next_flush) => {
                next_flush = None;
                svc.flush();
            }
        }
        svc.publish();
    }

    // The sources are done: store the final states, then write the final snapshot.
    svc.dirty
        .extend(svc.monitor.sessions().map(|s| s.session_id.clone()));
    svc.flush();
    let sessions: Vec<SessionState> = svc.monitor.sessions().cloned().collect();
    let (mut store_failures, mut unsaved) = (0, false);
    if let Some(w) = svc.writer.take() {
        let report = tokio::task::spawn_blocking(move || w.finish())
            .await
            .unwrap_or_default();
        store_failures = report.failures;
        unsaved = report.unsaved;
    }
    let snapshot = svc.snapshot();
    if let Some(tx) = &svc.config.snapshots {
        tx.send_replace(snapshot.clone());
    }
    if let Some(mut sf) = svc.state_file.take() {
        sf.write_now(snapshot);
        // The final state is on disk before the monitor says it has stopped.
        let _ = tokio::task::spawn_blocking(move || sf.finish()).await;
    }
    PipelineReport {
        sessions,
        store_failures,
        unsaved,
    }
}

async fn sleep_until_opt(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use cclive_core::{EventKind, Mode, Tokens, UpdateKind};
    use cclive_store::SqliteStore;

    use super::*;

    fn event(at_ms: i64, kind: EventKind) -> Event {
        Event::new(
            SessionId::new("s1"),
            jiff::Timestamp::from_millisecond(1_795_600_000_000 + at_ms).unwrap(),
            kind,
        )
    }

    fn started(source: &str) -> EventKind {
        EventKind::SessionStarted {
            mode: Mode::Print,
            command: None,
            cwd: None,
            project_path: None,
            session_type: None,
            source: source.into(),
        }
    }

    fn usage(key: &str, cost: Option<f64>) -> EventKind {
        EventKind::Usage {
            key: key.into(),
            request_id: Some("req_1".into()),
            reported_cost_usd: cost,
            model: Some("claude-opus-5-5".into()),
            tokens: Tokens {
                input: 1200,
                output: 42,
                cache_read: 5000,
                cache_creation: 300,
                ..Tokens::default()
            },
            is_final: true,
            sidechain: false,
        }
    }

    #[tokio::test]
    async fn telemetry_before_the_transcript_leaves_one_usage_row_under_the_message_id() {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().unwrap());
        let (sink, task) = spawn(PipelineConfig {
            store: Some(store.clone()),
            flush_interval: Duration::from_millis(10),
            ..PipelineConfig::default()
        })
        .unwrap();
        sink.send(event(0, started("otel"))).await;
        sink.send(event(1, usage("req:req_1", Some(0.00814)))).await;
        // Let a flush write the placeholder's row first, as a live monitor would.
        let rows = until_some(|| store.usage_rows(None, None).unwrap().into_iter().next()).await;
        assert_eq!(rows.key, "req:req_1");
        sink.send(event(2, started("transcript"))).await;
        sink.send(event(3, usage("msg_1", None))).await;
        drop(sink);
        task.await.unwrap();

        let rows = store.usage_rows(None, None).unwrap();
        let keys: Vec<&str> = rows.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(keys, ["msg_1"], "the placeholder's row is retired");
        let session = store.session(&SessionId::new("s1")).unwrap().unwrap();
        assert_eq!(session.api_requests, 1);
        assert!((session.total_cost_usd - 0.00814).abs() < 1e-12);
    }

    /// A hook of a [`Hooked`] store.
    type Hook<F> = Option<Box<F>>;

    /// What a [`Hooked`] store does before some of its calls.
    #[derive(Default)]
    struct Hooks {
        /// Before a batch is written (e.g. hold its commit).
        write: Hook<dyn Fn(&Batch) + Send + Sync>,
        /// Before a session is read; `false`: it reads nothing.
        session: Hook<dyn Fn() -> bool + Send + Sync>,
        /// Before a response's owner is looked up (e.g. count lookups).
        usage_owner: Hook<dyn Fn() + Send + Sync>,
    }

    /// A real store, with [`Hooks`] run before its calls.
    struct Hooked {
        inner: SqliteStore,
        hooks: Hooks,
    }

    impl Hooked {
        fn new(inner: SqliteStore, hooks: Hooks) -> Arc<Self> {
            Arc::new(Self { inner, hooks })
        }
    }

    impl Store for Hooked {
        fn write(&self, batch: &Batch) -> Result<(), cclive_store::StoreError> {
            if let Some(hook) = &self.hooks.write {
                hook(batch);
            }
            self.inner.write(batch)
        }
        fn session(
            &self,
            id: &SessionId,
        ) -> Result<Option<SessionState>, cclive_store::StoreError> {
            if self.hooks.session.as_ref().is_some_and(|hook| !hook()) {
                return Ok(None);
            }
            self.inner.session(id)
        }
        fn sessions(
            &self,
            q: &cclive_store::SessionQuery,
        ) -> Result<Vec<SessionState>, cclive_store::StoreError> {
            self.inner.sessions(q)
        }
        fn events(&self, id: &SessionId) -> Result<Vec<Event>, cclive_store::StoreError> {
            self.inner.events(id)
        }
        fn usage_totals(&self, id: &SessionId) -> Result<(Tokens, u64), cclive_store::StoreError> {
            self.inner.usage_totals(id)
        }
        fn usage_owner(&self, key: &str) -> Result<Option<SessionId>, cclive_store::StoreError> {
            if let Some(hook) = &self.hooks.usage_owner {
                hook();
            }
            self.inner.usage_owner(key)
        }
        fn usage_rows(
            &self,
            since: Option<jiff::Timestamp>,
            until: Option<jiff::Timestamp>,
        ) -> Result<Vec<UsageRow>, cclive_store::StoreError> {
            self.inner.usage_rows(since, until)
        }
        fn checkpoints(&self) -> Result<Vec<Checkpoint>, cclive_store::StoreError> {
            self.inner.checkpoints()
        }
        fn checkpoint(
            &self,
            path: &std::path::Path,
        ) -> Result<Option<Checkpoint>, cclive_store::StoreError> {
            self.inner.checkpoint(path)
        }
    }

    #[tokio::test]
    async fn a_resumed_session_replaying_a_stored_response_does_not_count_it_again() {
        let owner_lookups = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = owner_lookups.clone();
        let store: Arc<dyn Store> = Hooked::new(
            SqliteStore::open_in_memory().unwrap(),
            Hooks {
                usage_owner: Some(Box::new(move || {
                    counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                })),
                ..Hooks::default()
            },
        );
        let answer = |session: &str, at_ms: i64, key: &str| {
            let mut e = event(at_ms, usage(key, None));
            e.session_id = SessionId::new(session);
            if let EventKind::Usage { request_id, .. } = &mut e.kind {
                *request_id = None;
            }
            e
        };
        let start = |session: &str| {
            let mut e = event(0, started("transcript"));
            e.session_id = SessionId::new(session);
            e
        };
        let run = |events: Vec<Event>| {
            let store = store.clone();
            async move {
                let (sink, task) = spawn(PipelineConfig {
                    store: Some(store),
                    ..PipelineConfig::default()
                })
                .unwrap();
                for e in events {
                    sink.send(e).await;
                }
                drop(sink);
                task.await.unwrap();
            }
        };
        // One monitor stored s1; the next sees s2, resumed from it, replay s1's response first.
        run(vec![start("s1"), answer("s1", 1, "msg_1")]).await;
        let before = owner_lookups.load(std::sync::atomic::Ordering::Relaxed);
        run(vec![
            start("s2"),
            answer("s2", 2, "msg_1"),
            answer("s2", 3, "msg_2"),
            answer("s2", 4, "msg_3"),
            answer("s2", 5, "msg_4"),
        ])
        .await;
        // msg_1 (s1's) and msg_2 (its own: the replay is over), no lookup after that.
        let lookups = owner_lookups.load(std::sync::atomic::Ordering::Relaxed) - before;
        assert_eq!(lookups, 2);

        let tokens = |id: &str| {
            store
                .session(&SessionId::new(id))
                .unwrap()
                .unwrap()
                .tokens
                .output
        };
        assert_eq!(
            (tokens("s1"), tokens("s2")),
            (42, 3 * 42),
            "msg_1 counts once, in s1"
        );
        let rows = store.usage_rows(None, None).unwrap();
        let owners: Vec<(&str, &str)> = rows
            .iter()
            .map(|r| (r.key.as_str(), r.session_id.as_str()))
            .collect();
        assert_eq!(
            owners,
            [
                ("msg_1", "s1"),
                ("msg_2", "s2"),
                ("msg_3", "s2"),
                ("msg_4", "s2")
            ]
        );
    }

    /// Polls `check` until it gives a value (a generous deadline: a failure, not a timing).
    async fn until_some<T>(mut check: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(found) = check() {
                return found;
            }
            assert!(Instant::now() < deadline, "the condition never held");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// A session's start and end through a pipeline with `callback` as its committed callback.
    async fn start_and_end(store: Arc<dyn Store>, callback: Callback) {
        let (sink, task) = spawn(PipelineConfig {
            store: Some(store),
            committed_callbacks: vec![callback],
            ..PipelineConfig::default()
        })
        .unwrap();
        sink.send(event(0, started("wrapper"))).await;
        sink.send(event(1, EventKind::SessionEnded { reason: None }))
            .await;
        drop(sink);
        task.await.unwrap();
    }

    /// A store whose commit of a batch with a usage row of `key` waits until `release` is
    /// sent to; `entered` hears when it waits.
    fn holding_the_commit_of(
        key: &'static str,
    ) -> (
        Arc<Hooked>,
        std::sync::mpsc::Receiver<()>,
        std::sync::mpsc::Sender<()>,
    ) {
        let (entered_tx, entered) = std::sync::mpsc::channel();
        let (release, release_rx) = std::sync::mpsc::channel();
        let (entered_tx, release_rx) = (
            std::sync::Mutex::new(entered_tx),
            std::sync::Mutex::new(release_rx),
        );
        let store = Hooked::new(
            SqliteStore::open_in_memory().unwrap(),
            Hooks {
                write: Some(Box::new(move |batch: &Batch| {
                    if batch.usage.iter().any(|u| u.key == key) {
                        let _ = entered_tx.lock().unwrap().send(());
                        let _ = release_rx.lock().unwrap().recv();
                    }
                })),
                ..Hooks::default()
            },
        );
        (store, entered, release)
    }

    #[tokio::test]
    async fn a_finished_session_changed_again_is_not_forgotten_before_its_write_is_committed() {
        // The commit of the batch carrying `msg_late_1` waits until released.
        let (store, entered, release) = holding_the_commit_of("msg_late_1");
        let (tap, mut applied) = mpsc::unbounded_channel();
        let (sink, task) = spawn(PipelineConfig {
            store: Some(store.clone()),
            flush_interval: Duration::from_millis(10),
            tap: Some(tap),
            ..PipelineConfig::default()
        })
        .unwrap();
        let exited = || EventKind::ProcessExited {
            code: Some(0),
            signal: None,
        };
        // History read back from transcripts: every time long past. s1 ended first, and more
        // sessions ended after it than the monitor keeps in memory.
        sink.send(event(0, started("transcript"))).await;
        sink.send(event(1, usage("msg_1", None))).await;
        sink.send(event(2, exited())).await;
        for n in 0..=KEEP_FINISHED {
            let id = SessionId::new(format!("later-{n}"));
            for (at, kind) in [(10, started("transcript")), (11, exited())] {
                sink.send(Event {
                    session_id: id.clone(),
                    ..event(at, kind)
                })
                .await;
            }
        }
        until_some(|| store.session(&SessionId::new("s1")).unwrap()).await;
        // More of s1 (a sub-agent's file read late): its write takes a while to commit…
        let late = |key: &str| {
            let mut kind = usage(key, None);
            if let EventKind::Usage { request_id, .. } = &mut kind {
                *request_id = Some(format!("req_{key}"));
            }
            kind
        };
        sink.send(event(3, late("msg_late_1"))).await;
        until_some(|| entered.try_recv().ok()).await;
        // …and the next change comes before it has.
        sink.send(event(4, late("msg_late_2"))).await;
        until_some(|| {
            applied
                .try_recv()
                .ok()
                .filter(|e| matches!(&e.kind, EventKind::Usage { key, .. } if key == "msg_late_2"))
        })
        .await;
        release.send(()).unwrap();
        drop(sink);
        task.await.unwrap();

        let s1 = store.session(&SessionId::new("s1")).unwrap().unwrap();
        assert_eq!(s1.api_requests, 3, "no change lost");
        assert_eq!(store.usage_totals(&SessionId::new("s1")).unwrap().1, 3);
    }

    #[tokio::test]
    async fn a_snapshot_carries_the_responses_the_store_may_not_hold_yet_and_only_those() {
        // The commit of the batch carrying `msg_2` waits until released.
        let (store, entered, release) = holding_the_commit_of("msg_2");
        let (snapshots, mut published) = watch::channel(Snapshot::inactive(jiff::Timestamp::now()));
        let (sink, task) = spawn(PipelineConfig {
            store: Some(store.clone()),
            flush_interval: Duration::from_millis(10),
            snapshots: Some(snapshots),
            ..PipelineConfig::default()
        })
        .unwrap();
        let tool = |n: u32| EventKind::ToolUse {
            tool_use_id: format!("toolu_{n}"),
            name: "Bash".into(),
            sidechain: false,
        };
        // The responses of the live session in the first snapshot after its `n`th tool call.
        let mut responses_after_tool = async |n: u64| -> Vec<String> {
            loop {
                published.changed().await.unwrap();
                let snapshot = published.borrow_and_update().clone();
                let Some(s) = snapshot.active_sessions.first() else {
                    continue;
                };
                if s.tool_calls.get("Bash") == Some(&n) {
                    return s.usage_by_key().map(|u| u.key.to_owned()).collect();
                }
            }
        };
        sink.send(event(0, started("transcript"))).await;
        sink.send(event(1, usage("msg_1", None))).await;
        until_some(|| store.usage_rows(None, None).unwrap().into_iter().next()).await;
        // msg_2 is handed to the writer, whose commit of it waits.
        sink.send(event(2, usage("msg_2", None))).await;
        until_some(|| entered.try_recv().ok()).await;
        sink.send(event(3, tool(1))).await;
        assert_eq!(
            responses_after_tool(1).await,
            ["msg_2"],
            "handed over, not committed: in; stored: out"
        );
        release.send(()).unwrap();
        until_some(|| store.usage_owner("msg_2").unwrap()).await;
        // The writer says it committed right after it did; a snapshot after that has none.
        let mut calls = 1;
        loop {
            calls += 1;
            assert!(calls < 1000, "the snapshots never lost msg_2");
            sink.send(event(4, tool(calls))).await;
            if responses_after_tool(u64::from(calls)).await.is_empty() {
                break;
            }
        }
        drop(sink);
        task.await.unwrap();
    }

    #[tokio::test]
    async fn committed_callbacks_hear_of_a_change_only_once_the_store_holds_it() {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().unwrap());
        let heard = Arc::new(std::sync::Mutex::new(Vec::new()));
        let callback: Callback = {
            let (store, heard) = (Arc::clone(&store), Arc::clone(&heard));
            Arc::new(move |u: &Update| {
                let stored = store.session(&u.session.session_id).unwrap();
                heard
                    .lock()
                    .unwrap()
                    .push((u.session.status, stored.map(|s| s.status)));
            })
        };
        start_and_end(store, callback).await;
        let heard = heard.lock().unwrap().clone();
        assert!(!heard.is_empty());
        let last = heard.last().unwrap();
        assert_eq!(last.0, cclive_core::Status::Completed);
        for (status, stored) in &heard {
            let stored = stored.expect("stored before it was heard of");
            // The store holds this change or a later one (batches coalesce).
            assert!(
                stored == *status || stored == cclive_core::Status::Completed,
                "{heard:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_start_and_an_end_two_processes_see_are_announced_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.db");
        let heard = Arc::new(std::sync::Mutex::new(Vec::new()));
        // A `cclive run` writing on its own and a monitor following the same session (or a
        // monitor and its successor after a restart): two pipelines on one database.
        for _ in 0..2 {
            let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
            let callback: Callback = {
                let heard = Arc::clone(&heard);
                Arc::new(move |u: &Update| heard.lock().unwrap().push(u.kind))
            };
            start_and_end(store, callback).await;
        }
        let heard = heard.lock().unwrap().clone();
        let count = |kind: UpdateKind| heard.iter().filter(|k| **k == kind).count();
        assert_eq!(
            (count(UpdateKind::Started), count(UpdateKind::Ended)),
            (1, 1),
            "{heard:?}"
        );
    }

    #[tokio::test]
    async fn what_several_sources_report_of_one_session_is_kept_once_in_its_events() {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().unwrap());
        let (sink, task) = spawn(PipelineConfig {
            store: Some(store.clone()),
            ..PipelineConfig::default()
        })
        .unwrap();
        let tool_use = EventKind::ToolUse {
            tool_use_id: "toolu_1".into(),
            name: "Bash".into(),
            sidechain: false,
        };
        let tool_result = EventKind::ToolResult {
            tool_use_id: "toolu_1".into(),
            is_error: false,
            sidechain: false,
            duration_ms: None,
        };
        // The registry and the transcript announce it; the wrapper's stream and the transcript
        // report its tool call; a hook and the registry its end.
        for (at, kind) in [
            started("registry"),
            started("transcript"),
            tool_use.clone(),
            tool_use,
            tool_result.clone(),
            tool_result,
            EventKind::SessionEnded { reason: None },
            EventKind::SessionEnded { reason: None },
        ]
        .into_iter()
        .enumerate()
        {
            sink.send(event(i64::try_from(at).unwrap(), kind)).await;
        }
        drop(sink);
        task.await.unwrap();
        let kinds: Vec<String> = store
            .events(&SessionId::new("s1"))
            .unwrap()
            .iter()
            .map(|e| {
                serde_json::to_value(e).unwrap()["type"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "session_started",
                "tool_use",
                "tool_result",
                "session_ended"
            ]
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn reading_a_session_back_does_not_block_the_monitor_task() {
        let inner = SqliteStore::open_in_memory().unwrap();
        let tool = |n: u32| {
            event(
                i64::from(n),
                EventKind::ToolUse {
                    tool_use_id: format!("t{n}"),
                    name: "Bash".into(),
                    sidechain: false,
                },
            )
        };
        let mut stored = SessionState::new(SessionId::new("s1"), tool(0).at);
        stored.apply(&tool(0), &PriceTable::builtin());
        inner
            .write(&Batch {
                sessions: vec![stored],
                ..Batch::default()
            })
            .unwrap();
        let (reading, mut read_started) = tokio::sync::mpsc::unbounded_channel();
        let (open, gate) = std::sync::mpsc::channel();
        let gate = std::sync::Mutex::new(gate);
        // A session read waits until a task on the monitor's runtime opens the gate: a read
        // that blocked the runtime's only thread would never see it open.
        let store: Arc<dyn Store> = Hooked::new(
            inner,
            Hooks {
                session: Some(Box::new(move || {
                    let _ = reading.send(());
                    // The gate never opened: the read blocked the runtime.
                    gate.lock()
                        .expect("the gate")
                        .recv_timeout(Duration::from_secs(10))
                        .is_ok()
                })),
                ..Hooks::default()
            },
        );
        // Runs on the same (only) thread as the monitor task.
        let opener = tokio::spawn(async move {
            read_started.recv().await;
            let _ = open.send(());
        });
        let (sink, task) = spawn(PipelineConfig {
            store: Some(store),
            ..PipelineConfig::default()
        })
        .unwrap();
        sink.send(tool(1)).await;
        drop(sink);
        let report = task.await.unwrap();
        opener.await.unwrap();
        let session = &report.sessions[0];
        assert_eq!(
            session.tool_calls.get("Bash"),
            Some(&2),
            "the stored call and the new one"
        );
    }
}
