//! One session, recorded by `cclive run` around the real Claude Code CLI (six Bash rounds from
//! the fake API), read back by every surface a user looks at: the session page in Chromium (and
//! its timeline), `/api/sessions`, `cclive top` (drawn from the store), the status line and
//! `report daily --json`. Each shows the same cost, tokens and turns.

use std::time::Duration;

use cclive::tui::app::{App, Msg, Source};
use cclive::tui::data::History;
use cclive_core::PriceTable;
use cclive_core::budget::Budget;
use cclive_store::SqliteStore;
use jiff::tz::TimeZone;
use serde_json::{Value, json};

use crate::dashboard_browser::{ChromeDriver, wait_page};
use crate::dashboard_e2e::Dashboard;
use crate::support::cclive::{World, describe};
use crate::support::fake_api::{FakeApi, Scenario};

const TIMEOUT: Duration = Duration::from_secs(30);

/// What the test reads off the session page.
const READ_SESSION: &str = r##"
const cost = document.querySelector('#head [data-field="cost"]');
const stats = [...document.querySelectorAll("#head dl.stats > div")].map((d) => [d.querySelector("dt")?.textContent, d.querySelector("dd")?.textContent]);
const figs = Object.fromEntries([...document.querySelectorAll("#head dl.figures > div")].map((d) => [d.querySelector("dt")?.textContent, d.querySelector("dd")?.textContent]));
return {
  cost: cost ? Number(cost.dataset.value) : null,
  turns: (stats.find(([k]) => k === "Turns") || [])[1] || null,
  requests: figs["API requests"] || null,
  note: document.getElementById("timeline-note")?.textContent || "",
  timelineTurns: [...document.querySelectorAll("#timeline [data-turn]")].map((t) => Number(t.dataset.turn)).filter((i) => i > 0),
  bashPerTurn: [...document.querySelectorAll("#timeline [data-turn]")].filter((t) => Number(t.dataset.turn) > 0).map((t) => t.querySelectorAll(".tools tbody tr").length),
};
"##;

fn tokens(v: &Value) -> [u64; 4] {
    ["input", "output", "cache_read", "cache_creation"].map(|k| v[k].as_u64().unwrap_or(0))
}

fn usd(v: f64) -> String {
    if v != 0.0 && v.abs() < 1.0 {
        format!("${v:.4}")
    } else {
        format!("${v:.2}")
    }
}

#[test]
fn one_session_shows_the_same_cost_tokens_and_turns_on_every_surface() {
    let api = FakeApi::start(Scenario::BashRounds(6));
    let world = World::new(&api.url());
    let out = world
        .cclive(&[
            "run",
            "--",
            "-p",
            "Please do the task.",
            "--allowedTools",
            "Bash",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let listed = world.sessions();
    assert_eq!(listed.len(), 1, "{listed:#?}");
    let s = listed[0].clone();
    let id = s["session_id"].as_str().unwrap().to_owned();
    let cost = s["total_cost_usd"].as_f64().unwrap();
    let turns = s["num_turns"].as_u64().unwrap();
    let toks = tokens(&s["tokens"]);
    assert_eq!(
        turns, 7,
        "Claude Code's count: the prompt and six tool results: {s:#}"
    );
    assert_eq!(s["tool_calls"]["Bash"], 6);
    assert!(cost > 0.0 && toks[1] > 0, "{s:#}");

    // report daily --json: today's row is this session.
    let out = world
        .cclive(&["report", "daily", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let daily: Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = &daily["rows"][0];
    assert_eq!(daily["rows"].as_array().unwrap().len(), 1, "{daily:#}");
    assert!(
        (row["cost_usd"].as_f64().unwrap() - cost).abs() < 1e-9,
        "{daily:#} vs {cost}"
    );
    assert_eq!(tokens(row), toks, "{daily:#}");

    // The status line: today's spend is this session's cost.
    let payload = json!({"session_id": id, "cwd": "/tmp", "model": {"id": "claude-opus-5-5"},
                         "cost": {"total_cost_usd": cost}});
    let mut cmd = world.cclive(&["statusline"]);
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    {
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(payload.to_string().as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let line = String::from_utf8_lossy(&out.stdout).into_owned();
    // The status line is short: whole cents.
    assert!(
        line.contains(&format!("${cost:.2} today")),
        "{line:?} shows ${cost:.2}"
    );

    // `cclive top` over the store: the session's row.
    let store = SqliteStore::open(&world.db).unwrap();
    let now = jiff::Timestamp::now();
    let history = History::load(
        &store,
        &Budget::default(),
        &PriceTable::builtin(),
        &TimeZone::system(),
        now,
    )
    .unwrap();
    let mut app = App::new(
        Source::Following {
            addr: "127.0.0.1:9".into(),
            connected: false,
        },
        now,
    );
    app.apply(Msg::History(Box::new(history)));
    let screen = crate::top::screen(&app, 160, 40);
    let row = screen
        .lines()
        .find(|l| l.contains(&usd(cost)) && l.contains(" 7 "))
        .unwrap_or_else(|| panic!("no row with {} and 7 turns:\n{screen}", usd(cost)));
    eprintln!("top: {row}");

    // The API and the page.
    let dashboard = Dashboard::start(&world, &[]);
    let page = dashboard.get("/api/sessions").json();
    let listed = &page["sessions"][0];
    assert_eq!(listed["session_id"], json!(id));
    assert_eq!(listed["total_cost_usd"].as_f64(), Some(cost));
    assert_eq!(tokens(&listed["tokens"]), toks);
    assert_eq!(listed["num_turns"].as_u64(), Some(turns));
    // The dashboard's Today card.
    let today = dashboard.get("/api/summary?period=day").json();
    assert!(
        (today["total_cost_usd"].as_f64().unwrap() - cost).abs() < 1e-9,
        "{today:#} vs {cost}"
    );
    let timeline = dashboard
        .get(&format!("/api/sessions/{id}/timeline"))
        .json();
    let counted = timeline["turns"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["index"].as_u64() > Some(0))
        .count();
    assert_eq!(counted as u64, turns, "{timeline:#}");
    // The turns' costs add up to the session's, whichever cost it shows.
    let turn_costs: f64 = timeline["turns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["cost_usd"].as_f64().unwrap())
        .sum();
    assert!(
        (turn_costs - cost).abs() < 1e-9,
        "{turn_costs} vs {cost}: {timeline:#}"
    );
    let driver = ChromeDriver::start();
    crate::dashboard_browser::runtime().block_on(async {
        let client = driver.browser().await;
        client
            .goto(&format!("{}sessions/{id}", dashboard.url()))
            .await
            .unwrap();
        let page = wait_page(&client, "the session page", READ_SESSION, TIMEOUT, |p| {
            p["cost"].is_number() && p["timelineTurns"].as_array().is_some_and(|t| !t.is_empty())
        })
        .await;
        assert_eq!(page["cost"].as_f64(), Some(cost), "{page:#}");
        assert_eq!(page["turns"], "7", "{page:#}");
        assert_eq!(
            page["timelineTurns"],
            json!([1, 2, 3, 4, 5, 6, 7]),
            "{page:#}"
        );
        assert_eq!(
            page["bashPerTurn"],
            json!([1, 1, 1, 1, 1, 1, 0]),
            "{page:#}"
        );
        assert!(
            page["note"].as_str().unwrap().starts_with("7 turns"),
            "{page:#}"
        );
        client.close().await.unwrap();
    });
    drop(driver);
}
