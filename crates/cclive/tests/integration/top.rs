//! `cclive top`: the screen drawn into ratatui's `TestBackend` at two terminal sizes (the key
//! figures must be on it), what keys do, and the real binary in a real terminal (tmux): its own
//! monitor over a seeded history, and following a running `cclive watch` live, with `q`
//! restoring the terminal.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use cclive::tui::app::{Action, App, Msg, Source, View};
use cclive::tui::data::History;
use cclive::tui::turns::TurnRow;
use cclive::tui::view;
use cclive_core::budget::{Budget, Limits};
use cclive_core::report::UsageRecord;
use cclive_core::statusline::{RateLimit, RateLimits};
use cclive_core::{
    CostSource, Efficiency, PriceTable, SessionId, SessionState, Snapshot, Status, Tokens, Update,
    UpdateKind,
};
use cclive_store::{Batch, SortKey, SqliteStore, Store, UsageRow};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::text::Span;

use crate::support::cclive::World;

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

const NOW: &str = "2026-09-03T09:47:00Z";

fn live_session() -> SessionState {
    let mut s = SessionState::new(SessionId::new("live-1"), ts("2026-09-03T09:40:00Z"));
    s.status = Status::Active;
    s.project_path = Some("/home/me/src/webshop".into());
    s.model = Some("claude-opus-5-5".into());
    s.last_prompt = Some("fix the flaky checkout test".into());
    s.total_cost_usd = 0.42;
    s.cost_source = CostSource::Estimated;
    s.num_turns = 12;
    s.duration_ms = 245_000;
    s.tokens = Tokens {
        input: 2400,
        output: 84,
        cache_read: 10_000,
        cache_creation: 600,
        ..Tokens::default()
    };
    s.efficiency = Efficiency {
        cost_per_turn: Some(0.035),
        output_tokens_per_minute: Some(1615.4),
        cache_hit_ratio: Some(0.769),
        api_time_share: Some(0.708),
    };
    s.updated_at = ts("2026-09-03T09:46:50Z");
    s
}

fn finished(id: &str, project: &str, started: &str, cost: f64, turns: u64) -> SessionState {
    let mut s = SessionState::new(SessionId::new(id), ts(started));
    s.status = Status::Completed;
    s.project_path = Some(project.into());
    s.model = Some("claude-sonnet-4-5".into());
    s.total_cost_usd = cost;
    s.cost_source = CostSource::Reported;
    s.num_turns = turns;
    s.duration_ms = 600_000;
    s
}

/// `usd` of sonnet output ($15 per million tokens) at `at`.
fn record(at: &str, usd: f64) -> UsageRecord {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let output = (usd / 15.0 * 1e6).round() as u64;
    UsageRecord {
        at: ts(at),
        session_id: SessionId::new("live-1"),
        project: None,
        model: Some("claude-sonnet-4-5".into()),
        tokens: Tokens {
            output,
            ..Tokens::default()
        },
    }
}

/// A dashboard with one live session, a running block, a daily budget at 61 %, official limits
/// and three finished sessions in two projects.
fn sample_app() -> App {
    let now = ts(NOW);
    let mut app = App::new(
        Source::Following {
            addr: "127.0.0.1:8501".into(),
            connected: true,
        },
        now,
    );
    let mut snapshot = Snapshot::inactive(now);
    snapshot.status = Some(Status::Active);
    snapshot.active_sessions = vec![live_session()];
    snapshot.data = Some(live_session());
    snapshot.rate_limits = Some(RateLimits {
        five_hour: Some(RateLimit {
            used_percentage: 42.5,
            resets_at: Some(ts("2026-09-03T13:00:00Z")),
        }),
        seven_day: Some(RateLimit {
            used_percentage: 7.0,
            resets_at: None,
        }),
        reported_at: None,
    });
    app.apply(Msg::Snapshot(Box::new(snapshot)));
    let records = [
        record("2026-09-01T10:00:00Z", 20.0),
        record("2026-09-03T08:10:00Z", 2.5),
        record("2026-09-03T09:31:00Z", 3.6),
    ];
    let budget = Budget {
        limits: Limits {
            daily_usd: Some(10.0),
            ..Limits::default()
        },
        ..Budget::default()
    };
    let recent = vec![
        finished(
            "done-1",
            "/home/me/src/webshop",
            "2026-09-03T08:05:00Z",
            2.5,
            7,
        ),
        finished(
            "done-2",
            "/home/me/src/blog",
            "2026-09-02T15:00:00Z",
            9.75,
            30,
        ),
        finished(
            "done-3",
            "/home/me/src/blog",
            "2026-09-01T10:00:00Z",
            0.12,
            2,
        ),
    ];
    let history = History::compute(
        &records,
        recent,
        &budget,
        &PriceTable::builtin(),
        &TimeZone::UTC,
        now,
    );
    app.apply(Msg::History(Box::new(history)));
    app
}

/// The screen as text, one line per terminal row.
pub(crate) fn screen(app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| view::render(f, app)).unwrap();
    let buffer = terminal.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..height {
        let mut skip = 0;
        for x in 0..width {
            // A wide character covers the next cell too (as TestBackend's own view reads it).
            let symbol = buffer[(x, y)].symbol();
            if skip > 0 {
                skip -= 1;
                continue;
            }
            out.push_str(symbol);
            skip = Span::raw(symbol).width().saturating_sub(1);
        }
        out.push('\n');
    }
    out
}

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::from(code)
}

fn assert_on(screen: &str, wanted: &[&str]) {
    for w in wanted {
        assert!(screen.contains(w), "{w:?} is not on the screen:\n{screen}");
    }
}

#[test]
fn the_key_figures_are_on_screen_at_120x40_and_80x24() {
    let app = sample_app();
    let wide = screen(&app, 120, 40);
    eprintln!("{wide}");
    assert_on(
        &wide,
        &[
            "🔴 LIVE SESSION ACTIVE",
            "following the monitor at 127.0.0.1:8501",
            // The live card: the web card's figures.
            "webshop",
            "claude-opus-5-5",
            "$0.4200 est.",
            "12 turns",
            "4m 05s",
            "fix the flaky checkout test",
            "in 2.4k · out 84 · cache read 10.0k · write 600",
            "$0.0350/turn",
            "cache 77%",
            "API 71%",
            // The block (08:00–13:00, 47 % elapsed) with its bar.
            "5h block 08:00–13:00",
            "3h13m left",
            "$6.10",
            "(estimated)",
            "███",
            "░░░",
            // Official limits, labelled.
            "5-hour 42% used, resets 13:00",
            "7-day 7% used",
            "(official)",
            // Budgets.
            "today 2026-09-03",
            "$6.10 of $10.00 · 61% notice",
            "week  2026-08-31",
            "$26.10 (no limit set)",
            "cost, last 6h",
            // The table.
            "Started↓",
            "Model",
            "Tokens",
            "blog",
            "$9.75",
            "30",
            "q quit",
        ],
    );
    let small = screen(&app, 80, 24);
    eprintln!("{small}");
    assert_on(
        &small,
        &[
            "🔴 LIVE SESSION ACTIVE",
            "webshop",
            "$0.4200 est.",
            "12 turns",
            "5h block 08:00–13:00",
            "3h13m left",
            // The projection is not cut at 80 columns.
            "/h → $",
            "█",
            "42% used",
            "(official)",
            "61% notice",
            "Started↓",
            "blog",
            "$9.75",
            "q quit",
        ],
    );
    assert!(
        !small.contains("Model"),
        "narrow terminals drop the model column"
    );
    // Every row of the table (live + three finished) is on the small screen too.
    for row in ["09-03 09:40", "09-03 08:05", "09-02 15:00", "09-01 10:00"] {
        assert!(small.contains(row), "{row}:\n{small}");
    }
}

#[test]
fn keys_sort_filter_open_the_turn_list_and_quit() {
    let mut app = sample_app();
    // s: sort by cost, largest first.
    assert_eq!(app.on_key(key(KeyCode::Char('s'))), Action::None);
    assert_eq!(app.order.key, SortKey::Cost);
    let rows: Vec<&str> = app
        .table_rows()
        .iter()
        .map(|s| s.session_id.as_str())
        .collect();
    assert_eq!(rows, ["done-2", "done-1", "live-1", "done-3"]);
    let s = screen(&app, 100, 30);
    assert!(s.contains("Cost↓") && s.contains("sort: cost↓"), "{s}");
    // r: the other way round.
    app.on_key(key(KeyCode::Char('r')));
    assert_eq!(app.table_rows()[0].session_id.as_str(), "done-3");

    // p opens the picker on "All projects"; ↓ and Enter choose the first project (blog).
    app.on_key(key(KeyCode::Char('p')));
    assert_eq!(app.picker, Some(0));
    let s = screen(&app, 100, 30);
    assert_on(
        &s,
        &["project · ⏎ choose", "All projects", "/home/me/src/blog"],
    );
    app.on_key(key(KeyCode::Down));
    app.on_key(key(KeyCode::Enter));
    assert_eq!(app.picker, None);
    assert_eq!(app.project.as_deref(), Some("/home/me/src/blog"));
    let s = screen(&app, 100, 30);
    assert!(s.contains("project: blog"), "{s}");
    assert!(
        !s.contains("webshop"),
        "the live card is filtered too:\n{s}"
    );
    assert_eq!(app.table_rows().len(), 2);
    // The picker opens on the project shown; q and esc close it without quitting.
    app.on_key(key(KeyCode::Char('p')));
    assert_eq!(app.picker, Some(1));
    app.on_key(key(KeyCode::Down));
    assert_eq!(app.on_key(key(KeyCode::Char('q'))), Action::None);
    assert_eq!(app.project.as_deref(), Some("/home/me/src/blog"));
    app.on_key(key(KeyCode::Char('p')));
    app.on_key(key(KeyCode::Down));
    app.on_key(key(KeyCode::Enter));
    assert_eq!(app.project.as_deref(), Some("/home/me/src/webshop"));
    // Up to "All projects" again.
    app.on_key(key(KeyCode::Char('p')));
    app.on_key(key(KeyCode::Char('g')));
    app.on_key(key(KeyCode::Enter));
    assert_eq!(app.project, None);

    // ↓ and Enter: the second row's turn list is asked for and shown when it comes.
    app.on_key(key(KeyCode::Char('s')));
    app.on_key(key(KeyCode::Down));
    let selected = app.selected_session().unwrap().session_id.clone();
    let action = app.on_key(key(KeyCode::Enter));
    assert_eq!(action, Action::LoadTurns(selected.clone()));
    assert!(matches!(app.view, View::Turns(_)));
    assert!(screen(&app, 100, 30).contains("reading the session's events"));
    let turn = TurnRow {
        index: 1,
        started_at: ts("2026-09-03T08:05:00Z"),
        last_at: ts("2026-09-03T08:06:30Z"),
        prompt: Some("add a dark mode toggle".into()),
        tool_calls: 3,
        tool_errors: 1,
        tools: vec![("Edit".into(), 2), ("Bash".into(), 1)],
        tokens: Tokens {
            output: 40_000,
            ..Tokens::default()
        },
        cost_usd: 0.6,
        api_requests: 4,
    };
    app.apply(Msg::Turns {
        session_id: selected,
        result: Ok(vec![turn]),
    });
    let s = screen(&app, 100, 30);
    assert_on(
        &s,
        &[
            "Turns of",
            "add a dark mode toggle",
            "Edit×2 Bash",
            "40.0k",
            "$0.6000",
            "1m 30s",
        ],
    );
    // Esc: back to the sessions; q: quit.
    app.on_key(key(KeyCode::Esc));
    assert_eq!(app.view, View::Sessions);
    assert_eq!(app.on_key(key(KeyCode::Char('q'))), Action::Quit);
}

#[test]
fn question_mark_shows_the_keys_and_any_key_closes_them() {
    let mut app = sample_app();
    assert!(screen(&app, 100, 30).contains("? help"));
    assert_eq!(app.on_key(key(KeyCode::Char('?'))), Action::None);
    assert!(app.help);
    let s = screen(&app, 100, 30);
    assert_on(
        &s,
        &[
            "cclive top · keys",
            "pick a project",
            "plan: none → Pro → Max 5× → Max 20× → Custom",
            "the selected session's turns",
        ],
    );
    // On a small terminal the help fits in the screen.
    let small = screen(&app, 80, 24);
    assert!(small.contains("cclive top · keys"), "{small}");
    // Any key closes it, q included (it does not quit from the help).
    assert_eq!(app.on_key(key(KeyCode::Char('q'))), Action::None);
    assert!(!app.help);
    assert!(!screen(&app, 100, 30).contains("cclive top · keys"));
}

#[test]
fn plans_show_the_block_against_their_limits_and_when_one_is_reached() {
    let mut app = sample_app();
    // The official limits say how old they are when Claude Code said when it reported them.
    if let Some(l) = &mut app.snapshot.rate_limits {
        l.reported_at = Some(ts("2026-09-03T09:35:00Z"));
    }
    assert!(screen(&app, 120, 40).contains("(official, 12m ago)"));
    let s = screen(&app, 120, 40);
    assert!(s.contains("plan      none · l: Pro"), "{s}");
    // l: Pro (44k tokens, $18, 250 messages per block). The sample's block used $6.10 of
    // sonnet output: 406,666 output tokens, over the token limit already.
    app.on_key(key(KeyCode::Char('l')));
    assert_eq!(app.plan, Some(cclive_core::plans::Plan::Pro));
    let s = screen(&app, 120, 40);
    assert_on(&s, &["Pro", "tok 924% of 44.0k", "tokens limit reached"]);
    // Max 20×: 220k tokens, $140 — still over on tokens; Custom with the user's own limits:
    // 10M tokens, $12 — the cost limit comes first, before the block ends at 13:00.
    app.on_key(key(KeyCode::Char('l')));
    app.on_key(key(KeyCode::Char('l')));
    assert_eq!(app.plan, Some(cclive_core::plans::Plan::Max20));
    app.on_key(key(KeyCode::Char('l')));
    app.custom_tokens = Some(10_000_000);
    app.custom_cost_usd = Some(12.0);
    let s = screen(&app, 120, 40);
    assert_on(&s, &["Custom", "50% of $12.00", "cost limit at"]);
    let small = screen(&app, 80, 24);
    assert!(
        small.contains("Custom") && small.contains("limit"),
        "{small}"
    );
    // And back to none.
    app.on_key(key(KeyCode::Char('l')));
    assert_eq!(app.plan, None);
}

#[test]
fn live_updates_change_the_cards_and_the_banner() {
    let mut app = sample_app();
    let mut s = live_session();
    s.num_turns = 14;
    s.total_cost_usd = 0.5;
    app.apply(Msg::Update(Box::new(Update {
        kind: UpdateKind::Progress,
        previous_status: None,
        session: s.clone(),
    })));
    assert!(screen(&app, 120, 40).contains("14 turns (+2)"));
    s.status = Status::Idle;
    app.apply(Msg::Update(Box::new(Update {
        kind: UpdateKind::StatusChanged,
        previous_status: Some(Status::Active),
        session: s.clone(),
    })));
    let text = screen(&app, 120, 40);
    assert!(text.contains("🟡 Session waiting for you"), "{text}");
    s.status = Status::Completed;
    app.apply(Msg::Update(Box::new(Update {
        kind: UpdateKind::Ended,
        previous_status: Some(Status::Idle),
        session: s,
    })));
    let text = screen(&app, 120, 40);
    assert!(text.contains("⚫ No Active Session"), "{text}");
    assert!(
        app.table_rows()
            .iter()
            .any(|r| r.session_id.as_str() == "live-1" && r.status == Status::Completed),
        "the ended session stays in the table"
    );
}

// ---- the real binary in a real terminal ----

/// A tmux server of its own (never the developer's), killed when dropped.
struct Tmux {
    socket: String,
}

impl Tmux {
    /// Runs `command` in a new `width`×`height` window; `None` when tmux is not installed.
    fn start(command: &str, width: u16, height: u16) -> Option<Tmux> {
        if Command::new("tmux").arg("-V").output().is_err() {
            eprintln!("tmux is not installed (scripts/test-setup.sh installs it); skipped");
            return None;
        }
        let socket = format!("cclive-top-test-{}-{}", std::process::id(), rand_suffix());
        let status = Command::new("tmux")
            .args(["-L", &socket, "-f", "/dev/null", "new-session", "-d"])
            .args(["-x", &width.to_string(), "-y", &height.to_string()])
            .arg(command)
            .status()
            .unwrap();
        assert!(status.success());
        Some(Tmux { socket })
    }

    fn capture(&self) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &str) {
        Command::new("tmux")
            .args(["-L", &self.socket, "send-keys", keys])
            .status()
            .unwrap();
    }

    /// Waits until the screen shows `text`; fails with the screen after `timeout`.
    fn wait_for(&self, text: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let screen = self.capture();
            if screen.contains(text) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "{text:?} did not appear:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// `cclive top` as a shell command line with the world's environment, followed by a marker
/// with its exit status (the pane stays open to read it).
fn top_command(world: &World, listen: &str) -> String {
    let mut line = String::from("env");
    for (k, v) in world.cclive_env() {
        let v = if k == "CCLIVE_LISTEN" {
            listen.to_owned()
        } else {
            v
        };
        let _ = write!(line, " {k}='{v}'");
    }
    let _ = write!(
        line,
        " TERM=xterm-256color '{}' top; echo \"TOP EXITED $?\"; sleep 60",
        crate::support::cclive::cclive_bin().display()
    );
    line
}

fn seed(db: &Path) {
    let store = SqliteStore::open(db).unwrap();
    let now = Timestamp::now();
    let mut s = finished("seeded-1", "/home/me/src/seeded-project", NOW, 1.25, 5);
    s.started_at = now - jiff::SignedDuration::from_mins(30);
    s.updated_at = s.started_at;
    store
        .write(&Batch {
            sessions: vec![s],
            usage: vec![UsageRow {
                key: "msg_seeded".into(),
                session_id: SessionId::new("seeded-1"),
                at: now - jiff::SignedDuration::from_mins(20),
                model: Some("claude-sonnet-4-5".into()),
                tokens: Tokens {
                    output: 100_000,
                    ..Tokens::default()
                },
                sidechain: false,
            }],
            ..Batch::default()
        })
        .unwrap();
}

/// No monitor running: `top` runs its own over the seeded history; `s` sorts; `q` quits with
/// status 0 and leaves the alternate screen.
#[test]
fn top_runs_its_own_monitor_and_q_restores_the_terminal() {
    let world = World::new("http://127.0.0.1:9");
    seed(&world.db);
    let dead = format!("127.0.0.1:{}", crate::support::cclive::free_port());
    let Some(tmux) = Tmux::start(&top_command(&world, &dead), 100, 30) else {
        return;
    };
    let screen = tmux.wait_for("seeded-project", Duration::from_secs(20));
    eprintln!("{screen}");
    assert!(screen.contains("⚫ No Active Session"), "{screen}");
    assert!(screen.contains("monitoring"), "{screen}");
    assert!(screen.contains("$1.25"), "{screen}");
    assert!(screen.contains("5h block"), "{screen}");
    assert!(screen.contains("$1.50"), "today's spend:\n{screen}");
    tmux.keys("s");
    tmux.wait_for("Cost↓", Duration::from_secs(5));
    tmux.keys("q");
    let after = tmux.wait_for("TOP EXITED", Duration::from_secs(15));
    assert!(after.contains("TOP EXITED 0"), "{after}");
    assert!(
        !after.contains("seeded-project"),
        "the dashboard's screen is gone:\n{after}"
    );
}

/// A monitor runs: `top` follows its stream, and a session posted to the monitor shows up
/// live, without a key press.
#[test]
fn top_follows_a_running_monitor_live() {
    let world = World::new("http://127.0.0.1:9");
    let watch = world.watch();
    let Some(tmux) = Tmux::start(&top_command(&world, &watch.addr), 120, 30) else {
        return;
    };
    tmux.wait_for("following the monitor at", Duration::from_secs(20));
    let now = Timestamp::now();
    let events = serde_json::json!([
        {"session_id": "live-via-api", "at": now, "type": "session_started", "mode": "print",
         "source": "test", "cwd": "/home/me/src/streamed-project"},
        {"session_id": "live-via-api", "at": now, "type": "prompt_submitted", "id": "p1",
         "preview": "stream me"},
    ]);
    post(&watch.addr, "/api/events", &events.to_string());
    let screen = tmux.wait_for("streamed-project", Duration::from_secs(10));
    eprintln!("{screen}");
    assert!(screen.contains("🔴 LIVE SESSION ACTIVE"), "{screen}");
    assert!(screen.contains("stream me"), "{screen}");
    tmux.keys("q");
    let after = tmux.wait_for("TOP EXITED", Duration::from_secs(15));
    assert!(after.contains("TOP EXITED 0"), "{after}");
    drop(watch);
}

fn post(addr: &str, path: &str, body: &str) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 202"), "{answer}");
}

#[test]
fn top_refuses_without_a_terminal() {
    let world = World::new("http://127.0.0.1:9");
    let out = world.run(&["top"], Duration::from_secs(30));
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("needs a terminal")
            || String::from_utf8_lossy(&out.stderr).contains("not one"),
        "{}",
        crate::support::cclive::describe(&out)
    );
}

/// With team mode configured, `top`'s own monitor forwards what it stores to the team server,
/// as `cclive watch` does: the history it found, then a session the real Claude Code runs while
/// the screen is up. Nothing about it is printed over the screen.
#[test]
fn tops_own_monitor_forwards_to_the_team_server() {
    use crate::support::fake_api::{FakeApi, Scenario};
    use crate::support::team::{TeamServer, fresh_database};

    let api = FakeApi::start(Scenario::BashThenText);
    let server = TeamServer::start(&fresh_database("top_forwards"));
    let admin = server.add_user("lead@corp", "platform", "admin");
    let token = server.add_user("tia@corp", "platform", "member");
    let world = World::new(&api.url());
    seed(&world.db);
    let home = world.claude.home().to_owned();
    std::fs::write(home.join("team-token"), format!("{token}\n")).unwrap();
    std::fs::create_dir_all(home.join(".config/cclive")).unwrap();
    std::fs::write(
        home.join(".config/cclive/config.toml"),
        format!(
            "[team]\nupstream = \"{}\"\ntoken_file = \"{}\"\n",
            server.url(),
            home.join("team-token").display()
        ),
    )
    .unwrap();
    // tia's responses on the server: (by model) responses.
    let on_server = || -> std::collections::BTreeMap<String, u64> {
        let reply = server.get_json(&admin, "/api/team/v1/spend");
        let mut by_model = std::collections::BTreeMap::new();
        for row in reply["rows"].as_array().unwrap() {
            assert_eq!(row["email"], "tia@corp");
            *by_model
                .entry(row["model"].as_str().unwrap_or("").to_owned())
                .or_default() += row["responses"].as_u64().unwrap();
        }
        by_model
    };
    let wait_server =
        |what: &str, done: &dyn Fn(&std::collections::BTreeMap<String, u64>) -> bool| {
            let deadline = Instant::now() + Duration::from_mins(1);
            loop {
                let got = on_server();
                if done(&got) {
                    return got;
                }
                assert!(
                    Instant::now() < deadline,
                    "no {what} on the server: {got:?}"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        };
    let dead = format!("127.0.0.1:{}", crate::support::cclive::free_port());
    let Some(tmux) = Tmux::start(&top_command(&world, &dead), 100, 30) else {
        return;
    };
    let screen = tmux.wait_for("seeded-project", Duration::from_secs(20));
    assert!(
        !screen.contains("forwarding"),
        "nothing printed over the screen:\n{screen}"
    );
    wait_server("seeded history", &|m| {
        m.get("claude-sonnet-4-5") == Some(&1)
    });
    // A session while the screen is up reaches the server too.
    let run = world
        .claude
        .run_print("Please do the task.", Duration::from_mins(2));
    assert!(run.result().is_some(), "{}", run.diagnostics());
    let got = wait_server("new session", &|m| m.values().sum::<u64>() > 1);
    assert!(got.values().sum::<u64>() > 1, "{got:?}");
    tmux.keys("q");
    let after = tmux.wait_for("TOP EXITED", Duration::from_secs(15));
    assert!(after.contains("TOP EXITED 0"), "{after}");
}
