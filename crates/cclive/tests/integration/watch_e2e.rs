//! `cclive watch` end to end: the real Claude Code CLI run WITHOUT cclive, in print mode and in
//! interactive mode (driven through tmux, as a user would), while the monitor follows it from
//! its transcript, its session registry and the process table.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::cclive::{World, describe};
use crate::support::claude::claude_bin;
use crate::support::fake_api::{FakeApi, RequestKind};

const TIMEOUT: Duration = Duration::from_mins(1);

fn main_requests(api: &FakeApi) -> usize {
    api.requests()
        .iter()
        .filter(|r| r.kind == RequestKind::Main)
        .count()
}

#[test]
fn a_print_session_started_without_cclive_is_seen_live_and_ends_with_claudes_cost() {
    let api = FakeApi::start_slow(Duration::from_secs(4));
    let world = World::new(&api.url());
    let watch = world.watch();

    let mut claude = world.claude.command([
        "-p",
        "Please do the task.",
        "--output-format",
        "stream-json",
        "--verbose",
        "--allowedTools",
        "Bash",
        "Write",
    ]);
    let child = claude
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    assert!(api.wait_until(TIMEOUT, |reqs| {
        reqs.iter().filter(|r| r.kind == RequestKind::Main).count() >= 2
    }));
    let live = world.wait_state(TIMEOUT, "the session ACTIVE", |s| {
        s["status"] == "ACTIVE" && s["data"]["tool_calls"]["Bash"] == 1
    });
    let id = live["data"]["session_id"].as_str().unwrap().to_owned();
    assert_eq!(live["data"]["mode"], "print");
    assert!(main_requests(&api) >= 2);

    let out = crate::support::cclive::wait_with_timeout(child, TIMEOUT);
    assert!(out.status.success(), "{}", describe(&out));
    let result: Value = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .next_back()
        .unwrap();
    assert_eq!(result["session_id"], id.as_str());

    let done = world.wait_state(TIMEOUT, "the session COMPLETED", |s| {
        s["data"]["session_id"] == id.as_str() && s["data"]["status"] == "COMPLETED"
    });
    let s = &done["data"];
    assert_eq!(
        s["total_cost_usd"], result["total_cost_usd"],
        "Claude Code's cost-state wins"
    );
    assert_eq!(s["cost_source"], "reported");
    assert_eq!(s["tool_calls"]["Bash"], 1);
    assert_eq!(done["status"], "COMPLETED");
    assert!(done["active_sessions"].as_array().unwrap().is_empty());
    drop(watch);
    let listed = world.sessions();
    assert!(
        listed
            .iter()
            .any(|x| x["session_id"] == id.as_str() && x["status"] == "COMPLETED"),
        "{listed:#?}"
    );
}

/// tmux drives the interactive UI on a real terminal.
pub(crate) struct Tmux {
    socket: String,
    name: String,
}

impl Tmux {
    fn start(world: &World, claude_args: &str) -> Tmux {
        let env = world.claude.vars();
        let program = format!(
            "{} {claude_args}",
            shell_quote(&claude_bin().display().to_string())
        );
        Tmux::run(world, &env, &program)
    }

    /// Runs `program` (already shell-quoted, with its arguments) in a new tmux pane.
    pub(crate) fn run(world: &World, env: &[(String, String)], program: &str) -> Tmux {
        let socket = format!(
            "cclive-test-{}-{}",
            std::process::id(),
            crate::support::cclive::free_port()
        );
        let name = "claude".to_owned();
        let env: Vec<String> = env
            .iter()
            .map(|(k, v)| shell_quote(&format!("{k}={v}")))
            .collect();
        let command = format!("env {} TERM=xterm-256color {program}", env.join(" "));
        let status = std::process::Command::new("tmux")
            .args([
                "-L",
                &socket,
                "new-session",
                "-d",
                "-s",
                &name,
                "-x",
                "120",
                "-y",
                "40",
                "-c",
            ])
            .arg(world.claude.work_dir())
            .arg(command)
            .env_remove("TMUX")
            .status()
            .expect("tmux");
        assert!(status.success());
        Tmux { socket, name }
    }

    pub(crate) fn keys(&self, keys: &[&str]) {
        let mut cmd = std::process::Command::new("tmux");
        cmd.args(["-L", &self.socket, "send-keys", "-t", &self.name])
            .args(keys);
        assert!(cmd.status().unwrap().success());
    }

    pub(crate) fn screen(&self) -> String {
        let out = std::process::Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p", "-t", &self.name])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub(crate) fn wait_screen(&self, what: &str, pred: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let s = self.screen();
            if pred(&s) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// True while the pane's program runs (the tmux session ends with it).
    pub(crate) fn is_running(&self) -> bool {
        std::process::Command::new("tmux")
            .args(["-L", &self.socket, "has-session", "-t", &self.name])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    pub(crate) fn pane_pid(&self) -> i32 {
        let out = std::process::Command::new("tmux")
            .args([
                "-L",
                &self.socket,
                "display-message",
                "-p",
                "-t",
                &self.name,
                "#{pane_pid}",
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = std::process::Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .stderr(Stdio::null())
            .status();
    }
}

pub(crate) fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

pub(crate) fn submit(tmux: &Tmux, prompt: &str) {
    tmux.keys(&["-l", prompt]);
    std::thread::sleep(Duration::from_millis(300));
    tmux.keys(&["Enter"]);
}

fn the_session(
    world: &World,
    timeout: Duration,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let v = world.wait_state(timeout, what, |s| {
        s["active_sessions"]
            .as_array()
            .is_some_and(|a| a.iter().any(&pred))
            || pred(&s["data"])
    });
    let from_active = v["active_sessions"]
        .as_array()
        .and_then(|a| a.iter().find(|x| pred(x)).cloned());
    from_active.unwrap_or_else(|| v["data"].clone())
}

#[test]
fn an_interactive_session_is_active_while_working_idle_between_turns_and_completed_at_exit() {
    let api = FakeApi::start_slow(Duration::from_secs(4));
    let world = World::new(&api.url());
    world.claude.seed_interactive();
    let watch = world.watch();
    let tmux = Tmux::start(&world, "--allowedTools Bash");
    tmux.wait_screen("the prompt", |s| s.contains('>') || s.contains('❯'));
    std::thread::sleep(Duration::from_millis(500));

    // Registered at start (the registry): waiting for the first prompt.
    let s = the_session(&world, TIMEOUT, "the new session IDLE", |s| {
        s["status"] == "IDLE"
    });
    let id = s["session_id"].as_str().unwrap().to_owned();

    submit(&tmux, "Please do the task.");
    assert!(api.wait_until(TIMEOUT, |reqs| {
        reqs.iter().filter(|r| r.kind == RequestKind::Main).count() >= 2
    }));
    let s = the_session(&world, TIMEOUT, "ACTIVE during the slow turn", |s| {
        s["session_id"] == id.as_str() && s["status"] == "ACTIVE"
    });
    assert_eq!(s["mode"], "interactive");

    let s = the_session(&world, TIMEOUT, "IDLE after the turn", |s| {
        s["session_id"] == id.as_str() && s["status"] == "IDLE" && s["tool_calls"]["Bash"] == 1
    });
    assert!(s["num_turns"].as_u64().unwrap() >= 2, "{s:#}");
    assert_eq!(
        s["cost_source"], "estimated",
        "no cost is reported before the end"
    );

    submit(&tmux, "/exit");
    let s = the_session(&world, TIMEOUT, "COMPLETED after /exit", |s| {
        s["session_id"] == id.as_str() && s["status"] == "COMPLETED"
    });
    assert_eq!(s["cost_source"], "reported", "{s:#}");
    assert!(s["total_cost_usd"].as_f64().unwrap() > 0.0);
    // The cost Claude Code recorded at exit, as in ~/.claude.json `lastCost` (written last).
    let deadline = Instant::now() + TIMEOUT;
    let last_cost = loop {
        let claude_json: Value = std::fs::read(world.claude.home().join(".claude.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let cost = claude_json["projects"]
            .as_object()
            .and_then(|p| p.values().find_map(|p| p["lastCost"].as_f64()));
        if cost.is_some() || Instant::now() > deadline {
            break cost;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(s["total_cost_usd"].as_f64(), last_cost, "{s:#}");
    drop(watch);
}

#[test]
fn a_claude_killed_mid_turn_ends_interrupted() {
    let api = FakeApi::start_slow(Duration::from_secs(30));
    let world = World::new(&api.url());
    world.claude.seed_interactive();
    let watch = world.watch();
    let tmux = Tmux::start(&world, "--allowedTools Bash");
    tmux.wait_screen("the prompt", |s| s.contains('>') || s.contains('❯'));
    std::thread::sleep(Duration::from_millis(500));
    submit(&tmux, "Please do the task.");
    assert!(api.wait_until(TIMEOUT, |reqs| {
        reqs.iter().filter(|r| r.kind == RequestKind::Main).count() >= 2
    }));
    let s = the_session(&world, TIMEOUT, "ACTIVE mid-turn", |s| {
        s["status"] == "ACTIVE" && s["tool_calls"]["Bash"] == 1
    });
    let id = s["session_id"].as_str().unwrap().to_owned();

    let pid = tmux.pane_pid();
    // The pane runs `env … claude`; env execs claude, so the pane's pid is claude's.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let killed = Instant::now();
    let s = the_session(
        &world,
        Duration::from_secs(15),
        "INTERRUPTED after SIGKILL",
        |s| s["session_id"] == id.as_str() && s["status"] == "INTERRUPTED",
    );
    eprintln!("SIGKILL seen as INTERRUPTED after {:?}", killed.elapsed());
    assert!(s["ended_at"].is_string());
    drop(watch);
    let listed = world.sessions();
    assert!(
        listed
            .iter()
            .any(|x| x["session_id"] == id.as_str() && x["status"] == "INTERRUPTED")
    );
}

#[test]
fn cclive_run_in_interactive_mode_shows_live_figures_from_the_transcript() {
    let api = FakeApi::start_slow(Duration::from_secs(3));
    let world = World::new(&api.url());
    world.claude.seed_interactive();
    let cclive = crate::support::cclive::cclive_bin().display().to_string();
    let tmux = Tmux::run(
        &world,
        &world.cclive_env(),
        &format!("{} run -- --allowedTools Bash", shell_quote(&cclive)),
    );
    tmux.wait_screen("the prompt", |s| s.contains('>') || s.contains('❯'));
    std::thread::sleep(Duration::from_millis(500));
    submit(&tmux, "Please do the task.");
    assert!(api.wait_until(TIMEOUT, |reqs| {
        reqs.iter().filter(|r| r.kind == RequestKind::Main).count() >= 2
    }));
    let live = world.wait_state(TIMEOUT, "ACTIVE with the tool call", |s| {
        s["data"]["status"] == "ACTIVE" && s["data"]["tool_calls"]["Bash"] == 1
    });
    assert_eq!(live["data"]["source"], "wrapper");
    assert_eq!(live["data"]["mode"], "interactive");
    assert!(live["data"]["tokens"]["input"].as_u64().unwrap() > 0);
    world.wait_state(TIMEOUT, "IDLE after the turn", |s| {
        s["data"]["status"] == "IDLE"
    });
    submit(&tmux, "/exit");
    // COMPLETED comes with the cost-state line at /exit; the exit code a moment later.
    let done = world.wait_state(TIMEOUT, "COMPLETED and exited", |s| {
        s["data"]["status"] == "COMPLETED" && !s["data"]["exit_code"].is_null()
    });
    assert_eq!(done["data"]["cost_source"], "reported", "{done:#}");
    assert!(done["data"]["total_cost_usd"].as_f64().unwrap() > 0.0);
    assert_eq!(done["data"]["exit_code"], 0);
    let listed = world.sessions();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["status"], "COMPLETED");
    assert_eq!(listed[0]["total_cost_usd"], done["data"]["total_cost_usd"]);
}

#[test]
fn cclive_run_feeds_a_running_monitor_instead_of_the_store() {
    let api = FakeApi::start(crate::support::fake_api::Scenario::BashThenText);
    let world = World::new(&api.url());
    let watch = world.watch();
    let out = world
        .cclive(&[
            "run",
            "--session-type",
            "fed",
            "--",
            "-p",
            "Please do the task.",
            "--allowedTools",
            "Bash",
        ])
        .env("CCLIVE_LISTEN", &watch.addr)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map(|c| crate::support::cclive::wait_with_timeout(c, TIMEOUT))
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    // The monitor (which writes the same state file and store) has the wrapper's view.
    let done = world.wait_state(TIMEOUT, "the monitor's COMPLETED session", |s| {
        s["data"]["status"] == "COMPLETED" && s["data"]["session_type"] == "fed"
    });
    assert_eq!(done["data"]["source"], "wrapper");
    assert_eq!(done["data"]["cost_source"], "reported");
    assert_eq!(
        done["data"]["tool_calls"]["Bash"], 1,
        "counted once, though both the wrapper and the transcript report it"
    );
    drop(watch);
    let listed = world.sessions();
    assert_eq!(listed.len(), 1, "{listed:#?}");
    assert_eq!(listed[0]["session_type"], "fed");
    assert_eq!(listed[0]["total_cost_usd"], done["data"]["total_cost_usd"]);
}

#[test]
fn sessions_running_at_once_are_all_listed_as_active() {
    let api = FakeApi::start_slow(Duration::from_secs(5));
    let world = World::new(&api.url());
    let watch = world.watch();
    let other_dir = world.claude.home().join("other-project");
    std::fs::create_dir_all(&other_dir).unwrap();
    let spawn = |dir: &std::path::Path| {
        world
            .claude
            .command(["-p", "Please do the task.", "--allowedTools", "Bash"])
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let a = spawn(world.claude.work_dir());
    let b = spawn(&other_dir);
    let both = world.wait_state(TIMEOUT, "two live sessions", |s| {
        s["active_sessions"]
            .as_array()
            .is_some_and(|a| a.len() == 2 && a.iter().all(|x| x["status"] == "ACTIVE"))
    });
    let cwds: Vec<&str> = both["active_sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["cwd"].as_str().unwrap_or(""))
        .collect();
    assert!(
        cwds.iter().any(|c| c.ends_with("other-project")),
        "{cwds:?}"
    );
    for child in [a, b] {
        let out = crate::support::cclive::wait_with_timeout(child, TIMEOUT);
        assert!(out.status.success());
    }
    world.wait_state(TIMEOUT, "both ended", |s| {
        s["active_sessions"].as_array().is_some_and(Vec::is_empty) && s["status"] == "COMPLETED"
    });
    drop(watch);
    let listed = world.sessions();
    assert_eq!(
        listed.iter().filter(|s| s["status"] == "COMPLETED").count(),
        2,
        "{listed:#?}"
    );
}

#[test]
fn a_failed_run_feeding_a_monitor_fails_and_its_retries_count_once() {
    let api = FakeApi::start(crate::support::fake_api::Scenario::Error500);
    let world = World::new(&api.url());
    let watch = world.watch();
    let out = world
        .cclive(&["run", "--", "-p", "Please do the task."])
        .env("CCLIVE_LISTEN", &watch.addr)
        // Two retries (about 0.5 s and 1 s), then Claude Code gives up.
        .env("CLAUDE_CODE_MAX_RETRIES", "2")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map(|c| crate::support::cclive::wait_with_timeout(c, TIMEOUT))
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_eq!(main_requests(&api), 3, "the first attempt and two retries");
    let done = world.wait_state(TIMEOUT, "the monitor's FAILED session", |s| {
        s["data"]["status"] == "FAILED"
    });
    // Let the transcript's own report of the retries reach the monitor too.
    std::thread::sleep(Duration::from_millis(500));
    let id = done["data"]["session_id"].as_str().unwrap().to_owned();
    drop(watch);
    let listed = world.sessions();
    let s = listed
        .iter()
        .find(|s| s["session_id"] == id.as_str())
        .unwrap();
    assert_eq!(s["api_retries"], 2, "{s:#}");
    assert_eq!(
        s["status"], "FAILED",
        "the transcript's cost-state, written on every exit, does not make it COMPLETED"
    );
}

#[test]
fn transcripts_written_into_new_folders_are_read_at_once_not_at_the_rescan() {
    let world = World::new("http://127.0.0.1:9");
    let projects = world.claude.claude_dir().join("projects");
    std::fs::create_dir_all(&projects).unwrap();
    let watch = world.watch();
    let line = |session: &str, id: &str, sidechain: bool, out: u64| {
        format!(
            r#"{{"parentUuid":null,"isSidechain":{sidechain},"type":"assistant","uuid":"u-{id}","timestamp":"2026-11-20T10:00:00.000Z","sessionId":"{session}","version":"2.1.332","cwd":"/w","message":{{"id":"{id}","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":"end_turn","usage":{{"input_tokens":100,"output_tokens":{out},"cache_read_input_tokens":0,"cache_creation_input_tokens":0}}}}}}"#
        ) + "\n"
    };
    // New projects, each with a session and a sub-agent's file in folders of their own, each
    // written at once as its folder appears (`notify` reports a folder before it watches it).
    let sessions = 40;
    for n in 0..sessions {
        let session = format!("00000000-0000-4000-8000-{n:012}");
        let project = projects.join(format!("-home-me-project-{n}"));
        let agents = project.join(&session).join("subagents");
        std::fs::create_dir_all(&agents).unwrap();
        let main = line(&session, &format!("msg_main_{n}"), false, 10);
        std::fs::write(project.join(format!("{session}.jsonl")), main).unwrap();
        let agent = line(&session, &format!("msg_agent_{n}"), true, 1);
        std::fs::write(agents.join("agent-a1.jsonl"), agent).unwrap();
    }
    // Well before the rescan (30 s) that would find them anyway.
    let deadline = Instant::now() + Duration::from_secs(15);
    let output = |listed: &[Value]| -> u64 {
        listed
            .iter()
            .map(|s| s["tokens"]["output"].as_u64().unwrap_or(0))
            .sum()
    };
    loop {
        let out = world.run(&["sessions", "--json", "--limit", "1000"], TIMEOUT);
        assert!(out.status.success(), "{}", describe(&out));
        let listed: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
        if listed.len() == sessions && output(&listed) == 11 * sessions as u64 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {sessions} sessions, {} of {} output tokens read",
            listed.len(),
            output(&listed),
            11 * sessions
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(watch);
}
