//! Calendar blocks end to end against a REAL CalDAV server (Radicale, see
//! `support/radicale.rs`): the real Claude Code CLI runs against the fake API while `cclive
//! watch` follows it with a `[[calendar]]` in its config.
//!
//! What is pinned: one event per session (a stable UID), written while the session is ACTIVE
//! (marked in progress) and rewritten at its end with the true start and end, status, Claude
//! Code's cost, turns, tokens and the link to the session page, in two writes (the updates in
//! between coalesced); a server that is down while a session runs gets the event once it is
//! back; and a wrong password, a wrong URL or a server that is down are explained by `cclive
//! calendar test` and by the Integrations panel (`/api/integrations`), without the password.

use std::process::Stdio;
use std::time::Duration;

use icalendar::{Component, DatePerhapsTime, Event};
use serde_json::{Value, json};

use crate::support::cclive::{World, describe, free_port, wait_with_timeout};
use crate::support::fake_api::{FakeApi, RequestKind, Scenario};
use crate::support::radicale::{self, PASSWORD, Radicale};
use crate::webhooks::{interactive_session, send, wait_integrations, write_config};

const TIMEOUT: Duration = Duration::from_secs(90);

/// A `[[calendar]]` table for `url`, its password in a file in the world's HOME.
fn calendar_table(world: &World, name: &str, url: &str, password: &str) -> String {
    let file = world.claude.home().join(format!("{name}.password"));
    std::fs::write(&file, format!("{password}\n")).unwrap();
    format!(
        "[[calendar]]\nname = \"{name}\"\nurl = \"{url}\"\nusername = \"{}\"\n\
         password_file = \"{}\"\n",
        radicale::USER,
        file.display()
    )
}

fn status_of(e: &Event) -> String {
    e.property_value("X-CCLIVE-STATUS")
        .unwrap_or_default()
        .to_owned()
}

/// The description, unfolded and unescaped by the parser.
fn description(e: &Event) -> String {
    e.get_description().unwrap_or_default().replace("\\n", "\n")
}

fn utc(t: &DatePerhapsTime) -> jiff::Timestamp {
    match t {
        DatePerhapsTime::DateTime(icalendar::CalendarDateTime::Utc(t)) => {
            jiff::Timestamp::from_second(t.timestamp()).unwrap()
        }
        other => panic!("not a UTC time: {other:?}"),
    }
}

/// What a completed block's description says of `session` (a stored session's JSON).
fn expected_lines(session: &Value, addr: &str) -> Vec<String> {
    let t = &session["tokens"];
    let n = |k: &str| t[k].as_u64().unwrap();
    let id = session["session_id"].as_str().unwrap();
    vec![
        "Status: COMPLETED".to_owned(),
        format!(
            "Cost: ${:.4} (",
            session["total_cost_usd"].as_f64().unwrap()
        ),
        format!("Turns: {}", session["num_turns"]),
        format!(
            "Tokens: {} (input {}, output {}, cache read {}, cache write {})",
            n("input") + n("output") + n("cache_read") + n("cache_creation"),
            n("input"),
            n("output"),
            n("cache_read"),
            n("cache_creation")
        ),
        format!("Session {id}: COMPLETED http://{addr}/sessions/{id}"),
    ]
}

/// The calendar sink's report in `/api/integrations`.
fn calendar_sink(answer: &Value) -> &Value {
    answer["sinks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == "calendar")
        .expect("a calendar sink")
}

#[test]
fn a_real_session_is_one_event_in_progress_then_completed_with_its_figures() {
    let server = Radicale::start();
    let url = server.make_calendar("claude");
    let api = FakeApi::start_slow(Duration::from_secs(6));
    let world = World::new(&api.url());
    write_config(&world, &calendar_table(&world, "work", &url, PASSWORD));
    let watch = world.watch();

    let mut child = world
        .claude
        .command([
            "-p",
            "Please do the task.",
            "--output-format",
            "stream-json",
            "--verbose",
            "--allowedTools",
            "Bash",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let live = world.wait_state(TIMEOUT, "the session ACTIVE", |s| {
        s["status"] == "ACTIVE" && s["data"]["tool_calls"]["Bash"] == 1
    });
    let id = live["data"]["session_id"].as_str().unwrap().to_owned();
    let uid = format!("{id}@cclive");
    let project = world
        .claude
        .work_dir()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();

    // While the slow answer still streams, the calendar has the block, in progress.
    assert!(api.wait_until(TIMEOUT, |reqs| {
        reqs.iter()
            .filter(|r| r.kind == RequestKind::Main)
            .nth(1)
            .is_some_and(|r| r.finished_at.is_none())
    }));
    let events = server.wait_events("claude", TIMEOUT, "the block in progress", |e| {
        e.iter().any(|e| e.get_uid() == Some(uid.as_str()))
    });
    assert!(
        child.try_wait().unwrap().is_none(),
        "read while claude was still working"
    );
    assert_eq!(
        events.len(),
        1,
        "{:#?}",
        events.iter().map(radicale::describe).collect::<Vec<_>>()
    );
    let event = &events[0];
    assert_eq!(status_of(event), "ACTIVE");
    assert_eq!(event.property_value("STATUS"), Some("TENTATIVE"));
    assert_eq!(
        event.get_summary(),
        Some(format!("Claude Code: {project} (in progress)").as_str())
    );
    assert!(
        description(event).starts_with("In progress (ACTIVE)"),
        "{}",
        description(event)
    );

    let out = wait_with_timeout(child, TIMEOUT);
    assert!(out.status.success(), "{}", describe(&out));
    let result: Value = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .next_back()
        .unwrap();
    let cost = result["total_cost_usd"].as_f64().unwrap();

    // The end rewrites the same event: confirmed, with the session's true figures, as stored
    // (Claude Code's own cost may be read a moment after the end: it is written at once too).
    let deadline = std::time::Instant::now() + TIMEOUT;
    let (session, event) = loop {
        let stored = world.sessions();
        let session = stored
            .iter()
            .find(|s| s["session_id"] == id.as_str() && s["status"] == "COMPLETED")
            .cloned();
        let events = server.events("claude");
        if let (Some(session), [event]) = (session, &events[..])
            && status_of(event) == "COMPLETED"
            && expected_lines(&session, &watch.addr)
                .iter()
                .all(|l| description(event).contains(l.as_str()))
        {
            break (session, event.clone());
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the completed block never matched the stored session: {:#?}",
            events.iter().map(radicale::describe).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        session["total_cost_usd"].as_f64().unwrap(),
        cost,
        "Claude Code's cost"
    );
    assert!(description(&event).contains(&format!("Cost: ${cost:.4} (reported by Claude Code)")));
    assert_eq!(event.get_uid(), Some(uid.as_str()));
    assert_eq!(event.property_value("STATUS"), Some("CONFIRMED"));
    assert_eq!(
        event.get_summary(),
        Some(format!("Claude Code: {project} (completed)").as_str())
    );
    let started: jiff::Timestamp = session["started_at"].as_str().unwrap().parse().unwrap();
    let ended: jiff::Timestamp = session["ended_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        utc(&event.get_start().unwrap()).as_second(),
        started.as_second()
    );
    assert_eq!(
        utc(&event.get_end().unwrap()).as_second(),
        ended.as_second()
    );
    assert_eq!(
        event.property_value("URL"),
        Some(format!("http://{}/sessions/{id}", watch.addr).as_str())
    );
    assert!(session["num_turns"].as_u64().unwrap() >= 2);

    // One write while it ran (the progress in between coalesced), then the end (and maybe
    // Claude Code's late figures).
    let answer = wait_integrations(&watch.addr, |a| {
        let s = calendar_sink(a);
        s["delivered"].as_u64() >= Some(2) && s["queued"] == 0 && s["in_flight"] == false
    });
    let sink = calendar_sink(&answer);
    assert_eq!(sink["failed"], 0, "{sink:#}");
    let recent = sink["recent"].as_array().unwrap();
    assert!(recent.len() <= 3, "{sink:#}");
    assert!(recent.iter().all(|r| r["id"] == uid.as_str()), "{sink:#}");
    let first = recent.last().unwrap();
    assert_eq!(
        first["http_status"], 201,
        "created, then replaced: {sink:#}"
    );
    assert_ne!(
        first["event"], "session_ended",
        "written while it ran: {sink:#}"
    );
    assert!(
        !answer.to_string().contains("/alice/claude"),
        "the URL's path is not shown"
    );
    let out = watch.stop();
    assert!(out.status.success(), "{}", describe(&out));
}

#[test]
fn the_calendar_server_down_while_a_session_runs_loses_no_event() {
    let mut server = Radicale::start();
    let url = server.make_calendar("claude");
    server.stop();
    let api = FakeApi::start(Scenario::BashThenText);
    let world = World::new(&api.url());
    write_config(&world, &calendar_table(&world, "work", &url, PASSWORD));
    let watch = world.watch();

    let run = world.claude.run_print("Please do the task.", TIMEOUT);
    let result = run.result().expect("a result");
    let id = result["session_id"].as_str().unwrap().to_owned();
    world.wait_state(TIMEOUT, "the session COMPLETED", |s| {
        s["data"]["session_id"] == id.as_str() && s["data"]["status"] == "COMPLETED"
    });
    // The panel says why nothing is written yet, and that it keeps trying.
    let answer = wait_integrations(&watch.addr, |a| {
        let s = calendar_sink(a);
        s["retries"].as_u64().unwrap_or(0) >= 2 && s["in_flight"] == true
    });
    let sink = calendar_sink(&answer);
    let error = sink["last_error"].as_str().unwrap();
    assert!(error.contains("running and reachable"), "{error}");
    assert_eq!(sink["delivered"], 0);
    assert_eq!(sink["failed"], 0, "not given up");

    server.start_again();
    let events = server.wait_events("claude", TIMEOUT, "the completed block", |e| {
        e.iter().any(|e| status_of(e) == "COMPLETED")
    });
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].get_uid(), Some(format!("{id}@cclive").as_str()));
    let cost = result["total_cost_usd"].as_f64().unwrap();
    assert!(
        description(&events[0]).contains(&format!("Cost: ${cost:.4} (reported by Claude Code)")),
        "{}",
        description(&events[0])
    );
    let answer = wait_integrations(&watch.addr, |a| calendar_sink(a)["delivered"] == 1);
    assert_eq!(calendar_sink(&answer)["in_flight"], false);
    let out = watch.stop();
    assert!(out.status.success(), "{}", describe(&out));
}

#[test]
fn a_wrong_password_url_or_server_is_explained_by_calendar_test_and_the_panel() {
    let server = Radicale::start();
    let url = server.make_calendar("claude");
    let world = World::new("http://127.0.0.1:9");
    let down = format!("http://127.0.0.1:{}/alice/claude/", free_port());
    let wrong_password = "not-the-password-456";
    let config = [
        calendar_table(&world, "good", &url, PASSWORD),
        calendar_table(&world, "badpw", &url, wrong_password),
        calendar_table(&world, "nourl", &server.calendar_url("nope"), PASSWORD),
        calendar_table(
            &world,
            "notcal",
            &format!("{}/alice/", server.base()),
            PASSWORD,
        ),
        calendar_table(&world, "down", &down, PASSWORD),
    ]
    .join("\n");
    write_config(&world, &config);

    let out = world.run(&["calendar", "test"], TIMEOUT);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = |name: &str| {
        stdout
            .lines()
            .find(|l| l.contains(&format!(" {name} (")))
            .unwrap_or_else(|| panic!("no line for {name}: {stdout}"))
            .to_owned()
    };
    assert!(
        line("good").starts_with("ok    good (http://127.0.0.1:"),
        "{stdout}"
    );
    assert!(line("good").contains("wrote and deleted a test event"));
    assert!(line("badpw").starts_with("FAIL  badpw"));
    assert!(
        line("badpw").contains("HTTP 401: the server refused the credentials"),
        "{stdout}"
    );
    assert!(
        line("nourl").contains("HTTP 404: no calendar at this URL"),
        "{stdout}"
    );
    assert!(
        line("notcal").contains("this URL is not a calendar"),
        "{stdout}"
    );
    assert!(line("down").contains("running and reachable"), "{stdout}");
    for secret in [PASSWORD, wrong_password, "/alice/claude"] {
        assert!(!stdout.contains(secret), "{secret} shows: {stdout}");
    }
    assert!(
        server.events("claude").is_empty(),
        "the test event was deleted"
    );

    // The monitor with the good and the badly configured calendar: the panel tells which.
    write_config(
        &world,
        &[
            calendar_table(&world, "good", &url, PASSWORD),
            calendar_table(&world, "badpw", &url, wrong_password),
        ]
        .join("\n"),
    );
    let watch = world.watch();
    send(&watch.addr, "sess-cal", &interactive_session());
    let answer = wait_integrations(&watch.addr, |a| {
        a["sinks"][0]["delivered"].as_u64().unwrap_or(0) >= 1
            && a["sinks"][1]["failed"].as_u64().unwrap_or(0) >= 1
    });
    let bad = &answer["sinks"][1];
    assert_eq!(bad["kind"], "calendar");
    assert_eq!(bad["name"], "badpw");
    assert!(
        bad["last_error"]
            .as_str()
            .unwrap()
            .starts_with("HTTP 401: the server refused"),
        "{bad:#}"
    );
    assert_eq!(bad["recent"][0]["http_status"], 401);
    assert_eq!(bad["recent"][0]["outcome"], "failed");
    assert_eq!(bad["recent"][0]["session_id"], "sess-cal");
    let text = answer.to_string();
    for secret in [PASSWORD, wrong_password, "/alice/claude"] {
        assert!(!text.contains(secret), "{secret} shows: {answer:#}");
    }
    server.wait_events("claude", TIMEOUT, "the good calendar's block", |e| {
        e.iter().any(|e| e.get_uid() == Some("sess-cal@cclive"))
    });
    let (status, metrics) = crate::webhooks::http(&watch.addr, "GET", "/metrics", "");
    assert_eq!(status, 200);
    assert!(
        metrics
            .lines()
            .any(|l| l.contains("kind=\"calendar\"") && l.contains("name=\"badpw\"")),
        "{metrics}"
    );
    let out = watch.stop();
    assert!(out.status.success(), "{}", describe(&out));
}

#[test]
fn an_event_edited_on_the_server_is_rewritten_and_close_sessions_share_it_interrupted() {
    let server = Radicale::start();
    let url = server.make_calendar("claude");
    let world = World::new("http://127.0.0.1:9");
    write_config(&world, &calendar_table(&world, "work", &url, PASSWORD));
    let watch = world.watch();
    let started = |cwd: &str| json!({"type": "session_started", "mode": "interactive", "source": "hook", "cwd": cwd});

    send(&watch.addr, "sess-a", &[started("/work/app")]);
    server.wait_events("claude", TIMEOUT, "sess-a in progress", |e| {
        e.iter().any(|e| e.get_uid() == Some("sess-a@cclive"))
    });
    // Someone edits the event in their calendar app: its ETag changes on the server.
    let edited = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n\
                  UID:sess-a@cclive\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260101T000000Z\r\n\
                  SUMMARY:edited by hand\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let (status, body) = server
        .request("PUT", "/alice/claude/sess-a-cclive.ics", edited)
        .unwrap();
    assert!(matches!(status, 201 | 204), "{status} {body}");

    // Its end: cclive's If-Match fails (412), so it writes its figures over the edit.
    send(
        &watch.addr,
        "sess-a",
        &[json!({"type": "session_ended", "reason": "prompt_input_exit"})],
    );
    let events = server.wait_events("claude", TIMEOUT, "sess-a completed", |e| {
        e.iter().any(|e| status_of(e) == "COMPLETED")
    });
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0].get_summary(),
        Some("Claude Code: app (completed)")
    );

    // A session of the same project right after: the same event, which now says INTERRUPTED.
    send(
        &watch.addr,
        "sess-b",
        &[
            started("/work/app"),
            json!({"type": "prompt_submitted", "id": "p1", "preview": "go on"}),
            json!({"type": "interrupted", "signal": "SIGINT"}),
        ],
    );
    let events = server.wait_events("claude", TIMEOUT, "the block interrupted", |e| {
        e.iter().any(|e| status_of(e) == "INTERRUPTED")
    });
    assert_eq!(events.len(), 1, "merged into one block");
    let event = &events[0];
    assert_eq!(event.get_uid(), Some("sess-a@cclive"));
    assert_eq!(event.get_summary(), Some("Claude Code: app (interrupted)"));
    let text = description(event);
    assert!(text.contains("Session sess-a: COMPLETED"), "{text}");
    assert!(text.contains("Session sess-b: INTERRUPTED"), "{text}");

    // Another project: its own event.
    send(&watch.addr, "sess-c", &[started("/work/lib")]);
    server.wait_events("claude", TIMEOUT, "sess-c's own event", |e| e.len() == 2);
    let answer = wait_integrations(&watch.addr, |a| {
        calendar_sink(a)["delivered"].as_u64() >= Some(4)
    });
    assert_eq!(calendar_sink(&answer)["failed"], 0);
    let out = watch.stop();
    assert!(out.status.success(), "{}", describe(&out));
}
