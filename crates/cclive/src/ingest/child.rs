//! The wrapped claude child: spawn it, read its stdout as it comes, turn lines into events.
//!
//! Print mode pipes stdout through the [`LineFramer`] and the stream-json parser, feeding both
//! the renderer (what the user sees) and the monitor (events). Interactive mode gives claude the
//! terminal untouched and only records start and end. Signals: Ctrl-C in print mode, SIGTERM and
//! SIGHUP always, are forwarded to claude and mark the session interrupted; in interactive mode
//! Ctrl-C belongs to claude's own UI (the terminal already delivered it), so cclive ignores it.
//! A line that cannot be parsed becomes a counted `InputError`; nothing here panics on input.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use cclive_core::event::{EventKind, Mode, prompt_preview};
use cclive_core::stream_json::{self, StreamRecord};
use cclive_core::{Event, LineFramer, SessionId};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::AsyncReadExt;
use tokio::signal::unix::{SignalKind, signal};

use crate::errors::ClaudeNotFound;
use crate::ingest::invocation::Invocation;
use crate::monitor::pipeline::EventSink;
use crate::output::render::Renderer;

/// Longest stream-json line accepted (a tool result can be large; 64 MiB is far beyond any).
const MAX_LINE: usize = 64 * 1024 * 1024;

/// What the session was started with.
#[derive(Clone, Debug)]
pub struct ChildSpec<'a> {
    /// The claude executable.
    pub claude: &'a Path,
    /// The planned command line.
    pub plan: &'a Invocation,
    /// The session's id.
    pub session_id: SessionId,
    /// Shown as the session's command.
    pub command: String,
    /// Project path for the session.
    pub project_path: Option<String>,
    /// User label.
    pub session_type: Option<String>,
    /// Working directory for claude (default: ours).
    pub cwd: Option<&'a Path>,
    /// Variables removed from claude's environment.
    pub env_remove: &'a [String],
    /// Variables set in claude's environment.
    pub env: &'a [(String, String)],
}

/// How claude ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChildExit {
    /// Exit code, when it exited.
    pub code: Option<i32>,
    /// Signal, when one killed it.
    pub signal: Option<i32>,
}

impl ChildExit {
    /// The exit code cclive passes on: claude's, or 128 + the signal.
    pub fn exit_code(self) -> u8 {
        match (self.code, self.signal) {
            (Some(code), _) => u8::try_from(code & 0xff).unwrap_or(1),
            (None, Some(sig)) => u8::try_from((128 + sig) & 0xff).unwrap_or(1),
            (None, None) => 1,
        }
    }
}

/// Runs claude to the end, sending events to `sink` and output to `renderer`. Does not send
/// `ProcessExited`: the caller does, after reading anything claude wrote on its way out.
pub async fn run(
    spec: &ChildSpec<'_>,
    sink: &EventSink,
    renderer: &mut Renderer,
) -> anyhow::Result<ChildExit> {
    let event_now =
        |kind: EventKind| Event::new(spec.session_id.clone(), jiff::Timestamp::now(), kind);
    let cwd = match spec.cwd {
        Some(dir) => dir.to_path_buf(),
        None => std::env::current_dir().context("reading the current directory")?,
    };
    let cwd_text = cwd.display().to_string();
    let mode = if spec.plan.print {
        Mode::Print
    } else {
        Mode::Interactive
    };

    let mut command = tokio::process::Command::new(spec.claude);
    command
        .args(&spec.plan.args)
        .current_dir(&cwd)
        .stdin(Stdio::inherit())
        .stderr(Stdio::inherit());
    for name in spec.env_remove {
        command.env_remove(name);
    }
    command.envs(spec.env.iter().map(|(k, v)| (k, v)));
    command.stdout(if spec.plan.print {
        Stdio::piped()
    } else {
        Stdio::inherit()
    });
    // The session starts when claude is started: taken before the spawn, so its duration holds
    // all of claude's run however late this task gets to record the start.
    let started_at = jiff::Timestamp::now();
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ClaudeNotFound {
                looked_for: spec.claude.display().to_string(),
            }
            .into());
        }
        Err(e) => return Err(e).with_context(|| format!("starting {}", spec.claude.display())),
    };
    let pid = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .map(Pid::from_raw);
    tracing::debug!(session = %spec.session_id, pid = ?pid, "Started claude.");

    sink.send(Event::new(
        spec.session_id.clone(),
        started_at,
        EventKind::SessionStarted {
            mode,
            command: Some(spec.command.clone()),
            cwd: Some(cwd_text.clone()),
            project_path: Some(spec.project_path.clone().unwrap_or(cwd_text)),
            session_type: spec.session_type.clone(),
            source: "wrapper".into(),
        },
    ))
    .await;
    if spec.plan.print {
        sink.send(event_now(EventKind::PromptSubmitted {
            id: None,
            preview: spec.plan.prompt.as_deref().map(prompt_preview),
        }))
        .await;
    }

    let mut sigint = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut sigterm = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut sighup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;
    let mut interrupts = 0u32;
    let forward = |sig: Signal, interrupts: &mut u32| {
        *interrupts += 1;
        // Third time: claude is not listening; make sure it ends.
        let sig = if *interrupts >= 3 {
            Signal::SIGKILL
        } else {
            sig
        };
        if let Some(pid) = pid {
            let _ = kill(pid, sig);
        }
    };

    let mut stdout = child.stdout.take();
    let mut framer = LineFramer::new(0, MAX_LINE);
    let mut buf = vec![0u8; 64 * 1024];
    let mut status = None;
    let mut drain_deadline = None;
    loop {
        if status.is_some() && stdout.is_none() {
            break;
        }
        tokio::select! {
            read = read_some(stdout.as_mut(), &mut buf), if stdout.is_some() => {
                let n = read.unwrap_or(0);
                if n == 0 {
                    stdout = None;
                    if framer.pending() > 0 {
                        sink.send(event_now(EventKind::InputError {
                            source: "claude stdout".into(),
                            message: format!("output ended inside a line ({} bytes without a newline)", framer.pending()),
                        })).await;
                    }
                    continue;
                }
                for line in framer.push(&buf[..n]) {
                    handle_line(&line, spec, sink, renderer).await;
                }
            }
            waited = child.wait(), if status.is_none() => {
                status = Some(waited.context("waiting for claude")?);
                // Grandchildren may hold the pipe open; give the output a moment, not forever.
                drain_deadline = Some(tokio::time::Instant::now() + Duration::from_secs(2));
            }
            () = sleep_until_opt(drain_deadline) => {
                stdout = None;
            }
            _ = sigint.recv() => {
                if spec.plan.print {
                    sink.send(event_now(EventKind::Interrupted { signal: Some("SIGINT".into()) })).await;
                    forward(Signal::SIGINT, &mut interrupts);
                }
            }
            _ = sigterm.recv() => {
                sink.send(event_now(EventKind::Interrupted { signal: Some("SIGTERM".into()) })).await;
                forward(Signal::SIGTERM, &mut interrupts);
            }
            _ = sighup.recv() => {
                sink.send(event_now(EventKind::Interrupted { signal: Some("SIGHUP".into()) })).await;
                forward(Signal::SIGHUP, &mut interrupts);
            }
        }
    }
    if let Err(e) = renderer.finish() {
        tracing::debug!("Output closed: {e}");
    }
    let status = match status {
        Some(s) => s,
        None => child.wait().await.context("waiting for claude")?,
    };
    // The caller reports the exit (`ProcessExited`) once it has read what claude wrote last
    // (an interactive session's end-of-session totals), so the session ends in one step.
    Ok(ChildExit {
        code: status.code(),
        signal: status.signal(),
    })
}

async fn handle_line(
    line: &cclive_core::Line,
    spec: &ChildSpec<'_>,
    sink: &EventSink,
    renderer: &mut Renderer,
) {
    let at = jiff::Timestamp::now();
    let event = |kind| Event::new(spec.session_id.clone(), at, kind);
    if line.oversized {
        sink.send(event(EventKind::InputError {
            source: "claude stdout".into(),
            message: format!(
                "a line of {} bytes is longer than the {MAX_LINE}-byte limit and was skipped",
                line.end - line.start
            ),
        }))
        .await;
        return;
    }
    let parsed = stream_json::parse_line(&line.bytes);
    let record: Option<&StreamRecord> = parsed.as_ref().ok().and_then(Option::as_ref);
    if let Err(e) = renderer.line(&line.bytes, record) {
        // The user's terminal or pipe went away; keep monitoring regardless.
        tracing::debug!("Cannot show claude's output: {e}");
    }
    match &parsed {
        Ok(Some(record)) => {
            for kind in stream_json::to_events(record) {
                sink.send(event(kind)).await;
            }
        }
        Ok(None) => {}
        Err(err) => {
            tracing::warn!(session = %spec.session_id, offset = line.start, "Skipped an unreadable line from claude: {err}");
            sink.send(event(EventKind::InputError {
                source: "claude stdout".into(),
                message: err.to_string(),
            }))
            .await;
        }
    }
}

async fn read_some(
    stdout: Option<&mut tokio::process::ChildStdout>,
    buf: &mut [u8],
) -> std::io::Result<usize> {
    match stdout {
        Some(s) => s.read(buf).await,
        None => std::future::pending().await,
    }
}

async fn sleep_until_opt(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
