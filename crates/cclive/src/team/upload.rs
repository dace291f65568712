//! The upload worker: forwards the store's outbox to the team server, in order, until stopped.
//!
//! It runs on a thread of its own with its own database connection; the monitor only pokes it
//! after a commit (a non-blocking send), so a slow, down or unreachable server never slows the
//! monitor. It starts from the server's acknowledged cursor (`GET …/cursor`), pushes batches
//! after commits and, when idle, an empty push as a heartbeat; on failure it backs off
//! exponentially with jitter; a 413 halves the batch (so does a connection that breaks while a
//! large body goes out: a server refusing it may hang up without reading it), success grows it
//! again (a backlog drains in large batches). What the server acknowledged is pruned from the outbox; what it did not
//! stays there, so a crash or a reboot on either side loses nothing.

use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cclive_core::team::{MachineInfo, PROTOCOL_VERSION, PushItem, PushRequest};
use cclive_store::{OutboxItem, SqliteStore, StoreError};

use super::client::{TeamClient, TeamError, TeamToken};
use super::items::push_item;

/// The first batch; doubled after each full one that went through, halved on a 413.
const FIRST_BATCH: usize = 500;
/// The largest batch.
const MAX_BATCH: usize = 4000;
/// The first wait after a failure; doubles per failure up to the settings' cap.
const RETRY_BASE: Duration = Duration::from_millis(250);
/// A push body above this whose connection breaks is halved as after a 413: the server (or a
/// proxy: nginx's default `client_max_body_size` is 1 MiB) may have refused it and hung up
/// without reading it. Smaller bodies are retried unchanged (a server going away mid-push).
const LARGE_BODY: usize = 1024 * 1024;

/// What the worker needs to know.
#[derive(Clone, Debug)]
pub(crate) struct UploadSettings {
    /// The server (`http(s)://host[:port][/prefix]`).
    pub(crate) upstream: String,
    /// The token naming this machine's user.
    pub(crate) token: TeamToken,
    /// Send prompt previews, titles and command lines too.
    pub(crate) share_prompts: bool,
    /// How often an idle agent tells the server it is alive.
    pub(crate) heartbeat: Duration,
    /// The longest wait between two attempts while the server is unreachable.
    pub(crate) retry_cap: Duration,
}

enum Msg {
    /// Something was committed: look at the outbox.
    Poke,
    /// Try once more to send what is pending (bounded), then stop.
    Stop,
}

/// A cheap handle that wakes the worker; never blocks.
#[derive(Clone)]
pub(crate) struct Poke(SyncSender<Msg>);

impl Poke {
    /// Wakes the worker (a poke already queued is enough).
    pub(crate) fn poke(&self) {
        match self.0.try_send(Msg::Poke) {
            Ok(()) | Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {}
        }
    }
}

/// The running worker.
pub(crate) struct Uploader {
    tx: SyncSender<Msg>,
    thread: JoinHandle<()>,
    done: Receiver<()>,
}

impl Uploader {
    /// Starts forwarding `store`'s outbox (team mode must be enabled on it) as `machine`.
    pub(crate) fn spawn(
        store: Arc<SqliteStore>,
        settings: UploadSettings,
        machine: MachineInfo,
    ) -> std::io::Result<Uploader> {
        let (tx, rx) = mpsc::sync_channel(1);
        let (done_tx, done) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("cclive-team-upload".into())
            .spawn(move || {
                let client = TeamClient::new(&settings.upstream, &settings.token);
                Worker {
                    store,
                    client,
                    settings,
                    machine,
                    cursor: None,
                    batch: FIRST_BATCH,
                    failures: 0,
                    last_body: 0,
                }
                .run(&rx);
                let _ = done_tx.send(());
            })?;
        Ok(Uploader { tx, thread, done })
    }

    /// A handle that wakes the worker after a commit.
    pub(crate) fn poker(&self) -> Poke {
        Poke(self.tx.clone())
    }

    /// Asks the worker to send what is pending once more and stop; waits up to `grace` for it.
    /// Whatever is not sent by then stays in the outbox for the next start.
    pub(crate) fn stop(self, grace: Duration) {
        // The channel holds one message: make room for the stop.
        let deadline = Instant::now() + grace;
        while self.tx.try_send(Msg::Stop).is_err() {
            if Instant::now() >= deadline || self.thread.is_finished() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        if self
            .done
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .is_ok()
        {
            let _ = self.thread.join();
        }
    }
}

/// What one step did.
enum Step {
    /// A batch went through and more is pending.
    More,
    /// Nothing (more) is pending.
    Idle,
}

struct Worker {
    store: Arc<SqliteStore>,
    client: TeamClient,
    settings: UploadSettings,
    machine: MachineInfo,
    /// The server's acknowledged cursor, once asked (asked again after every failure).
    cursor: Option<u64>,
    batch: usize,
    failures: u32,
    /// The size of the last push body sent.
    last_body: usize,
}

/// A failed step: the server's answer, or the local database.
#[derive(Debug, thiserror::Error)]
enum StepError {
    #[error(transparent)]
    Team(#[from] TeamError),
    #[error("the local database: {0}")]
    Store(#[from] StoreError),
}

impl Worker {
    fn run(mut self, rx: &Receiver<Msg>) {
        let mut stopping = false;
        let mut last_contact = Instant::now();
        loop {
            match self.step() {
                Ok(Step::More) => {
                    self.failures = 0;
                    last_contact = Instant::now();
                    match rx.try_recv() {
                        Ok(Msg::Stop) => stopping = true,
                        Err(mpsc::TryRecvError::Disconnected) => return,
                        Ok(Msg::Poke) | Err(mpsc::TryRecvError::Empty) => {}
                    }
                }
                Ok(Step::Idle) => {
                    self.failures = 0;
                    if stopping {
                        return;
                    }
                    let until = last_contact + self.settings.heartbeat;
                    match rx.recv_timeout(until.saturating_duration_since(Instant::now())) {
                        Ok(Msg::Poke) => {}
                        Ok(Msg::Stop) => stopping = true,
                        Err(RecvTimeoutError::Disconnected) => return,
                        Err(RecvTimeoutError::Timeout) => {
                            if let Err(e) = self.heartbeat() {
                                self.failed(&e);
                            }
                            last_contact = Instant::now();
                        }
                    }
                }
                Err(e) => {
                    if stopping {
                        return;
                    }
                    self.failed(&e);
                    let wait = self.retry_wait(&e);
                    // Pokes do not cut a backoff short: new data must not hammer a server
                    // that is down.
                    let until = Instant::now() + wait;
                    loop {
                        match rx.recv_timeout(until.saturating_duration_since(Instant::now())) {
                            Ok(Msg::Poke) => {}
                            Ok(Msg::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                            Err(RecvTimeoutError::Timeout) => break,
                        }
                    }
                }
            }
        }
    }

    /// Records a failure: counted for the backoff, kept for `cclive team status`, logged.
    fn failed(&mut self, e: &StepError) {
        self.failures = self.failures.saturating_add(1);
        // Ask for the cursor again once the server is back (it may have lost data).
        self.cursor = None;
        if self.failures == 1 {
            tracing::warn!("Cannot forward to the team server (will retry): {e}");
        } else {
            tracing::debug!(failures = self.failures, "Still cannot forward: {e}");
        }
        let _ = self.store.record_team_error(&e.to_string());
    }

    /// The wait before the next attempt: exponential with equal jitter, up to the cap; a refusal
    /// a person must fix waits the whole cap.
    fn retry_wait(&self, e: &StepError) -> Duration {
        let cap = self.settings.retry_cap;
        let exp = match e {
            StepError::Team(TeamError::Refused { .. }) => cap,
            _ => RETRY_BASE
                .saturating_mul(1u32 << self.failures.saturating_sub(1).min(16))
                .min(cap),
        };
        let half = exp / 2;
        half + half.mul_f64(crate::sinks::notify::webhook::random_unit())
    }

    /// The server's cursor, asked once per connection; reconciles the local outbox with it.
    fn cursor(&mut self) -> Result<u64, StepError> {
        if let Some(cursor) = self.cursor {
            return Ok(cursor);
        }
        let server = self.client.cursor(&self.machine.id)?;
        let local = self.store.team_agent()?.map_or(0, |state| state.acked_seq);
        if server < local {
            tracing::warn!(
                server,
                local,
                "The team server has less than it acknowledged before (restored from a \
                 backup?); sending the whole history again."
            );
            self.store.requeue_team_outbox()?;
        }
        self.store.ack_outbox(server)?;
        self.cursor = Some(server);
        Ok(server)
    }

    /// Sends the next batch, if any.
    fn step(&mut self) -> Result<Step, StepError> {
        let cursor = self.cursor()?;
        let entries = self.store.pending_outbox(cursor, self.batch)?;
        if entries.is_empty() {
            return Ok(Step::Idle);
        }
        let full = entries.len() == self.batch;
        let gone: Vec<u64> = entries
            .iter()
            .filter(|e| matches!(e.item, OutboxItem::Gone))
            .map(|e| e.seq)
            .collect();
        let items: Vec<PushItem> = entries
            .iter()
            .filter_map(|e| push_item(e, self.settings.share_prompts))
            .collect();
        if items.is_empty() {
            self.store.forget_outbox(&gone)?;
            return Ok(Step::More);
        }
        match self.push(items) {
            Ok(acked) => {
                self.store.forget_outbox(&gone)?;
                self.cursor = Some(cursor.max(acked));
                if full {
                    self.batch = (self.batch * 2).min(MAX_BATCH);
                }
                Ok(Step::More)
            }
            Err(StepError::Team(TeamError::TooLarge)) if self.batch > 1 => {
                self.batch = (self.batch / 2).max(1);
                tracing::info!(batch = self.batch, "The team server wants smaller pushes.");
                Ok(Step::More)
            }
            Err(StepError::Team(TeamError::Broken(why)))
                if self.batch > 1 && self.last_body > LARGE_BODY =>
            {
                self.batch = (self.batch / 2).max(1);
                tracing::info!(
                    batch = self.batch,
                    bytes = self.last_body,
                    "A large push broke off ({why}); trying smaller pushes."
                );
                Ok(Step::More)
            }
            Err(StepError::Team(TeamError::TooLarge)) => {
                // One item alone is too large: it can never be sent, and must not block the
                // queue.
                let seq = entries[0].seq;
                tracing::warn!(
                    seq,
                    "An outbox entry is too large for the team server; skipped."
                );
                self.store.forget_outbox(&[seq])?;
                self.store.record_team_error(&format!(
                    "outbox entry {seq} was too large for the team server and was skipped"
                ))?;
                Ok(Step::More)
            }
            Err(e) => Err(e),
        }
    }

    /// An empty push: the server learns this machine is alive and how much it holds.
    fn heartbeat(&mut self) -> Result<(), StepError> {
        self.cursor()?;
        self.push(Vec::new()).map(|_| ())
    }

    /// Pushes `items`; on success records the server's cursor and returns it.
    fn push(&mut self, items: Vec<PushItem>) -> Result<u64, StepError> {
        let request = PushRequest {
            protocol: PROTOCOL_VERSION,
            machine: self.machine.clone(),
            outbox_head: Some(self.store.outbox_head()?),
            items,
        };
        let body = serde_json::to_vec(&request).map_err(|e| StoreError::Encode {
            what: "team push".into(),
            source: e,
        })?;
        self.last_body = body.len();
        let reply = self.client.push(&body)?;
        self.store.ack_outbox(reply.acked_seq)?;
        if let Some(first) = reply.rejected.first() {
            tracing::warn!(
                rejected = reply.rejected.len(),
                "The team server rejected items: {}",
                first.error
            );
            self.store.record_team_error(&format!(
                "the server rejected {} item(s): {}",
                reply.rejected.len(),
                first.error
            ))?;
        }
        Ok(reply.acked_seq)
    }
}

/// This machine's name for people to read (`/proc/sys/kernel/hostname`, `/etc/hostname`).
pub(crate) fn hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|path| {
            std::fs::read_to_string(path)
                .ok()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
        })
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests;
