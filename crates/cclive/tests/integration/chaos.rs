//! The chaos test, issue 12's proof: real Claude Code sessions (print mode plain and through
//! `cclive run`, interactive under tmux, with tool calls and a sub-agent) run against the fake API while the test,
//! at seeded-random moments, `kill -9`s the monitor and restarts it, `kill -9`s the wrapper and
//! claude, rewrites finished transcripts shorter and regrows them, moves them away and back, and
//! posts hostile payloads to every intake route. A webhook receiver and an `[[on_change]]`
//! command count what the integrations fired. At the end (monitor stopped cleanly, then a final
//! `cclive import`) the history must equal the ground truth exactly.
//!
//! The ground truth never comes from cclive's code. A small parser here reads the transcripts left
//! on disk (assistant lines: message id, usage, `tool_use` blocks; `cost-state`), and every
//! response it finds must be one the job's own fake API served, with that fake's usage (each job
//! has its own fake with its own usage figures, so a response counted in the wrong session shows).
//! What the truth is under each fault:
//! - claude (or its interactive pane) killed mid-response: whatever Claude Code wrote to the
//!   transcript before it died is the truth; a response it never wrote is not counted (the fake
//!   served it, nobody recorded it). No `cost-state` is written then, so the cost is the estimate:
//!   the responses' tokens × the rates of the test's own price file.
//! - the wrapper killed: claude lives on (its stdout is gone) and its transcript is the truth.
//! - a transcript rewritten shorter in place, then regrown to its old content: the file at the end
//!   is the original, so every response counts once.
//! - a transcript moved out of `~/.claude/projects` and back: the same file, counted once.
//! - hostile payloads: every one is bad input (garbage, absurd or fractional token counts, huge
//!   bodies, lone surrogates), so none may change any figure; no answer may be a 5xx.
//! - a session Claude Code ended normally costs its `cost-state` total (Claude Code's own figure).
//! - integrations: at most one `session_started` and one `session_ended` per session, from the
//!   webhook and the command alike. At most, not exactly: a start or end that happened while no
//!   monitor ran (the catch-up import announces nothing), or that a killed monitor had claimed but
//!   not yet delivered, goes unannounced; the misses are printed.
//! - the event log: one `session_started`; an ending event (a killed claude's session ends with
//!   `process_gone`, a transcript-only one with its `cost_state`) and at most one `session_ended`;
//!   every tool call and result once.
//!
//! - a sub-agent: its lines are in `<session>/subagents/agent-*.jsonl` under the parent's
//!   session id; its responses and its Bash call count for the parent session, as Claude Code's
//!   own total counts them.
//!
//! Deterministic seed: printed at the start, `CCLIVE_CHAOS_SEED=<n>` replays the same choices
//! (the machine's timing still varies). Loopback only.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use serde_json::{Value, json};

use crate::support::cclive::{World, describe, free_port, read_json, wait_with_timeout};
use crate::support::claude::claude_bin;
use crate::support::fake_api::{FakeApi, RequestKind, Scenario, TEXT_ANSWER, UsageProfile};
use crate::watch_e2e::{Tmux, shell_quote, submit};
use crate::webhooks::{Answer, Receiver, write_config};

/// Overrides the seed, to replay a run.
const SEED_ENV: &str = "CCLIVE_CHAOS_SEED";
/// Set: a failed run keeps its temp HOME (transcripts, database) for a look.
const KEEP_ENV: &str = "CCLIVE_CHAOS_KEEP";
const DEFAULT_SEED: u64 = 0x1212_c4a0_5eed;
/// A model Claude Code knows the price of (its `cost-state` is then a real figure).
const MODEL: &str = "claude-sonnet-4-5";
/// The test's own rates for [`MODEL`] (USD per million tokens), given to cclive as its price file.
const RATE_INPUT: f64 = 3.0;
const RATE_OUTPUT: f64 = 15.0;
const RATE_CACHE_WRITE: f64 = 3.75;
const RATE_CACHE_READ: f64 = 0.3;
/// Generous: the machine may be shared and slow.
const LONG: Duration = Duration::from_mins(3);
const PROMPT: &str = "Please do the task.";

/// splitmix64: a few lines, no dependency, the same sequence everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.below(hi - lo + 1))
    }

    fn fork(&mut self) -> Rng {
        Rng(self.next())
    }
}

/// What one job does to its session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// `claude -p`, a text answer.
    PrintText,
    /// `claude -p`, a Bash call then text.
    PrintTools,
    /// `claude -p`, a sub-agent (its own transcript under `subagents/`) that runs Bash, then
    /// text.
    PrintAgent,
    /// `cclive run -- -p`, a Bash call then text.
    WrapperTools,
    /// `cclive run -- -p` with a slow answer; the wrapper is killed mid-answer.
    WrapperKilled,
    /// `claude -p` with a slow answer; claude is killed mid-answer.
    ClaudeKilled,
    /// Interactive under tmux: two prompts with a Bash call each, then `/exit`.
    Interactive,
    /// Interactive under tmux with a slow answer; claude is killed mid-answer.
    InteractiveKilled,
    /// `claude -p`, then its transcript is rewritten shorter in place and regrown.
    TruncateRegrow,
    /// `claude -p`, then its transcript is moved away and back.
    Rotate,
}

impl Kind {
    const ALL: [Kind; 10] = [
        Kind::PrintText,
        Kind::PrintAgent,
        Kind::Interactive,
        Kind::WrapperTools,
        Kind::ClaudeKilled,
        Kind::TruncateRegrow,
        Kind::WrapperKilled,
        Kind::PrintTools,
        Kind::InteractiveKilled,
        Kind::Rotate,
    ];

    fn scenario(self) -> Scenario {
        match self {
            Kind::PrintText => Scenario::Text,
            Kind::PrintAgent => Scenario::AgentThenText,
            Kind::WrapperKilled | Kind::ClaudeKilled | Kind::InteractiveKilled => Scenario::Slow,
            _ => Scenario::BashThenText,
        }
    }

    /// How long the slow text answer streams.
    fn slow(self) -> Duration {
        match self {
            // Killed mid-answer: long enough never to finish first.
            Kind::ClaudeKilled | Kind::InteractiveKilled => Duration::from_secs(40),
            // The wrapper dies; claude lives on and finishes this answer.
            _ => Duration::from_secs(6),
        }
    }

    /// True when claude itself is killed (its last response may be missing or partial).
    fn kills_claude(self) -> bool {
        matches!(self, Kind::ClaudeKilled | Kind::InteractiveKilled)
    }
}

/// One job: its kind, its own fake API, and the usage that fake reports.
struct Job {
    kind: Kind,
    api: FakeApi,
    usage: UsageProfile,
}

/// Everything the jobs and the chaos threads share.
struct Ctx<'a> {
    world: &'a World,
    /// The monitor's fixed address (it comes back on the same port after each restart).
    addr: String,
}

/// The monitor under test, on a fixed address, killed and restarted at will.
struct Monitor {
    child: Option<Child>,
    starts: usize,
    kills: usize,
    /// Deaths the test did not cause.
    crashes: Vec<String>,
}

impl Monitor {
    fn start(ctx: &Ctx<'_>) -> Monitor {
        let mut m = Monitor {
            child: None,
            starts: 0,
            kills: 0,
            crashes: Vec::new(),
        };
        m.restart(ctx);
        m
    }

    fn restart(&mut self, ctx: &Ctx<'_>) {
        self.check_alive();
        assert!(self.child.is_none(), "a monitor already runs");
        let child = ctx
            .world
            .watch_command(&ctx.addr, &[])
            .spawn()
            .expect("spawn cclive watch");
        self.child = Some(child);
        self.starts += 1;
        let deadline = Instant::now() + LONG;
        while !healthy(&ctx.addr) {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("cclive watch exited at start: {status}");
            }
            assert!(Instant::now() < deadline, "cclive watch did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Records a monitor that died by itself.
    fn check_alive(&mut self) {
        if let Some(child) = self.child.as_mut()
            && let Ok(Some(status)) = child.try_wait()
        {
            self.crashes
                .push(format!("the monitor exited by itself: {status}"));
            self.child = None;
        }
    }

    fn kill9(&mut self) {
        self.check_alive();
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            self.kills += 1;
        }
    }

    /// SIGTERM, then waits: a clean stop.
    fn stop(&mut self) {
        self.check_alive();
        if let Some(child) = self.child.take() {
            let pid = Pid::from_raw(i32::try_from(child.id()).expect("pid"));
            let _ = kill(pid, Signal::SIGTERM);
            let out = wait_with_timeout(child, LONG);
            if !out.status.success() {
                self.crashes.push(format!(
                    "the monitor's clean stop failed: {}",
                    describe(&out)
                ));
            }
        }
    }
}

fn healthy(addr: &str) -> bool {
    post_raw(addr, "GET", "/healthz", "application/json", b"")
        .is_some_and(|(status, body)| status == 200 && body.contains("\"cclive\""))
}

/// One HTTP/1.1 exchange; `None` when the monitor is not there (or hung up on us).
fn post_raw(
    addr: &str,
    method: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    s.set_write_timeout(Some(Duration::from_secs(30))).ok()?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).ok()?;
    // A server refusing a huge body may answer and close before reading it all.
    let _ = s.write_all(body);
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer.split(' ').nth(1)?.parse().ok()?;
    Some((status, answer))
}

#[test]
fn chaos_nothing_lost_nothing_doubled_nothing_stuck() {
    let seed = std::env::var(SEED_ENV)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(DEFAULT_SEED);
    eprintln!("chaos: seed {seed} (replay with {SEED_ENV}={seed})");
    let began = Instant::now();
    let mut rng = Rng(seed);

    let world = World::new("http://127.0.0.1:9");
    world.claude.seed_interactive();
    let prices = world.claude.home().join("chaos-prices.json");
    std::fs::write(&prices, price_file().to_string()).unwrap();
    let receiver = Receiver::start(|_| Answer::Status(200));
    let fired_dir = world.claude.home().join("on-change");
    std::fs::create_dir_all(&fired_dir).unwrap();
    write_config(
        &world,
        &format!(
            "prices_file = \"{}\"\n\n\
             [[webhook]]\nname = \"chaos\"\nurl = \"{}\"\n\n\
             [[on_change]]\nname = \"counter\"\n\
             command = \"f=$(mktemp -p {} fire.XXXXXX) && cat > $f\"\n\
             events = [\"session_started\", \"session_ended\"]\n",
            prices.display(),
            receiver.url,
            fired_dir.display()
        ),
    );
    let ctx = Ctx {
        world: &world,
        addr: format!("127.0.0.1:{}", free_port()),
    };
    // Every kind of fault twice (a second round has other timings).
    let jobs: Vec<Job> = Kind::ALL
        .iter()
        .chain(Kind::ALL.iter())
        .enumerate()
        .map(|(i, &kind)| {
            let n = u64::try_from(i).unwrap();
            // Distinct figures per job: a response counted in the wrong session shows.
            let usage = UsageProfile {
                input: 1000 + 17 * n,
                output: 40 + 3 * n,
                cache_read: 5000 + 101 * n,
                cache_creation: 300 + 7 * n,
                ..UsageProfile::default()
            };
            let api = FakeApi::start_with(kind.scenario(), kind.slow(), usage);
            Job { kind, api, usage }
        })
        .collect();

    let mut monitor = Monitor::start(&ctx);
    let done = AtomicBool::new(false);
    let hostile_log: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let hostile_sent = Mutex::new(BTreeMap::<String, usize>::new());
    let job_notes: Mutex<Vec<String>> = Mutex::new(Vec::new());

    std::thread::scope(|scope| {
        let mut handles = Vec::new();
        let mut start_at = Duration::ZERO;
        for job in &jobs {
            let mut job_rng = rng.fork();
            start_at += rng.millis(300, 1500);
            let (ctx, notes) = (&ctx, &job_notes);
            let delay = start_at;
            handles.push(scope.spawn(move || {
                std::thread::sleep(delay);
                let note = run_job(ctx, job, &mut job_rng);
                notes
                    .lock()
                    .unwrap()
                    .push(format!("{:?}: {note}", job.kind));
            }));
        }
        let mut hostile_rng = rng.fork();
        let (ctx_ref, done_ref, log_ref, sent_ref) = (&ctx, &done, &hostile_log, &hostile_sent);
        scope.spawn(move || hostile(ctx_ref, &mut hostile_rng, done_ref, log_ref, sent_ref));

        // The first kill may land before the first monitor stored anything: the next one's
        // catch-up is then a first import, which keeps the last day's events (`RECENT_EVENTS`),
        // so the sessions it saw keep their timelines.
        // The monitor: killed and restarted at random moments while the jobs run.
        while !handles
            .iter()
            .all(std::thread::ScopedJoinHandle::is_finished)
        {
            std::thread::sleep(rng.millis(1500, 5000));
            if handles
                .iter()
                .all(std::thread::ScopedJoinHandle::is_finished)
            {
                break;
            }
            monitor.kill9();
            eprintln!("chaos: {} monitor killed", jiff::Timestamp::now());
            std::thread::sleep(rng.millis(100, 2500));
            monitor.restart(&ctx);
            eprintln!("chaos: {} monitor up again", jiff::Timestamp::now());
        }
        done.store(true, Ordering::Relaxed);
        for h in handles {
            if let Err(panic) = h.join() {
                std::panic::resume_unwind(panic);
            }
        }
    });

    // Let the monitor see every end (the transcript-only rule waits a few seconds), then stop it.
    monitor.check_alive();
    if monitor.child.is_none() {
        monitor.restart(&ctx);
    }
    let deadline = Instant::now() + LONG;
    while Instant::now() < deadline {
        let state = read_json(&world.state_file).unwrap_or_default();
        if state["active_sessions"]
            .as_array()
            .is_some_and(Vec::is_empty)
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    monitor.stop();
    let out = world.run(&["import", "--quiet"], LONG);
    assert!(out.status.success(), "{}", describe(&out));

    let truth = Truth::read(&world.claude.claude_dir().join("projects"));
    let mut failures: Vec<String> = Vec::new();
    failures.extend(monitor.crashes.iter().cloned());
    failures.extend(hostile_log.lock().unwrap().iter().cloned());
    failures.extend(truth.problems.iter().cloned());
    // The sub-agent jobs really ran their sub-agents: an `Agent` call each, whose Bash call is
    // in the sub-agent's own transcript (counted for the parent session, as Claude Code does).
    let agents = jobs.iter().filter(|j| j.kind == Kind::PrintAgent).count() as u64;
    let calls = truth.tool_calls();
    if calls.get("Agent").copied().unwrap_or(0) < agents {
        failures.push(format!(
            "{agents} sub-agent jobs, but the transcripts hold {calls:?}"
        ));
    }
    check_against_fakes(&truth, &jobs, &mut failures);
    check_history(&ctx, &truth, &mut failures);
    check_integrations(&receiver, &fired_dir, &truth, &mut failures);

    eprintln!(
        "chaos: {} sessions, monitor started {} times ({} kill -9), hostile payloads {:?}, \
         {:?} in all",
        truth.sessions.len(),
        monitor.starts,
        monitor.kills,
        hostile_sent.lock().unwrap(),
        began.elapsed()
    );
    for note in job_notes.lock().unwrap().iter() {
        eprintln!("chaos: {note}");
    }
    if monitor.kills == 0 {
        failures.push("the monitor was never killed: the run tested no fault".into());
    }
    if !failures.is_empty() && std::env::var_os(KEEP_ENV).is_some() {
        eprintln!("chaos: kept HOME {}", world.claude.home().display());
        std::mem::forget(world);
    }
    assert!(
        failures.is_empty(),
        "seed {seed}: {} problems:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The price file cclive gets: the test's own rates for [`MODEL`].
fn price_file() -> Value {
    json!({
        "version": 2,
        "source": "chaos test",
        "models": [{
            "id": MODEL,
            "ids": [MODEL],
            "input": RATE_INPUT,
            "output": RATE_OUTPUT,
            "cache_write_5m": RATE_CACHE_WRITE,
            "cache_write_1h": RATE_CACHE_WRITE,
            "cache_read": RATE_CACHE_READ,
            "web_search": 0.01,
        }],
    })
}

fn finished_main(api: &FakeApi) -> usize {
    api.requests()
        .iter()
        .filter(|r| r.kind == RequestKind::Main && r.finished_at.is_some())
        .count()
}

fn wait_for(what: &str, mut pred: impl FnMut() -> bool) {
    let deadline = Instant::now() + LONG;
    while !pred() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs one job to its end; returns a note of what happened.
fn run_job(ctx: &Ctx<'_>, job: &Job, rng: &mut Rng) -> String {
    let url = job.api.url();
    let print = |extra: &[&str]| {
        let mut cmd = ctx.world.claude.command(
            [
                "-p",
                PROMPT,
                "--output-format",
                "stream-json",
                "--verbose",
                "--allowedTools",
                "Bash",
                "Agent",
                "--model",
                MODEL,
            ]
            .iter()
            .chain(extra),
        );
        cmd.env("ANTHROPIC_BASE_URL", &url)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    };
    let wrapper = || {
        let mut cmd = ctx.world.cclive(&[
            "run",
            "--",
            "-p",
            PROMPT,
            "--allowedTools",
            "Bash",
            "--model",
            MODEL,
        ]);
        // It feeds the monitor when one answers there, else writes the store itself.
        cmd.env("ANTHROPIC_BASE_URL", &url)
            .env("CCLIVE_LISTEN", &ctx.addr)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    };
    match job.kind {
        Kind::PrintText | Kind::PrintTools | Kind::PrintAgent => {
            let out = wait_with_timeout(print(&[]).spawn().unwrap(), LONG);
            assert!(out.status.success(), "{}", describe(&out));
            "finished".into()
        }
        Kind::WrapperTools => {
            let out = wait_with_timeout(wrapper().spawn().unwrap(), LONG);
            assert!(out.status.success(), "{}", describe(&out));
            "finished".into()
        }
        Kind::WrapperKilled => {
            let child = wrapper().process_group(0).spawn().unwrap();
            let pgid = Pid::from_raw(i32::try_from(child.id()).unwrap());
            wait_for("the slow answer", || job.api.main_requests().len() >= 2);
            std::thread::sleep(rng.millis(0, 2000));
            let _ = kill(pgid, Signal::SIGKILL);
            let out = wait_with_timeout(child, LONG);
            // Claude Code lives on in the group; let it finish (or die of its broken pipe).
            let deadline = Instant::now() + LONG;
            while killpg(pgid, None).is_ok() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = killpg(pgid, Signal::SIGKILL);
            format!("wrapper killed ({})", out.status)
        }
        Kind::ClaudeKilled => {
            let child = print(&[]).spawn().unwrap();
            wait_for("the slow answer", || job.api.main_requests().len() >= 2);
            std::thread::sleep(rng.millis(0, 2000));
            let pid = Pid::from_raw(i32::try_from(child.id()).unwrap());
            let _ = kill(pid, Signal::SIGKILL);
            let out = wait_with_timeout(child, LONG);
            format!("claude killed ({})", out.status)
        }
        Kind::Interactive | Kind::InteractiveKilled => interactive(ctx, job, rng),
        Kind::TruncateRegrow | Kind::Rotate => {
            let out = wait_with_timeout(print(&[]).spawn().unwrap(), LONG);
            assert!(out.status.success(), "{}", describe(&out));
            let id = String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .find_map(|v| v["session_id"].as_str().map(str::to_owned))
                .expect("a session id in the stream");
            let path = transcript_of(&ctx.world.claude.claude_dir(), &id);
            let original = std::fs::read(&path).unwrap();
            if job.kind == Kind::Rotate {
                let away = ctx.world.claude.home().join(format!("rotated-{id}.jsonl"));
                std::fs::rename(&path, &away).unwrap();
                std::thread::sleep(rng.millis(200, 3000));
                std::fs::rename(&away, &path).unwrap();
                "moved away and back".into()
            } else {
                // `cp backup live.jsonl` of a shorter copy (same inode), later regrown.
                let lines: Vec<&[u8]> = original.split_inclusive(|&b| b == b'\n').collect();
                let n = lines.len();
                let keep = 1 + usize::try_from(rng.below(u64::try_from(n - 1).unwrap())).unwrap();
                let head: Vec<u8> = lines[..keep].concat();
                std::fs::write(&path, &head).unwrap();
                std::thread::sleep(rng.millis(200, 3000));
                let mut f = std::fs::OpenOptions::new()
                    .append(true)
                    .open(&path)
                    .unwrap();
                f.write_all(&original[head.len()..]).unwrap();
                drop(f);
                assert_eq!(std::fs::read(&path).unwrap(), original);
                format!("cut to {keep} of {n} lines and regrown")
            }
        }
    }
}

/// An interactive session under tmux: two prompts then `/exit`, or killed mid-answer.
fn interactive(ctx: &Ctx<'_>, job: &Job, rng: &mut Rng) -> String {
    let mut env = ctx.world.claude.vars();
    for (k, v) in &mut env {
        if k == "ANTHROPIC_BASE_URL" {
            *v = job.api.url();
        }
    }
    let program = format!(
        "{} --allowedTools Bash --model {MODEL}",
        shell_quote(&claude_bin().display().to_string())
    );
    let tmux = Tmux::run(ctx.world, &env, &program);
    tmux.wait_screen("the prompt", |s| s.contains('>') || s.contains('❯'));
    // The UI takes keys a moment after it draws its prompt.
    std::thread::sleep(Duration::from_millis(500));
    submit(&tmux, PROMPT);
    if job.kind == Kind::InteractiveKilled {
        wait_for("the slow answer", || job.api.main_requests().len() >= 2);
        std::thread::sleep(rng.millis(0, 2000));
        let _ = kill(Pid::from_raw(tmux.pane_pid()), Signal::SIGKILL);
        wait_for("the pane to close", || !tmux.is_running());
        return "claude killed mid-answer".into();
    }
    for turn in 1..=2 {
        wait_for("the turn's answers", || finished_main(&job.api) >= 2 * turn);
        tmux.wait_screen("the answer", |s| s.contains(TEXT_ANSWER));
        if turn == 1 {
            submit(&tmux, "And once more.");
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    submit(&tmux, "/exit");
    wait_for("claude to exit", || !tmux.is_running());
    "two prompts, /exit".into()
}

/// `~/.claude/projects/<project>/<id>.jsonl`.
fn transcript_of(claude_dir: &Path, id: &str) -> PathBuf {
    let name = format!("{id}.jsonl");
    for project in std::fs::read_dir(claude_dir.join("projects")).unwrap() {
        let path = project.unwrap().path().join(&name);
        if path.is_file() {
            return path;
        }
    }
    panic!("no transcript for {id}");
}

/// Session ids with a transcript so far (hostile payloads aim at real sessions).
fn known_sessions(claude_dir: &Path) -> Vec<String> {
    let mut ids = Vec::new();
    for project in std::fs::read_dir(claude_dir.join("projects"))
        .into_iter()
        .flatten()
    {
        for file in std::fs::read_dir(project.unwrap().path())
            .into_iter()
            .flatten()
        {
            let path = file.unwrap().path();
            if path.extension().is_some_and(|e| e == "jsonl")
                && let Some(stem) = path.file_stem()
            {
                ids.push(stem.to_string_lossy().into_owned());
            }
        }
    }
    ids.sort();
    ids
}

/// Posts hostile payloads to the intake routes until `done`; any 5xx is a problem.
fn hostile(
    ctx: &Ctx<'_>,
    rng: &mut Rng,
    done: &AtomicBool,
    problems: &Mutex<Vec<String>>,
    sent: &Mutex<BTreeMap<String, usize>>,
) {
    const ROUTES: [&str; 4] = [
        "/api/hooks",
        "/api/events",
        "/api/session/webhook",
        "/v1/logs",
    ];
    let mut n = 0u64;
    while !done.load(Ordering::Relaxed) {
        std::thread::sleep(rng.millis(50, 400));
        n += 1;
        let ids = known_sessions(&ctx.world.claude.claude_dir());
        let sid = if ids.is_empty() {
            "chaos-no-session-yet".to_owned()
        } else {
            ids[usize::try_from(rng.below(ids.len() as u64)).unwrap()].clone()
        };
        let route = ROUTES[usize::try_from(rng.below(4)).unwrap()];
        let (kind, body): (&str, Vec<u8>) = match rng.below(7) {
            0 => {
                let len = rng.below(4096);
                ("garbage", (0..len).map(|_| (rng.next() & 0xff) as u8).collect())
            }
            1 => ("huge", huge_body(rng)),
            2 => ("absurd-tokens", absurd_usage(route, &sid, n, "18446744073709551615")),
            3 => ("fractional-tokens", absurd_usage(route, &sid, n, "12.5")),
            4 => ("negative-tokens", absurd_usage(route, &sid, n, "-3")),
            5 => ("overflow-float-tokens", absurd_usage(route, &sid, n, "1e308")),
            _ => (
                "lone-surrogate",
                format!(
                    r#"{{"session_id":"{sid}","hook_event_name":"Chaos\udce9","type":"usage","key":"msg_chaos_\ud800{n}","tokens":{{"input":"\udce9"}}}}"#
                )
                .into_bytes(),
            ),
        };
        *sent.lock().unwrap().entry(kind.to_owned()).or_default() += 1;
        if let Some((status, answer)) =
            post_raw(&ctx.addr, "POST", route, "application/json", &body)
            && status >= 500
        {
            let head: String = answer.chars().take(300).collect();
            problems
                .lock()
                .unwrap()
                .push(format!("hostile {kind} to {route} got {status}: {head}"));
        }
    }
}

/// A body of 5 to 9 MB: an endless JSON array of digits.
fn huge_body(rng: &mut Rng) -> Vec<u8> {
    let len = 5_000_000 + usize::try_from(rng.below(4_000_000)).unwrap();
    let mut body = Vec::with_capacity(len);
    body.push(b'[');
    while body.len() < len {
        body.extend_from_slice(b"1,");
    }
    body
}

/// A usage report for a real session with one unbelievable token field (`bad`, verbatim JSON)
/// and believable others, in the route's own shape. The whole report is bad input.
fn absurd_usage(route: &str, sid: &str, n: u64, bad: &str) -> Vec<u8> {
    let at = jiff::Timestamp::now().to_string();
    let text = match route {
        "/v1/logs" => format!(
            r#"{{"resourceLogs":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"claude-code"}}}}]}},"scopeLogs":[{{"logRecords":[{{"timeUnixNano":"{}","body":{{"stringValue":"claude_code.api_request"}},"attributes":[{{"key":"event.name","value":{{"stringValue":"api_request"}}}},{{"key":"session.id","value":{{"stringValue":"{sid}"}}}},{{"key":"model","value":{{"stringValue":"{MODEL}"}}}},{{"key":"request_id","value":{{"stringValue":"req_chaos_{n}"}}}},{{"key":"input_tokens","value":{{"intValue":"100"}}}},{{"key":"output_tokens","value":{{"doubleValue":{bad}}}}},{{"key":"cache_read_tokens","value":{{"intValue":"7"}}}},{{"key":"cost_usd","value":{{"doubleValue":0.5}}}}]}}]}}]}}]}}"#,
            jiff::Timestamp::now().as_nanosecond()
        ),
        // Hooks carry no usage: a payload of the wrong shape (a well-formed PostToolUse of an
        // invented call would be believable input, not hostile).
        "/api/hooks" => format!(
            r#"{{"session_id":["{sid}"],"hook_event_name":{bad},"tool_use_id":{{"n":{n}}},"usage":{{"output_tokens":{bad}}}}}"#
        ),
        _ => format!(
            r#"{{"session_id":"{sid}","at":"{at}","type":"usage","key":"msg_chaos_{n}","model":"{MODEL}","tokens":{{"input":100,"output":{bad},"cache_read":7,"cache_creation":0}}}}"#
        ),
    };
    text.into_bytes()
}

/// What Claude Code wrote, read by the test's own small parser.
#[derive(Default)]
struct Truth {
    sessions: BTreeMap<String, SessionTruth>,
    problems: Vec<String>,
}

#[derive(Default, Debug)]
struct SessionTruth {
    /// message id → field-wise largest usage seen (streamed lines repeat or grow it).
    responses: BTreeMap<String, [u64; 4]>,
    /// tool_use id → tool name.
    tools: BTreeMap<String, String>,
    /// tool_use ids of the results (`tool_result` blocks of user lines).
    results: BTreeSet<String>,
    /// The last `cost-state` total.
    reported_cost: Option<f64>,
}

impl SessionTruth {
    fn tokens(&self) -> [u64; 4] {
        let mut sum = [0; 4];
        for usage in self.responses.values() {
            for (s, u) in sum.iter_mut().zip(usage) {
                *s += u;
            }
        }
        sum
    }

    /// Claude Code's own total when it wrote one, else tokens × the test's rates.
    fn cost(&self) -> f64 {
        self.reported_cost.unwrap_or_else(|| {
            let [input, output, cache_read, cache_creation] = self.tokens().map(|t| t as f64);
            (input * RATE_INPUT
                + output * RATE_OUTPUT
                + cache_read * RATE_CACHE_READ
                + cache_creation * RATE_CACHE_WRITE)
                / 1e6
        })
    }
}

impl Truth {
    fn read(projects: &Path) -> Truth {
        let mut truth = Truth::default();
        let mut files = Vec::new();
        collect_jsonl(projects, &mut files);
        for file in files {
            let text = std::fs::read(&file).unwrap();
            for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                let Ok(record) = serde_json::from_slice::<Value>(line) else {
                    truth
                        .problems
                        .push(format!("{}: a line the test cannot parse", file.display()));
                    continue;
                };
                let Some(sid) = record["sessionId"].as_str() else {
                    continue;
                };
                let session = truth.sessions.entry(sid.to_owned()).or_default();
                match record["type"].as_str() {
                    Some("assistant") => {
                        let message = &record["message"];
                        let Some(id) = message["id"].as_str() else {
                            continue;
                        };
                        let u = &message["usage"];
                        let get = |k: &str| u[k].as_u64().unwrap_or(0);
                        let usage = [
                            get("input_tokens"),
                            get("output_tokens"),
                            get("cache_read_input_tokens"),
                            get("cache_creation_input_tokens"),
                        ];
                        let e = session.responses.entry(id.to_owned()).or_insert([0; 4]);
                        for (a, b) in e.iter_mut().zip(usage) {
                            *a = (*a).max(b);
                        }
                        for block in message["content"].as_array().into_iter().flatten() {
                            if block["type"] == "tool_use"
                                && let (Some(tid), Some(name)) =
                                    (block["id"].as_str(), block["name"].as_str())
                            {
                                session.tools.insert(tid.to_owned(), name.to_owned());
                            }
                        }
                    }
                    Some("user") => {
                        for block in record["message"]["content"]
                            .as_array()
                            .into_iter()
                            .flatten()
                        {
                            if block["type"] == "tool_result"
                                && let Some(tid) = block["tool_use_id"].as_str()
                            {
                                session.results.insert(tid.to_owned());
                            }
                        }
                    }
                    Some("cost-state") => session.reported_cost = record["totalCostUSD"].as_f64(),
                    _ => {}
                }
            }
        }
        truth
    }

    fn tool_calls(&self) -> BTreeMap<String, u64> {
        let mut calls = BTreeMap::new();
        for s in self.sessions.values() {
            for name in s.tools.values() {
                *calls.entry(name.clone()).or_default() += 1;
            }
        }
        calls
    }
}

fn collect_jsonl(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_jsonl(&path, out);
        } else if path.extension().is_some_and(|e| e == "jsonl") {
            out.push(path);
        }
    }
}

/// Every response on disk is one a fake served, with that fake's figures; a job whose claude was
/// not killed has every answer it was served on disk.
fn check_against_fakes(truth: &Truth, jobs: &[Job], failures: &mut Vec<String>) {
    let mut served: HashMap<String, (usize, bool)> = HashMap::new();
    for (i, job) in jobs.iter().enumerate() {
        for r in job.api.main_requests() {
            if let Some(id) = r.message_id {
                served.insert(id, (i, r.finished_at.is_some()));
            }
        }
    }
    let mut on_disk = BTreeSet::new();
    for (sid, s) in &truth.sessions {
        for (mid, usage) in &s.responses {
            on_disk.insert(mid.clone());
            let Some(&(i, finished)) = served.get(mid) else {
                failures.push(format!("{sid}: response {mid} was never served by a fake"));
                continue;
            };
            let p = jobs[i].usage;
            let full = [p.input, p.output, p.cache_read, p.cache_creation];
            let fits = usage.iter().zip(full).all(|(u, f)| *u <= f);
            if !fits || (finished && !jobs[i].kind.kills_claude() && *usage != full) {
                failures.push(format!(
                    "{sid}: response {mid} has usage {usage:?}, its fake ({:?}) served {full:?}",
                    jobs[i].kind
                ));
            }
        }
    }
    for job in jobs.iter().filter(|j| !j.kind.kills_claude()) {
        for r in job.api.main_requests() {
            if let Some(id) = r.message_id
                && r.finished_at.is_some()
                && !on_disk.contains(&id)
            {
                failures.push(format!(
                    "{:?}: the served response {id} is in no transcript",
                    job.kind
                ));
            }
        }
    }
}

/// The history (sessions, events, the tools report) against the truth.
fn check_history(ctx: &Ctx<'_>, truth: &Truth, failures: &mut Vec<String>) {
    let out = ctx
        .world
        .run(&["sessions", "--json", "--limit", "1000"], LONG);
    assert!(out.status.success(), "{}", describe(&out));
    let listed: Vec<Value> = serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .cloned()
        .unwrap_or_default();
    let by_id: BTreeMap<String, &Value> = listed
        .iter()
        .filter_map(|s| Some((s["session_id"].as_str()?.to_owned(), s)))
        .collect();
    let stored: BTreeSet<&String> = by_id.keys().collect();
    let expected: BTreeSet<&String> = truth.sessions.keys().collect();
    if stored != expected {
        failures.push(format!(
            "sessions differ: stored {stored:?}, in the transcripts {expected:?}"
        ));
    }
    for (sid, t) in &truth.sessions {
        let Some(s) = by_id.get(sid) else { continue };
        let got = ["input", "output", "cache_read", "cache_creation"]
            .map(|k| s["tokens"][k].as_u64().unwrap_or(u64::MAX));
        if got != t.tokens() {
            failures.push(format!(
                "{sid}: tokens {got:?}, truth {:?} ({} responses)",
                t.tokens(),
                t.responses.len()
            ));
        }
        let cost = s["total_cost_usd"].as_f64().unwrap_or(f64::NAN);
        if (cost - t.cost()).abs() > 1e-9 {
            failures.push(format!(
                "{sid}: cost {cost} ({}), truth {} ({})",
                s["cost_source"],
                t.cost(),
                if t.reported_cost.is_some() {
                    "reported"
                } else {
                    "estimated"
                }
            ));
        }
        let status = s["status"].as_str().unwrap_or("?");
        if matches!(status, "ACTIVE" | "IDLE") {
            failures.push(format!("{sid}: left {status}"));
        }
        // Its events: one start, one end, every tool call once.
        let out = ctx.world.run(&["export", sid], LONG);
        if !out.status.success() {
            failures.push(format!("{sid}: export failed: {}", describe(&out)));
            continue;
        }
        let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
        let mut tool_events: BTreeMap<(String, String), usize> = BTreeMap::new();
        for line in String::from_utf8_lossy(&out.stdout).lines().skip(1) {
            let e: Value = serde_json::from_str(line).unwrap();
            let kind = e["type"].as_str().unwrap_or("?").to_owned();
            if let Some(id) = e["tool_use_id"].as_str() {
                *tool_events
                    .entry((kind.clone(), id.to_owned()))
                    .or_default() += 1;
            }
            *kinds.entry(kind).or_default() += 1;
        }
        // One start. The end is the event that ended it, whichever source saw it first: a
        // `session_ended` (hook, registry, wrapper), a `process_gone` (claude killed), the
        // transcript's `cost_state`, or a print session's `result` (it finishes the session: a
        // wrapper killed between reading the result and claude's exit sends no
        // `process_exited`); so at least one of those, at most one `session_ended`, and the
        // status above.
        let starts = kinds.get("session_started").copied().unwrap_or(0);
        let ends = kinds.get("session_ended").copied().unwrap_or(0);
        let endings: usize = [
            "session_ended",
            "process_gone",
            "process_exited",
            "cost_state",
            "result",
        ]
        .iter()
        .map(|k| kinds.get(*k).copied().unwrap_or(0))
        .sum();
        if starts != 1 || ends > 1 || endings == 0 {
            failures.push(format!(
                "{sid}: {starts} × session_started, {ends} × session_ended in {kinds:?}"
            ));
        }
        // Every tool call once, and its result once (a killed claude may leave a call without
        // a result).
        let mut expected: BTreeMap<(String, String), usize> = BTreeMap::new();
        for id in t.tools.keys() {
            expected.insert(("tool_use".into(), id.clone()), 1);
        }
        for id in &t.results {
            expected.insert(("tool_result".into(), id.clone()), 1);
        }
        if tool_events != expected {
            failures.push(format!(
                "{sid}: tool events {tool_events:?}, truth {expected:?}"
            ));
        }
    }
    let out = ctx.world.run(
        &["report", "tools", "--json", "--since", "2000-01-01"],
        LONG,
    );
    assert!(out.status.success(), "{}", describe(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let got: BTreeMap<String, u64> = report["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| Some((r["name"].as_str()?.to_owned(), r["calls"].as_u64()?)))
        .collect();
    if got != truth.tool_calls() {
        failures.push(format!(
            "report tools: {got:?}, truth {:?}",
            truth.tool_calls()
        ));
    }
}

/// No integration fired twice for one transition: at most one `session_started` and one
/// `session_ended` per session, from the webhook and from the `[[on_change]]` command alike.
fn check_integrations(
    receiver: &Receiver,
    fired_dir: &Path,
    truth: &Truth,
    failures: &mut Vec<String>,
) {
    let mut webhook: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut deliveries: BTreeMap<String, usize> = BTreeMap::new();
    for r in receiver.requests() {
        let body = r.json();
        if r.header("x-cclive-attempt") == "1" {
            *deliveries
                .entry(r.header("x-cclive-delivery").to_owned())
                .or_default() += 1;
        }
        if let Some(sid) = body["session"]["session_id"].as_str() {
            let event = body["event"].as_str().unwrap_or("?").to_owned();
            *webhook.entry((sid.to_owned(), event)).or_default() += 1;
        }
    }
    for (id, n) in &deliveries {
        if *n > 1 {
            failures.push(format!(
                "webhook: delivery {id} sent {n} times as a first attempt"
            ));
        }
    }
    let mut commands: BTreeMap<(String, String), usize> = BTreeMap::new();
    for entry in std::fs::read_dir(fired_dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap_or_default();
        // A command killed with its monitor may have written nothing.
        let Ok(v) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        if let (Some(sid), Some(event)) = (v["session"]["session_id"].as_str(), v["event"].as_str())
        {
            *commands
                .entry((sid.to_owned(), event.to_owned()))
                .or_default() += 1;
        }
    }
    for (what, counts) in [("webhook", &webhook), ("on_change", &commands)] {
        for sid in truth.sessions.keys() {
            for event in ["session_started", "session_ended"] {
                let n = counts
                    .get(&(sid.clone(), event.to_owned()))
                    .copied()
                    .unwrap_or(0);
                if n > 1 {
                    failures.push(format!("{what}: {event} fired {n} times for {sid}"));
                } else if n == 0 {
                    // At most once is the promise across a kill -9; say what was missed.
                    eprintln!("chaos: {what}: no {event} for {sid}");
                }
            }
        }
        for (sid, _) in counts.keys() {
            if !truth.sessions.contains_key(sid) {
                failures.push(format!("{what}: fired for a session that never was: {sid}"));
            }
        }
        // At most once may miss a transition a kill cut off, never all of them.
        if !counts.keys().any(|(_, event)| event == "session_started") {
            failures.push(format!("{what}: no session_started fired at all"));
        }
    }
}
