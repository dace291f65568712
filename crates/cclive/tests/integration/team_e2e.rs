//! Team mode end to end with the real binaries: one `cclive server` on a real PostgreSQL, agents
//! (`cclive watch --upstream`, separate HOMEs and users) fed by the real Claude Code CLI against
//! the fake API and by generated transcripts. The server's per-user, per-model tokens, responses
//! and cost must equal the sum of the agents' local histories exactly, also after the server is
//! killed mid-stream, PostgreSQL stops during pushes, a push is replayed, or an agent was
//! offline for a while.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::cclive::{Watch, World, describe, free_port};
use crate::support::fake_api::{FakeApi, Scenario, UsageProfile};
use crate::support::team::{TeamServer, fresh_database};

const TIMEOUT: Duration = Duration::from_mins(2);

/// The server's usage by (email, model): tokens, responses and cost, as an admin sees it.
fn server_totals(server: &TeamServer, admin: &str) -> BTreeMap<(String, String), Totals> {
    let reply = server.get_json(admin, "/api/team/v1/spend");
    let mut totals: BTreeMap<(String, String), Totals> = BTreeMap::new();
    for row in reply["rows"].as_array().unwrap() {
        let key = (
            row["email"].as_str().unwrap().to_owned(),
            row["model"].as_str().unwrap_or("").to_owned(),
        );
        totals.entry(key).or_default().add(
            &row["tokens"],
            row["responses"].as_u64().unwrap(),
            row["cost_usd"].as_f64().unwrap(),
        );
    }
    totals
}

/// Tokens, responses and cost of one (user, model).
#[derive(Clone, Debug, Default, PartialEq)]
struct Totals {
    tokens: [u64; 4],
    responses: u64,
    cost_usd: f64,
}

impl Totals {
    fn add(&mut self, tokens: &Value, responses: u64, cost: f64) {
        for (sum, key) in
            self.tokens
                .iter_mut()
                .zip(["input", "output", "cache_read", "cache_creation"])
        {
            *sum += tokens[key].as_u64().unwrap_or(0);
        }
        self.responses += responses;
        self.cost_usd += cost;
    }
}

/// One developer's machine: its own HOME and database, and its monitor forwarding upstream.
struct Agent {
    world: World,
    email: String,
    token_file: PathBuf,
    watch: Option<Watch>,
}

/// Its monitor stops (and is waited for) before its HOME goes: fields drop in declaration
/// order, `world` first, and a monitor stopped after its HOME was removed writes its last state
/// file there on the way out, leaving `<home>/state/` behind in the temp dir.
impl Drop for Agent {
    fn drop(&mut self) {
        drop(self.watch.take());
    }
}

impl Agent {
    fn new(api: &FakeApi, email: &str, token: &str) -> Agent {
        let world = World::new(&api.url());
        let token_file = world.claude.home().join("team-token");
        std::fs::write(&token_file, format!("{token}\n")).unwrap();
        Agent {
            world,
            email: email.to_owned(),
            token_file,
            watch: None,
        }
    }

    /// Puts a generated history (older transcripts) into its Claude config dir.
    fn with_history(self, size_mb: u32, seed: u32) -> Agent {
        crate::import_corpus::generate(&self.world.claude.claude_dir(), size_mb, seed);
        self
    }

    /// Starts its monitor forwarding to `upstream`.
    fn watch(&mut self, upstream: &str) {
        let token_file = self.token_file.display().to_string();
        self.watch =
            Some(
                self.world
                    .watch_with(&["--upstream", upstream, "--token-file", &token_file]),
            );
    }

    /// Runs the real Claude Code once in print mode, to the end.
    fn claude(&self, prompt: &str) {
        let run = self.world.claude.run_print(prompt, TIMEOUT);
        assert!(run.result().is_some(), "{}", run.diagnostics());
    }

    /// Polls `cclive team status` until `done` holds for it.
    fn wait_for(&self, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let s = self.status();
            if done(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "{}: no {what}: {s:#}",
                self.email
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn status(&self) -> Value {
        let out = self.world.run(&["team", "status", "--json"], TIMEOUT);
        assert!(out.status.success(), "{}", describe(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Waits until the server acknowledged everything this agent holds (and nothing is being
    /// written: every session it saw has ended).
    fn wait_caught_up(&self) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let s = self.status();
            let sessions = self.world.sessions();
            let settled = sessions
                .iter()
                .all(|s| s["status"] != "ACTIVE" && s["status"] != "IDLE");
            // Nothing pending: everything queued was acknowledged (or pointed at nothing).
            if settled && s["pending"] == 0 && s["last_error"].is_null() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not catch up: {s:#}",
                self.email
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The local history's usage by model (`cclive report models`).
    fn local_totals(&self) -> BTreeMap<String, Totals> {
        let out = self
            .world
            .run(&["report", "models", "--json", "--tz", "UTC"], TIMEOUT);
        assert!(out.status.success(), "{}", describe(&out));
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        let mut totals: BTreeMap<String, Totals> = BTreeMap::new();
        for row in report["rows"].as_array().unwrap() {
            totals
                .entry(row["model"].as_str().unwrap_or("").to_owned())
                .or_default()
                .add(
                    row,
                    row["messages"].as_u64().unwrap(),
                    row["estimated_cost_usd"].as_f64().unwrap(),
                );
        }
        totals
    }
}

/// Asserts the server's per-user, per-model figures equal the agents' local histories: tokens
/// and responses exactly, cost to the last 1e-9 USD (sums of the same prices in another order).
fn assert_server_equals_agents(server: &TeamServer, admin: &str, agents: &[&Agent]) {
    let mut expected: BTreeMap<(String, String), Totals> = BTreeMap::new();
    for agent in agents {
        agent.wait_caught_up();
        for (model, t) in agent.local_totals() {
            expected.insert((agent.email.clone(), model), t);
        }
    }
    let got = server_totals(server, admin);
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "the same users and models"
    );
    for (key, want) in &expected {
        let have = &got[key];
        assert_eq!(have.tokens, want.tokens, "{key:?} tokens");
        assert_eq!(have.responses, want.responses, "{key:?} responses");
        assert!(
            (have.cost_usd - want.cost_usd).abs() < 1e-9,
            "{key:?} cost: server {} local {}",
            have.cost_usd,
            want.cost_usd
        );
    }
    assert!(!expected.is_empty());
}

#[test]
fn two_agents_feed_one_server_exactly_through_a_kill_9_and_a_replayed_push() {
    let api = FakeApi::start(Scenario::BashThenText);
    let mut server = TeamServer::start(&fresh_database("team_two_agents"));
    let admin = server.add_user("lead@corp", "platform", "admin");
    let mut alice = Agent::new(
        &api,
        "alice@corp",
        &server.add_user("alice@corp", "platform", "member"),
    )
    .with_history(4, 31);
    let mut bob = Agent::new(
        &api,
        "bob@corp",
        &server.add_user("bob@corp", "apps", "member"),
    )
    .with_history(1, 32);
    alice.watch(&server.url());
    bob.watch(&server.url());

    // kill -9 mid-stream: while alice's history is still draining; both keep working meanwhile.
    alice.wait_for("a first push acknowledged", |s| {
        s["acked_seq"].as_u64().unwrap_or(0) > 0
    });
    server.kill();
    alice.claude("Please do the task.");
    bob.claude("Please do the task.");
    alice.wait_for("work pending while the server is down", |s| {
        s["pending"].as_u64().unwrap_or(0) > 0 && s["last_error"].is_string()
    });
    server.restart();
    assert_server_equals_agents(&server, &admin, &[&alice, &bob]);

    // Live: new work reaches the running server.
    alice.claude("Another task.");
    bob.claude("Another task.");
    assert_server_equals_agents(&server, &admin, &[&alice, &bob]);

    // The same push body twice: the second changes nothing (a machine of alice's of its own,
    // so the agents' cursors are untouched).
    let before = server_totals(&server, &admin);
    let body = json!({
        "protocol": 1,
        "machine": {"id": "00000000-0000-4000-8000-00000000beef", "hostname": "replay",
                    "agent_version": "test"},
        "items": [{"seq": 1, "kind": "usage", "usage": {
            "message_id": "msg_replayed_once", "session_id": "replay-session",
            "first_seen_ms": 1_795_600_000_000_i64, "model": "claude-sonnet-4-5",
            "tokens": {"input": 10, "output": 20, "cache_read": 30, "cache_creation": 40}}}]
    });
    let alice_token = std::fs::read_to_string(&alice.token_file).unwrap();
    for _ in 0..2 {
        let text = ureq::post(format!("{}/api/team/v1/push", server.url()))
            .header("Authorization", format!("Bearer {}", alice_token.trim()))
            .header("Content-Type", "application/json")
            .send(body.to_string())
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap();
        let reply: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(reply["acked_seq"], 1, "{reply}");
    }
    let after = server_totals(&server, &admin);
    let key = ("alice@corp".to_owned(), "claude-sonnet-4-5".to_owned());
    let mut expected = before.get(&key).cloned().unwrap_or_default();
    expected.tokens = [0, 1, 2, 3].map(|i| expected.tokens[i] + [10, 20, 30, 40][i]);
    expected.responses += 1;
    assert_eq!(after[&key].tokens, expected.tokens, "counted once");
    assert_eq!(after[&key].responses, expected.responses, "counted once");
}

#[test]
fn an_agent_offline_for_a_while_loses_nothing() {
    let api = FakeApi::start(Scenario::BashThenText);
    let database = fresh_database("team_offline");
    // Users first (straight on the database), then the agent, then much later the server.
    let port = free_port();
    let mut server = TeamServer::start_on(&database, tempfile::tempdir().unwrap(), port, &[]);
    let admin = server.add_user("lead@corp", "platform", "admin");
    let token = server.add_user("carol@corp", "platform", "member");
    server.kill();
    let mut carol = Agent::new(&api, "carol@corp", &token).with_history(1, 33);
    carol.watch(&server.url());
    carol.claude("Please do the task.");
    carol.claude("And another one.");
    let offline = carol.wait_for("error recorded", |s| {
        s["last_error"].is_string() && s["pending"].as_u64().unwrap_or(0) > 0
    });
    assert_eq!(offline["acked_seq"], 0, "{offline:#}");
    server.restart();
    assert_server_equals_agents(&server, &admin, &[&carol]);
    assert!(carol.status()["last_error"].is_null());
}

#[test]
fn postgres_stopping_immediately_during_pushes_loses_nothing() {
    let api = FakeApi::start(Scenario::BashThenText);
    let mut cluster = cclive_pg_test::PrivateCluster::start();
    let database = cluster.database_url("team_pg_stop");
    let server = TeamServer::start(&database);
    let admin = server.add_user("lead@corp", "platform", "admin");
    // A backlog large enough to take several pushes.
    let mut dave = Agent::new(
        &api,
        "dave@corp",
        &server.add_user("dave@corp", "platform", "member"),
    )
    .with_history(6, 34);
    dave.watch(&server.url());
    dave.wait_for("a first push acknowledged", |s| {
        s["acked_seq"].as_u64().unwrap_or(0) > 0
    });
    cluster.stop_immediate();
    dave.claude("Work while the database is down.");
    cluster.restart();
    assert_server_equals_agents(&server, &admin, &[&dave]);
}

/// The team page in real headless Chromium shows a live session of each agent while Claude Code
/// runs on it (pushed by the real agents), then drops them when they end.
#[test]
fn the_team_page_shows_each_agents_session_live_while_claude_runs() {
    use crate::dashboard_browser::{ChromeDriver, screenshot_dir, wait_page};
    use crate::team_server::READ_TEAM_PAGE;

    let api = FakeApi::start_slow(Duration::from_secs(8));
    let server = TeamServer::start(&fresh_database("team_browser_live"));
    let lead = server.add_user("lead@corp", "platform", "lead");
    let mut alice = Agent::new(
        &api,
        "alice@corp",
        &server.add_user("alice@corp", "platform", "member"),
    );
    let mut bob = Agent::new(
        &api,
        "bob@corp",
        &server.add_user("bob@corp", "platform", "member"),
    );
    alice.watch(&server.url());
    bob.watch(&server.url());
    let spawn = |agent: &Agent| {
        agent
            .world
            .claude
            .command(["-p", "Please do the task.", "--output-format", "json"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let runs = [spawn(&alice), spawn(&bob)];

    let driver = ChromeDriver::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let live_ids = rt.block_on(async {
        let client = driver.browser().await;
        client
            .goto(&format!("{}/?token={lead}", server.url()))
            .await
            .unwrap();
        let page = wait_page(
            &client,
            "a live session of each agent",
            READ_TEAM_PAGE,
            TIMEOUT,
            |v| v["cards"].as_array().is_some_and(|c| c.len() == 2),
        )
        .await;
        let png = client.screenshot().await.unwrap();
        std::fs::write(screenshot_dir().join("team-live-agents.png"), png).unwrap();
        client.close().await.unwrap();
        page["cards"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["person"].as_str().unwrap().to_owned(),
                    c["id"].as_str().unwrap().to_owned(),
                )
            })
            .collect::<BTreeMap<_, _>>()
    });
    assert_eq!(
        live_ids.keys().collect::<Vec<_>>(),
        ["alice@corp", "bob@corp"]
    );
    // They were the sessions Claude Code ran, seen live, before they ended.
    for (run, email) in runs.into_iter().zip(["alice@corp", "bob@corp"]) {
        let out = crate::support::cclive::wait_with_timeout(run, TIMEOUT);
        assert!(out.status.success(), "{}", describe(&out));
        let result: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            result["session_id"].as_str(),
            Some(live_ids[email].as_str())
        );
    }
}

/// Runs the real Claude Code once in print mode with `--model model` against `api`.
fn claude_with(agent: &Agent, api: &FakeApi, model: &str) {
    let mut cmd = agent.world.claude.print_command("Please do the task.");
    cmd.args(["--model", model])
        .env("ANTHROPIC_BASE_URL", api.url());
    let run = crate::support::claude::run_with_timeout(cmd, TIMEOUT);
    assert!(run.result().is_some(), "{}", run.diagnostics());
}

/// Usage priced beyond its four token counts — 1-hour cache writes, web searches, prompts above
/// a long-prompt threshold — costs on the server, per model, what it costs in the agent's local
/// history (the server used to drop those counts and price the rest as 5-minute writes).
#[test]
fn one_hour_cache_writes_web_searches_and_long_prompts_cost_the_same_on_the_server() {
    const PROFILE: UsageProfile = UsageProfile {
        input: 1200,
        output: 42,
        cache_read: 5000,
        cache_creation: 3000,
        cache_creation_1h: 2000,
        web_search_requests: 2,
    };
    let api = FakeApi::start_with_usage(Scenario::BashThenText, PROFILE);
    // Above Haiku 5.5's long-prompt threshold (100,000 prompt tokens).
    let long = FakeApi::start_with_usage(
        Scenario::BashThenText,
        UsageProfile {
            input: 150_000,
            ..PROFILE
        },
    );
    let server = TeamServer::start(&fresh_database("team_pricing"));
    let admin = server.add_user("lead@corp", "platform", "admin");
    let mut erin = Agent::new(
        &api,
        "erin@corp",
        &server.add_user("erin@corp", "platform", "member"),
    );
    erin.watch(&server.url());
    claude_with(&erin, &api, "claude-sonnet-4-5");
    claude_with(&erin, &long, "claude-haiku-5-5");
    assert_server_equals_agents(&server, &admin, &[&erin]);
    // The counts that price it reached the server.
    let spend = server.get_json(&admin, "/api/team/v1/spend");
    assert!(
        spend["tokens"]["cache_creation_1h"].as_u64().unwrap_or(0) > 0
            && spend["tokens"]["web_search_requests"].as_u64().unwrap_or(0) > 0,
        "{spend:#}"
    );
}

/// Prompts and command lines stay on the machine unless the agent sets `share_prompts`: after
/// real Claude Code runs (through `cclive run`, which records the command line), nothing in the
/// server's tables or in its answers to that user holds them, though the local history does; an
/// agent that shares prompts does send them (so this check can fail).
#[test]
fn prompts_and_command_lines_reach_the_server_only_from_an_agent_that_shares_them() {
    const SECRET: &str = "zebra-ledger-4471";
    let api = FakeApi::start(Scenario::BashThenText);
    let server = TeamServer::start(&fresh_database("team_redaction"));
    let pia_token = server.add_user("pia@corp", "platform", "member");
    let mut pia = Agent::new(&api, "pia@corp", &pia_token);
    let mut sam = Agent::new(
        &api,
        "sam@corp",
        &server.add_user("sam@corp", "platform", "member"),
    );
    let config = sam.world.claude.home().join(".config/cclive/config.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, "[team]\nshare_prompts = true\n").unwrap();
    pia.watch(&server.url());
    sam.watch(&server.url());
    let prompt = format!("Please do the {SECRET} task.");
    for agent in [&pia, &sam] {
        let out = agent.world.run(
            &["run", "--", "-p", &prompt, "--allowedTools", "Bash"],
            TIMEOUT,
        );
        assert!(out.status.success(), "{}", describe(&out));
    }
    let local = Value::from(pia.world.sessions()).to_string();
    assert!(
        local.contains(SECRET),
        "the local history keeps it: {local}"
    );
    pia.wait_caught_up();
    sam.wait_caught_up();
    let rows_of = |email: &str| {
        ["sessions", "events", "usage"]
            .iter()
            .flat_map(|table| {
                cclive_pg_test::query_text(
                    &server.database_url,
                    &format!(
                        "SELECT t::text FROM {table} t JOIN users u ON u.id = t.user_id \
                         WHERE u.email = '{email}'"
                    ),
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let pia_rows = rows_of("pia@corp");
    assert!(
        pia_rows.contains("session_started") && pia_rows.contains("prompt_submitted"),
        "pia's sessions and events arrived: {pia_rows}"
    );
    assert!(
        !pia_rows.contains(SECRET),
        "a prompt left a machine that does not share prompts: {pia_rows}"
    );
    assert!(
        rows_of("sam@corp").contains(SECRET),
        "an agent that shares prompts sends them"
    );
    for path in ["overview", "spend", "whoami"] {
        let text = server
            .get_json(&pia_token, &format!("/api/team/v1/{path}"))
            .to_string();
        assert!(!text.contains(SECRET), "{path}: {text}");
    }
}
