//! `cclive server` for real: the binary on a real PostgreSQL (a throw-away cluster), users made
//! with `cclive team user add`, pushes over HTTP as agents send them. Every route needs a token
//! (even from loopback); a push is idempotent and attributed to the token's user; roles scope
//! what the overview shows; the team page shows each agent's live session in real Chromium and
//! follows a new push without a reload.

use std::time::Duration;

use serde_json::{Value, json};

use crate::dashboard_browser::{ChromeDriver, screenshot_dir, wait_page};
use crate::dashboard_e2e::http;
use crate::support::team::{TeamServer, fresh_database};

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn push_body(machine: &str, host: &str, items: &Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "protocol": 1,
        "machine": {"id": machine, "hostname": host, "agent_version": "test"},
        "outbox_head": 10,
        "items": items,
    }))
    .unwrap()
}

fn session_item(seq: u64, id: &str, revision: u64, status: &str, cost: f64) -> Value {
    let now = jiff::Timestamp::now().as_millisecond();
    json!({"seq": seq, "kind": "session", "session": {
        "session_id": id, "revision": revision, "status": status, "mode": "print",
        "source": "wrapper", "started_at_ms": now - 5000, "updated_at_ms": now,
        "project_path": "/work/checkout-service", "model": "claude-sonnet-4-5",
        "total_cost_usd": cost, "cost_source": "estimated", "duration_ms": 5000,
        "duration_api_ms": 2000, "num_turns": 1,
        "tokens": {"input": 1000, "output": 200, "cache_read": 0, "cache_creation": 0},
        "api_requests": 1}})
}

fn usage_item(seq: u64, key: &str, session: &str, output: u64) -> Value {
    json!({"seq": seq, "kind": "usage", "usage": {
        "message_id": key, "session_id": session,
        "first_seen_ms": jiff::Timestamp::now().as_millisecond(),
        "model": "claude-sonnet-4-5",
        "tokens": {"input": 1000, "output": output, "cache_read": 0, "cache_creation": 0}}})
}

/// `GET /api/team/v1/overview` as `token`'s user.
fn overview(port: u16, token: &str) -> Value {
    http(
        port,
        "GET",
        "/api/team/v1/overview",
        &[("Authorization", &bearer(token))],
        None,
    )
    .json()
}

fn post_push(port: u16, token: &str, body: &[u8]) -> crate::dashboard_e2e::Reply {
    http(
        port,
        "POST",
        "/api/team/v1/push",
        &[
            ("Authorization", &bearer(token)),
            ("Content-Type", "application/json"),
        ],
        Some(body),
    )
}

#[test]
fn every_route_needs_a_token_and_pushes_count_once_for_the_tokens_user() {
    let server = TeamServer::start(&fresh_database("srv_http"));
    let port = server.port;
    let admin = server.add_user("root@corp", "ops", "admin");
    let ann = server.add_user("ann@corp", "platform", "member");
    let bob = server.add_user("bob@corp", "platform", "member");

    // No token: refused everywhere, loopback included (no tokenless intake in server mode).
    for (method, path) in [
        ("GET", "/"),
        ("GET", "/healthz"),
        ("GET", "/api/team/v1/overview"),
        ("GET", "/api/team/v1/cursor?machine=m1"),
        ("POST", "/api/team/v1/push"),
        ("POST", "/api/hooks"),
        ("POST", "/api/events"),
        ("POST", "/v1/logs"),
    ] {
        let r = http(port, method, path, &[], Some(b"{}"));
        assert_eq!(r.status, 401, "{method} {path}: {}", r.text());
    }
    let wrong = http(
        port,
        "GET",
        "/api/team/v1/overview",
        &[("Authorization", "Bearer cct_x_y")],
        None,
    );
    assert_eq!(wrong.status, 401);

    let cursor = http(
        port,
        "GET",
        "/api/team/v1/cursor?machine=ann-laptop",
        &[("Authorization", &bearer(&ann))],
        None,
    );
    assert_eq!(cursor.status, 200, "{}", cursor.text());
    assert_eq!(cursor.json()["acked_seq"], 0);

    let body = push_body(
        "ann-laptop",
        "laptop",
        &json!([
            session_item(1, "s-ann", 1, "ACTIVE", 0.25),
            usage_item(2, "msg_a1", "s-ann", 100),
            usage_item(3, "msg_a1", "s-ann", 300),
            {"seq": 4, "kind": "hologram"},
        ]),
    );
    let first = post_push(port, &ann, &body);
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(first.json()["acked_seq"], 4);
    assert_eq!(first.json()["rejected"][0]["seq"], 4);
    // The same body again: nothing changes.
    let again = post_push(port, &ann, &body);
    assert_eq!(again.json()["acked_seq"], 4);
    let spend = |token: &str| {
        let r = http(
            port,
            "GET",
            "/api/team/v1/spend",
            &[("Authorization", &bearer(token))],
            None,
        );
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
    };
    let mine = spend(&ann);
    assert_eq!(mine["responses"], 1);
    assert_eq!(mine["tokens"]["output"], 300);
    assert_eq!(mine["rows"][0]["email"], "ann@corp");
    assert!(mine["cost_usd"].as_f64().unwrap() > 0.0);

    // Bob cannot push as Ann's machine, nor see her data.
    let stolen = post_push(
        port,
        &bob,
        &push_body(
            "ann-laptop",
            "laptop",
            &json!([usage_item(5, "msg_b", "s", 1)]),
        ),
    );
    assert_eq!(stolen.status, 409, "{}", stolen.text());
    assert_eq!(spend(&bob)["responses"], 0);
    assert_eq!(spend(&admin)["responses"], 1);

    // The overview: Ann's live session, for her and for the admin, not for Bob.
    let overview = |token: &str| overview(port, token);
    assert_eq!(overview(&ann)["live"][0]["session_id"], "s-ann");
    assert_eq!(overview(&admin)["live"][0]["email"], "ann@corp");
    assert_eq!(overview(&bob)["live"], json!([]));
    assert_eq!(overview(&admin)["machines"][0]["backlog"], 6);

    // Too large a push: 413, so the agent halves its batch.
    // The server answers 413 without reading the rest of the body and closes: the client sees
    // that answer or, when the close comes while it is still sending, a broken pipe or a reset.
    // Either way the body was refused, and the server goes on serving (checked next).
    let huge = vec![b' '; 9 * 1024 * 1024];
    let auth = bearer(&ann);
    match crate::dashboard_e2e::try_http(
        port,
        "POST",
        "/api/team/v1/push",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        Some(&huge),
    ) {
        Ok(r) => assert_eq!(r.status, 413),
        Err(e) => assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
            ),
            "{e}"
        ),
    }

    // A revoked user's token is refused from then on.
    let out = server.team(&["team", "user", "revoke", "bob@corp"]);
    assert!(out.status.success());
    let r = http(
        port,
        "GET",
        "/api/team/v1/overview",
        &[("Authorization", &bearer(&bob))],
        None,
    );
    assert_eq!(r.status, 401);

    // Budgets show up with this month's spend.
    let out = server.team(&[
        "team",
        "budget",
        "set",
        "--team",
        "platform",
        "--monthly-usd",
        "100",
    ]);
    assert!(
        out.status.success(),
        "{}",
        crate::support::cclive::describe(&out)
    );
    let budgets = overview(&admin)["budgets"].clone();
    assert_eq!(budgets[0]["scope"], "team");
    assert_eq!(budgets[0]["name"], "platform");
    assert!(budgets[0]["spent_usd"].as_f64().unwrap() > 0.0, "{budgets}");
    // `cclive report … --server`: the same figures, from the server, as Ann may see them.
    let token_file = server.home_path().join("ann-token");
    std::fs::write(&token_file, format!("{ann}\n")).unwrap();
    let url = server.url();
    let args = [
        "report",
        "models",
        "--server",
        &url,
        "--token-file",
        token_file.to_str().unwrap(),
    ];
    let out = server.team(&[&args[..], &["--json"]].concat());
    assert!(
        out.status.success(),
        "{}",
        crate::support::cclive::describe(&out)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["responses"], 1);
    assert_eq!(report["rows"][0]["model"], "claude-sonnet-4-5");
    let out = server.team(&args);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("ann@corp") && text.contains("claude-sonnet-4-5"),
        "{text}"
    );
    let list = server.team(&["team", "user", "list", "--json"]);
    let users: Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(users.as_array().unwrap().len(), 3);
    assert!(server.stop().status.success());
}

/// What the tests read off the team page.
pub(crate) const READ_TEAM_PAGE: &str = r##"
return {
  loaded: document.body.dataset.loaded === "true",
  banner: document.getElementById("banner").textContent,
  cards: [...document.querySelectorAll("#live [data-session]")].map((c) => ({
    id: c.dataset.session,
    person: c.querySelector(".person")?.textContent,
    machine: c.querySelector(".machine")?.textContent,
    cost: c.querySelector(".cost")?.textContent,
  })),
  machines: [...document.querySelectorAll("#machines tr[data-machine]")].map((r) => r.dataset.machine),
  conn: document.getElementById("conn").dataset.state,
};
"##;

#[test]
fn the_team_page_shows_each_agents_live_session_and_follows_pushes() {
    let server = TeamServer::start(&fresh_database("srv_browser"));
    let port = server.port;
    let lead = server.add_user("lea@corp", "platform", "lead");
    let ann = server.add_user("ann@corp", "platform", "member");
    let bob = server.add_user("bob@corp", "platform", "member");
    let r = post_push(
        port,
        &ann,
        &push_body(
            "ann-laptop",
            "ann-laptop",
            &json!([session_item(1, "s-ann", 1, "ACTIVE", 0.5)]),
        ),
    );
    assert_eq!(r.status, 200, "{}", r.text());

    let driver = ChromeDriver::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let client = driver.browser().await;
        // The lead opens the page with ?token=: the cookie is set and the address cleaned.
        client
            .goto(&format!("http://127.0.0.1:{port}/?token={lead}"))
            .await
            .unwrap();
        let url = client.current_url().await.unwrap();
        assert!(!url.as_str().contains("token"), "{url}");
        let page = wait_page(
            &client,
            "Ann's live session",
            READ_TEAM_PAGE,
            Duration::from_secs(30),
            |v| v["loaded"] == true && v["cards"].as_array().is_some_and(|c| c.len() == 1),
        )
        .await;
        assert_eq!(page["cards"][0]["person"], "ann@corp");
        assert_eq!(page["cards"][0]["machine"], "ann-laptop");
        // Bob starts a session on his machine: it appears without a reload.
        let r = post_push(
            port,
            &bob,
            &push_body(
                "bob-desktop",
                "bob-desktop",
                &json!([session_item(1, "s-bob", 1, "ACTIVE", 1.5)]),
            ),
        );
        assert_eq!(r.status, 200);
        let page = wait_page(
            &client,
            "both live sessions",
            READ_TEAM_PAGE,
            Duration::from_secs(30),
            |v| v["cards"].as_array().is_some_and(|c| c.len() == 2),
        )
        .await;
        let mut people: Vec<&str> = page["cards"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["person"].as_str().unwrap())
            .collect();
        people.sort_unstable();
        assert_eq!(people, ["ann@corp", "bob@corp"]);
        assert!(
            page["banner"].as_str().unwrap().contains("2 sessions"),
            "{page}"
        );
        assert_eq!(page["machines"].as_array().unwrap().len(), 2);
        let png = client.screenshot().await.unwrap();
        std::fs::write(screenshot_dir().join("team.png"), png).unwrap();
        // Ann's session ends: it leaves the live list.
        post_push(
            port,
            &ann,
            &push_body(
                "ann-laptop",
                "ann-laptop",
                &json!([session_item(2, "s-ann", 2, "COMPLETED", 0.7)]),
            ),
        );
        wait_page(
            &client,
            "Ann's session to end",
            READ_TEAM_PAGE,
            Duration::from_secs(30),
            |v| {
                v["cards"]
                    .as_array()
                    .is_some_and(|c| c.len() == 1 && c[0]["person"] == "bob@corp")
            },
        )
        .await;
        client.close().await.unwrap();
    });
}

#[test]
fn the_server_speaks_https_with_its_own_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let out = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl (scripts/test-setup.sh installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let url = fresh_database("srv_tls");
    let server = TeamServer::start_in(
        &url,
        tempfile::tempdir().unwrap(),
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    let token = server.add_user("ann@corp", "platform", "member");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .disable_verification(true)
                .build(),
        )
        .http_status_as_error(false)
        .build()
        .into();
    let base = format!("https://127.0.0.1:{}", server.port);
    let ok = agent
        .get(format!("{base}/api/team/v1/cursor?machine=m1"))
        .header("Authorization", &bearer(&token))
        .call()
        .unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    let refused = agent.get(format!("{base}/healthz")).call().unwrap();
    assert_eq!(refused.status().as_u16(), 401);
    // Plain HTTP gets no answer on the TLS port.
    let plain = std::panic::catch_unwind(|| http(server.port, "GET", "/healthz", &[], None));
    assert!(plain.is_err() || plain.is_ok_and(|r| r.status != 200));
}

#[test]
fn a_team_budget_crossing_goes_out_through_the_webhooks() {
    let receiver = crate::webhooks::Receiver::start(|_| crate::webhooks::Answer::Status(200));
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join(".config/cclive/config.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(
        &config,
        format!(
            "[[webhook]]\nurl = \"{}\"\nevents = [\"budget_threshold\"]\n",
            receiver.url
        ),
    )
    .unwrap();
    let server = TeamServer::start_in(&fresh_database("srv_budget"), home, &[]);
    let ann = server.add_user("ann@corp", "platform", "member");
    let out = server.team(&[
        "team",
        "budget",
        "set",
        "--team",
        "platform",
        "--monthly-usd",
        "0.01",
    ]);
    assert!(
        out.status.success(),
        "{}",
        crate::support::cclive::describe(&out)
    );
    // One push spends more than the whole budget: 50, 80 and 100 % are crossed at once.
    let r = post_push(
        server.port,
        &ann,
        &push_body("m", "m", &json!([usage_item(1, "msg_1", "s", 100_000)])),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let got = receiver.wait_for(3, Duration::from_secs(30));
    let mut thresholds: Vec<u64> = got
        .iter()
        .map(|g| {
            let v = g.json();
            assert_eq!(v["event"], "budget_threshold", "{v}");
            v["budget"]["threshold_percent"]
                .as_u64()
                .unwrap_or_else(|| panic!("{v}"))
        })
        .collect();
    thresholds.sort_unstable();
    assert_eq!(thresholds, [50, 80, 100]);
    let stopped = server.stop();
    assert!(
        stopped.status.success(),
        "{}",
        crate::support::cclive::describe(&stopped)
    );
    assert_eq!(receiver.requests().len(), 3);
}

/// Budgets by role: an admin sees every budget; a lead their team's and its members'; a member
/// their own and their team's, the team's with the whole team's spend (its total only: another
/// member's budget and personal spend stay hidden).
#[test]
fn each_role_sees_the_budgets_it_may_and_a_member_only_the_teams_total() {
    let server = TeamServer::start(&fresh_database("srv_budget_roles"));
    let port = server.port;
    let admin = server.add_user("root@corp", "ops", "admin");
    let lea = server.add_user("lea@corp", "platform", "lead");
    let ann = server.add_user("ann@corp", "platform", "member");
    let bob = server.add_user("bob@corp", "platform", "member");
    let cid = server.add_user("cid@corp", "apps", "member");
    for (kind, name, usd) in [
        ("--team", "platform", "100"),
        ("--team", "apps", "50"),
        ("--user", "ann@corp", "10"),
        ("--user", "bob@corp", "20"),
        ("--user", "cid@corp", "30"),
    ] {
        let out = server.team(&["team", "budget", "set", kind, name, "--monthly-usd", usd]);
        assert!(
            out.status.success(),
            "{}",
            crate::support::cclive::describe(&out)
        );
    }
    // This month Ann and Bob spend, Bob ten times more; nobody in apps does.
    for (token, machine, key, output) in [
        (&ann, "m-ann", "msg_ann", 10_000),
        (&bob, "m-bob", "msg_bob", 100_000),
    ] {
        let items = json!([usage_item(1, key, &format!("s-{machine}"), output)]);
        let r = post_push(port, token, &push_body(machine, machine, &items));
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }
    let overview = |token: &str| overview(port, token);
    let budgets = |token: &str| -> std::collections::BTreeMap<String, f64> {
        overview(token)["budgets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                (
                    format!(
                        "{}:{}",
                        b["scope"].as_str().unwrap(),
                        b["name"].as_str().unwrap()
                    ),
                    b["spent_usd"].as_f64().unwrap(),
                )
            })
            .collect()
    };
    let all = budgets(&admin);
    let names = |b: &std::collections::BTreeMap<String, f64>| b.keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        names(&all),
        [
            "team:apps",
            "team:platform",
            "user:ann@corp",
            "user:bob@corp",
            "user:cid@corp"
        ]
    );
    let team = all["team:platform"];
    assert!(
        (team - all["user:ann@corp"] - all["user:bob@corp"]).abs() < 1e-9 && team > 0.0,
        "{all:?}"
    );
    let lead = budgets(&lea);
    assert_eq!(
        names(&lead),
        ["team:platform", "user:ann@corp", "user:bob@corp"]
    );
    assert_eq!(lead["team:platform"], team);
    // Ann: her own budget and the team's, with the whole team's spend.
    let own = budgets(&ann);
    assert_eq!(names(&own), ["team:platform", "user:ann@corp"]);
    assert!((own["team:platform"] - team).abs() < 1e-9, "{own:?}");
    assert_eq!(own["user:ann@corp"], all["user:ann@corp"]);
    // …but nobody's spend but hers, anywhere else on her overview.
    let ann_view = overview(&ann);
    let people: Vec<&str> = ann_view["month"]["by_person"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(people, ["ann@corp"]);
    assert!(!ann_view.to_string().contains("bob@corp"), "{ann_view}");
    assert_eq!(names(&budgets(&cid)), ["team:apps", "user:cid@corp"]);
}
