//! Exec hooks: `[[on_change]]` commands run with the payload JSON on stdin.
//!
//! One thread per hook runs its deliveries one after the other, in order (a calendar script
//! must see "started" before "ended"), with a bounded drop-oldest queue in front. Across hooks,
//! at most [`MAX_CONCURRENT`] commands run at once. Each runs as `sh -c COMMAND` in its own
//! process group, with `CCLIVE_EVENT`, `CCLIVE_DELIVERY`, `CCLIVE_SESSION_ID` and
//! `CCLIVE_SESSION_STATUS` set; when it outlives its timeout the whole group is killed
//! (SIGKILL). Its stdout and stderr go to the log at debug level, its exit code to the stats.
//! Exit code 0 is a success; nothing is retried (a script decides for itself).

use std::io::{Read, Write};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::Delivery;
use super::queue::Queue;
use super::settings::ExecHookSettings;
use super::stats::{self, DeliveryEntry, SinkHandle, SinkKind, SinkReport, lock};

/// Commands running at once, across every hook.
pub const MAX_CONCURRENT: usize = 4;
/// Deliveries waiting per hook before the oldest is dropped.
pub const QUEUE_SIZE: usize = 100;
/// Output kept (for the log) per stream.
const OUTPUT_KEPT: usize = 4096;

/// Limits how many commands run at once.
#[derive(Debug)]
pub(crate) struct Slots {
    free: Mutex<usize>,
    changed: Condvar,
}

/// A running command's slot, given back on drop.
pub(crate) struct Slot<'a>(&'a Slots);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        self.0.changed.notify_one();
    }
}

impl Slots {
    pub(crate) fn new(n: usize) -> Slots {
        Slots {
            free: Mutex::new(n.max(1)),
            changed: Condvar::new(),
        }
    }

    /// Waits for a free slot; `None` when `queue` is abandoned (shutdown) meanwhile.
    fn acquire<T>(&self, queue: &Queue<T>) -> Option<Slot<'_>> {
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if queue.abandoned() {
                return None;
            }
            if *free > 0 {
                *free -= 1;
                return Some(Slot(self));
            }
            free = self
                .changed
                .wait_timeout(free, Duration::from_millis(100))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

/// How one run ended.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// The exit code (`None`: killed by a signal, or never started).
    pub(crate) code: Option<i32>,
    /// Killed at the timeout.
    pub(crate) timed_out: bool,
    /// Why it failed, when it did.
    pub(crate) error: Option<String>,
    /// What it printed (truncated).
    pub(crate) stdout: String,
    /// What it printed on stderr (truncated).
    pub(crate) stderr: String,
}

/// Runs the hook once for `delivery`, waiting at most its timeout (plus a moment to reap).
pub(crate) fn run_once(settings: &ExecHookSettings, delivery: &Delivery) -> Outcome {
    use std::os::unix::process::CommandExt;

    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(&settings.command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("CCLIVE_EVENT", delivery.event.as_str())
        .env("CCLIVE_DELIVERY", &delivery.id)
        .env(
            "CCLIVE_SESSION_ID",
            delivery.session_id.as_deref().unwrap_or(""),
        )
        .env(
            "CCLIVE_SESSION_STATUS",
            delivery.status.as_deref().unwrap_or(""),
        )
        .process_group(0);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            return Outcome {
                code: None,
                timed_out: false,
                error: Some(format!("cannot start sh: {e}")),
                stdout: String::new(),
                stderr: String::new(),
            };
        }
    };
    let pid = child.id();
    if let Some(mut stdin) = child.stdin.take() {
        let body = delivery.body.clone();
        // A command that never reads its stdin must not hold us up: write on the side.
        std::thread::spawn(move || {
            let _ = stdin.write_all(&body).and_then(|()| stdin.write_all(b"\n"));
        });
    }
    let stdout = capture(child.stdout.take());
    let stderr = capture(child.stderr.take());
    let (done_tx, done_rx) = mpsc::channel::<std::io::Result<ExitStatus>>();
    std::thread::spawn(move || {
        let _ = done_tx.send(child.wait());
    });
    let (status, timed_out) = if let Ok(status) = done_rx.recv_timeout(settings.timeout) {
        (status, false)
    } else {
        kill_group(pid);
        let reaped = done_rx
            .recv_timeout(Duration::from_secs(5))
            .unwrap_or_else(|_| Err(std::io::Error::other("could not be reaped")));
        (reaped, true)
    };
    // Output of a command that left a child behind holding the pipes is not waited for long.
    let read =
        |rx: mpsc::Receiver<String>| rx.recv_timeout(Duration::from_secs(1)).unwrap_or_default();
    let (stdout, stderr) = (read(stdout), read(stderr));
    let (code, error) = match status {
        Ok(s) if timed_out => (
            s.code(),
            Some(format!("killed after {:?}", settings.timeout)),
        ),
        Ok(s) if s.success() => (Some(0), None),
        Ok(s) => (
            s.code(),
            Some(s.code().map_or_else(
                || "killed by a signal".to_owned(),
                |c| format!("exited with code {c}"),
            )),
        ),
        Err(e) => (None, Some(format!("cannot wait for the command: {e}"))),
    };
    Outcome {
        code,
        timed_out,
        error,
        stdout,
        stderr,
    }
}

/// Kills the process group `pid` leads.
fn kill_group(pid: u32) {
    if let Ok(pid) = i32::try_from(pid) {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

/// Reads a pipe to its end on a thread, keeping the first [`OUTPUT_KEPT`] bytes.
fn capture(pipe: Option<impl Read + Send + 'static>) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        if let Some(mut pipe) = pipe {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let room = OUTPUT_KEPT.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
        let _ = tx.send(String::from_utf8_lossy(&kept).into_owned());
    });
    rx
}

/// A command as it may be shown (the dashboard, `/api/integrations`): its first word, then `…`
/// when more follows. Arguments often carry tokens (`curl -H "Authorization: …"`); the program
/// says which hook it is.
pub fn redact_command(command: &str) -> String {
    let mut words = command.split_whitespace();
    let program = words.next().unwrap_or_default();
    if words.next().is_some() {
        format!("{program} …")
    } else {
        program.to_owned()
    }
}

/// Starts an exec hook's thread.
pub(crate) fn spawn(
    settings: ExecHookSettings,
    slots: Arc<Slots>,
) -> std::io::Result<super::Worker> {
    let status = SinkReport::new(
        SinkKind::OnChange,
        settings.name.clone(),
        redact_command(&settings.command),
        super::event::names(&settings.events),
    );
    super::Worker::spawn(status, QUEUE_SIZE, move |handle| {
        run(&settings, handle, &slots);
    })
}

fn run(settings: &ExecHookSettings, handle: &SinkHandle, slots: &Slots) {
    while let Some(delivery) = handle.queue.pop() {
        lock(&handle.status).in_flight = true;
        let Some(slot) = slots.acquire(&handle.queue) else {
            lock(&handle.status).in_flight = false;
            lock(&handle.status).drop_one(super::unsent(&delivery, "dropped at shutdown"));
            break;
        };
        let started = Instant::now();
        let outcome = run_once(settings, &delivery);
        drop(slot);
        tracing::debug!(
            hook = %settings.name,
            event = %delivery.event,
            code = ?outcome.code,
            stdout = %outcome.stdout.trim_end(),
            stderr = %outcome.stderr.trim_end(),
            "on_change command finished."
        );
        if let Some(error) = &outcome.error {
            tracing::warn!(hook = %settings.name, event = %delivery.event, "on_change command failed: {error}");
        }
        let record = DeliveryEntry {
            id: delivery.id.clone(),
            event: delivery.event.as_str().to_owned(),
            session_id: delivery.session_id.clone(),
            at: jiff::Timestamp::now(),
            attempts: 1,
            outcome: if outcome.error.is_none() {
                stats::Outcome::Delivered
            } else {
                stats::Outcome::Failed
            },
            http_status: None,
            exit_code: outcome.code,
            error: outcome.error,
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        };
        let mut status = lock(&handle.status);
        status.in_flight = false;
        if outcome.timed_out {
            status.timeouts += 1;
        }
        status.finish(record);
    }
    super::count_abandoned(&handle.queue, &handle.status);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sinks::notify::event::EventName;

    fn hook(command: &str, timeout_ms: u64) -> ExecHookSettings {
        ExecHookSettings {
            name: "t".into(),
            command: command.into(),
            events: EventName::defaults(),
            timeout: Duration::from_millis(timeout_ms),
        }
    }

    fn delivery() -> Delivery {
        Delivery {
            id: "d1".into(),
            event: EventName::SessionStarted,
            session_id: Some("s1".into()),
            status: Some("ACTIVE".into()),
            body: Arc::from(&b"{\"event\":\"session_started\"}"[..]),
        }
    }

    #[test]
    fn the_payload_is_on_stdin_and_the_event_in_the_environment() {
        let o = run_once(
            &hook(
                "cat; echo \"$CCLIVE_EVENT $CCLIVE_SESSION_ID $CCLIVE_SESSION_STATUS\"; echo oops >&2",
                10_000,
            ),
            &delivery(),
        );
        assert_eq!(o.code, Some(0), "{o:?}");
        assert!(o.error.is_none());
        assert_eq!(
            o.stdout,
            "{\"event\":\"session_started\"}\nsession_started s1 ACTIVE\n"
        );
        assert_eq!(o.stderr, "oops\n");
    }

    #[test]
    fn a_failing_command_says_its_exit_code() {
        let o = run_once(&hook("exit 3", 10_000), &delivery());
        assert_eq!(o.code, Some(3));
        assert_eq!(o.error.as_deref(), Some("exited with code 3"));
    }

    #[test]
    fn a_hung_command_and_its_children_are_killed_at_the_timeout() {
        let start = Instant::now();
        let o = run_once(&hook("sleep 30 & sleep 30", 200), &delivery());
        assert!(o.timed_out, "{o:?}");
        assert!(o.error.unwrap().starts_with("killed after"));
        // Only a hang detector: the background `sleep` holding stdout was killed too.
        assert!(start.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn commands_are_shown_by_their_program_only() {
        assert_eq!(
            redact_command("curl -s -H 'Authorization: Bearer s3cr3t' https://x/y"),
            "curl …"
        );
        assert_eq!(redact_command("  ~/bin/mark.sh  "), "~/bin/mark.sh");
        assert_eq!(redact_command(""), "");
    }

    #[test]
    fn a_command_that_ignores_stdin_still_runs() {
        let o = run_once(&hook("true", 10_000), &delivery());
        assert_eq!(o.code, Some(0));
    }
}
