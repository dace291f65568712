//! The dashboard in a real browser: headless Chromium (Debian's `chromium` and
//! `chromium-driver`, installed by `scripts/test-setup.sh`) driven over WebDriver with
//! fantoccini, while the real, pinned Claude Code runs the slow scenario against the fake API.
//! The page must show the session live ("LIVE SESSION ACTIVE", its cost), then "No Active
//! Session" and the finished session in its history, all without being reloaded; the session's
//! own page then shows its timeline and a Performance section with the run's real figures. The
//! Integrations panel shows a webhook's deliveries, its failure highlighted. The block, budget and
//! limits panel follows usage and the status line's official limits live; the date range, sort
//! and filters live in the URL; a click on a chart filters the table; at 420 px the sessions
//! are cards with their cost in view. Screenshots go to `target/dashboard/` for people to look
//! at.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use serde_json::{Value, json};

use crate::dashboard_e2e::Dashboard;
use crate::support::cclive::{World, free_port, wait_with_timeout};
use crate::support::fake_api::{FakeApi, RequestKind};
use crate::webhooks::{Answer, Receiver, write_config};

const CHROMIUM: &str = "/usr/bin/chromium";
const TIMEOUT: Duration = Duration::from_mins(1);

/// Where screenshots go: `target/dashboard/`.
pub(crate) fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir")
        .join("dashboard");
    std::fs::create_dir_all(&dir).expect("create target/dashboard");
    dir
}

/// `chromedriver --port=<free>`, killed when dropped.
pub(crate) struct ChromeDriver {
    child: Child,
    pub(crate) port: u16,
    _profile: tempfile::TempDir,
    profile_path: PathBuf,
}

impl ChromeDriver {
    /// Starts chromedriver; fails the test, naming the setup script, when Chromium is missing.
    pub(crate) fn start() -> ChromeDriver {
        let driver = which("chromedriver");
        assert!(
            Path::new(CHROMIUM).is_file() && driver.is_some(),
            "headless Chromium is missing ({CHROMIUM} and chromedriver on PATH): run \
             scripts/test-setup.sh, which installs the Debian packages chromium and \
             chromium-driver"
        );
        let port = free_port();
        // The profile, and the temp dir of chromedriver and the browser (Chromium leaves its
        // `org.chromium.Chromium.*` dirs there): removed with the driver.
        let profile = tempfile::Builder::new()
            .prefix("cclive-chromium-")
            .tempdir()
            .expect("profile dir");
        let profile_path = profile.path().join("user-data");
        let tmp = profile.path().join("tmp");
        std::fs::create_dir(&tmp).expect("the browser's temp dir");
        let child = Command::new(driver.expect("checked"))
            .arg(format!("--port={port}"))
            .env("TMPDIR", &tmp)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn chromedriver");
        let driver = ChromeDriver {
            child,
            port,
            _profile: profile,
            profile_path,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
        driver
    }

    /// A browser session.
    pub(crate) async fn browser(&self) -> Client {
        let caps = json!({
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                    format!("--user-data-dir={}", self.profile_path.display()),
                    "--window-size=1280,1100",
                ],
            }
        });
        let Value::Object(caps) = caps else {
            unreachable!()
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a Chromium session")
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // A test that failed never closed its session: end the browser it left, found by the
        // profile directory only it uses (Chromium's helpers exit with it).
        let marker = format!("--user-data-dir={}", self.profile_path.display());
        let processes = processes();
        let browsers: Vec<i32> = processes
            .iter()
            .filter(|p| p.args.split(|b| *b == 0).any(|a| a == marker.as_bytes()))
            .map(|p| p.pid)
            .collect();
        // With their helpers (the network service writes to the profile too).
        let mut family = browsers.clone();
        while let Some(child) = processes
            .iter()
            .find(|p| family.contains(&p.parent) && !family.contains(&p.pid))
        {
            family.push(child.pid);
        }
        for pid in &browsers {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(*pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        // A browser writes its profile as it exits: the directory is removed (after this) only
        // once they are gone, or it is left behind, recreated under the removal.
        let deadline = Instant::now() + Duration::from_secs(10);
        while family.iter().any(|pid| running(*pid)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A process, as `/proc` shows it.
struct Process {
    pid: i32,
    parent: i32,
    /// Its arguments, NUL-separated.
    args: Vec<u8>,
}

/// Every process `/proc` shows (those that end meanwhile are left out).
fn processes() -> Vec<Process> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_string_lossy().parse::<i32>().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            // `pid (comm) state ppid …`: the name may hold spaces and parentheses.
            let parent = stat.rsplit_once(") ")?.1.split(' ').nth(1)?.parse().ok()?;
            let args = std::fs::read(entry.path().join("cmdline")).ok()?;
            Some(Process { pid, parent, args })
        })
        .collect()
}

/// True while `pid` runs (a zombie waiting for its parent to reap it has stopped writing).
fn running(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z'))
    })
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .chain([
            PathBuf::from("/usr/bin"),
            PathBuf::from("/usr/lib/chromium"),
        ])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Runs `script` in the page (its `return` value) until `done` holds for it; fails with the
/// last value after `timeout`.
pub(crate) async fn wait_page(
    client: &Client,
    what: &str,
    script: &str,
    timeout: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let value = client.execute(script, vec![]).await.expect("script");
        if done(&value) {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; the page says {value:#}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Starts the real claude, on its own, as a user runs it, and returns once the slow scenario's
/// answer streams (the session is live); the handle gives claude's output when it exits.
pub(crate) fn claude_mid_session(
    world: &World,
    api: &FakeApi,
) -> tokio::task::JoinHandle<std::process::Output> {
    let child = world
        .claude
        .print_command("Please do the task.")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let waiter = tokio::task::spawn_blocking(move || wait_with_timeout(child, TIMEOUT));
    assert!(api.wait_until(TIMEOUT, |reqs| {
        reqs.iter().filter(|r| r.kind == RequestKind::Main).count() >= 2
    }));
    waiter
}

/// What the test reads off the page.
const READ_PAGE: &str = r##"
const banner = document.getElementById("banner");
const cards = [...document.querySelectorAll("#live [data-session-id]")].map((c) => ({
  id: c.dataset.sessionId,
  status: c.dataset.status,
  cost: c.querySelector('[data-field="cost"]')?.dataset.value,
  costText: c.querySelector('[data-field="cost"]')?.textContent,
  turns: c.querySelector('[data-field="turns"]')?.textContent,
  text: c.textContent,
}));
const rows = [...document.querySelectorAll("#sessions-body tr[data-session-id]")].map((r) => ({
  id: r.dataset.sessionId,
  status: r.dataset.status,
  cost: r.querySelector('[data-field="cost"]')?.dataset.value,
  costText: r.querySelector('[data-field="cost"]')?.textContent,
}));
return {
  banner: banner.textContent,
  state: banner.dataset.state,
  cards,
  rows,
  last: document.getElementById("last").hidden ? null : document.getElementById("last").textContent,
  howto: !document.getElementById("howto").hidden,
  howtoText: document.getElementById("howto").textContent,
  conn: document.getElementById("conn").dataset.state,
  today: document.querySelector('.total[data-total="range"] .detail').textContent,
  marker: window.__ccliveTestMarker || null,
};
"##;

/// What the test reads off the session page's Performance section.
const READ_PERFORMANCE: &str = r#"
const perf = document.getElementById("performance");
return {
  bar: !!perf.querySelector("svg.timebar rect"),
  parts: Object.fromEntries([...perf.querySelectorAll("[data-part]")].map((p) => [p.dataset.part, Number(p.dataset.ms)])),
  tools: [...perf.querySelectorAll("tr[data-tool]")].map((r) => r.dataset.tool),
  slowest: [...perf.querySelectorAll("tr[data-slow]")].map((r) => r.dataset.slow),
  costly: [...perf.querySelectorAll("tr[data-turn-cost]")].map((r) => Number(r.dataset.value)),
  cacheHit: perf.querySelector('[data-field="cache-hit"]')?.dataset.value,
  text: perf.textContent,
};
"#;

/// The Performance section shows the analytics API's figures: the time split, the tools in
/// their order, the slowest calls and the costliest turns — real numbers from the real run.
fn check_performance(page: &Value, api: &Value) {
    let time = &api["time"];
    assert!(time["wall_ms"].as_u64().unwrap() > 0, "{api:#}");
    assert!(
        time["api_ms"].as_u64().unwrap() > 0,
        "the run spent time in the API: {api:#}"
    );
    for (part, field) in [
        ("api", "api_ms"),
        ("tools", "tool_ms"),
        ("waiting", "waiting_ms"),
        ("other", "other_ms"),
    ] {
        assert_eq!(
            page["parts"][part], time[field],
            "{part}: {page:#}\n{api:#}"
        );
    }
    assert_eq!(
        time["waiting_ms"], 0,
        "a print session never waits for the user"
    );
    let tools: Vec<&Value> = api["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| &t["name"])
        .collect();
    assert_eq!(
        page["tools"].as_array().unwrap().iter().collect::<Vec<_>>(),
        tools
    );
    assert!(tools.contains(&&json!("Bash")), "{api:#}");
    let slowest: Vec<&Value> = api["slowest_calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["tool_use_id"])
        .collect();
    assert!(
        !slowest.is_empty(),
        "finished calls have durations: {api:#}"
    );
    assert_eq!(
        page["slowest"]
            .as_array()
            .unwrap()
            .iter()
            .collect::<Vec<_>>(),
        slowest
    );
    let costly: Vec<f64> = api["costliest_turns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["cost_usd"].as_f64().unwrap())
        .collect();
    assert!(!costly.is_empty() && costly[0] > 0.0, "{api:#}");
    let shown: Vec<f64> = page["costly"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(shown, costly);
    assert_eq!(
        page["cacheHit"]
            .as_str()
            .and_then(|v| v.parse::<f64>().ok()),
        api["cache"]["hit_ratio"].as_f64(),
        "{page:#}"
    );
    eprintln!("performance section: {}", page["text"]);
}

/// A runtime for one test's browser session.
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Clicks the element `css` selects.
async fn click(client: &Client, css: &str) {
    client
        .find(fantoccini::Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css} on the page: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("cannot click {css}: {e}"));
}

/// A screenshot with the element `id` scrolled into view.
async fn screenshot_at(client: &Client, id: &str, name: &str) -> PathBuf {
    client
        .execute(
            "document.getElementById(arguments[0]).scrollIntoView();",
            vec![json!(id)],
        )
        .await
        .expect("scroll");
    screenshot(client, name).await
}

pub(crate) async fn screenshot(client: &Client, name: &str) -> PathBuf {
    let png = client.screenshot().await.expect("screenshot");
    let path = screenshot_dir().join(name);
    std::fs::write(&path, png).expect("write the screenshot");
    eprintln!("screenshot: {}", path.display());
    path
}

fn as_f64(v: &Value) -> Option<f64> {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| v.as_f64())
}

#[test]
fn the_dashboard_shows_a_live_session_then_its_history_without_a_reload() {
    let api = FakeApi::start_slow(Duration::from_secs(8));
    let world = World::new(&api.url());
    let dashboard = Dashboard::start(&world, &[]);
    let driver = ChromeDriver::start();
    let runtime = runtime();
    runtime.block_on(async {
        let client = driver.browser().await;
        client.goto(&dashboard.url()).await.expect("open the page");
        // Nothing recorded yet: how to start (once the history said it is empty).
        let page = wait_page(&client, "the idle page", READ_PAGE, TIMEOUT, |p| {
            p["state"] == "none" && p["conn"] == "live" && p["howto"] == true
        })
        .await;
        let banner = page["banner"].as_str().unwrap();
        assert!(banner.contains("No Active Session"), "{banner}");
        assert!(!banner.contains('⚫'), "the dot is drawn, not an emoji: {banner}");
        assert!(page["howtoText"].as_str().unwrap().contains("cclive import"), "{page:#}");
        client
            .execute("window.__ccliveTestMarker = 'same page';", vec![])
            .await
            .unwrap();

        let waiter = claude_mid_session(&world, &api);

        let live = wait_page(&client, "LIVE SESSION ACTIVE", READ_PAGE, TIMEOUT, |p| {
            p["state"] == "live" && p["cards"].as_array().is_some_and(|c| !c.is_empty())
        })
        .await;
        assert!(
            live["banner"]
                .as_str()
                .unwrap()
                .contains("LIVE SESSION ACTIVE"),
            "{live:#}"
        );
        let card = &live["cards"][0];
        let id = card["id"].as_str().unwrap().to_owned();
        assert_eq!(card["status"], "ACTIVE");
        // The card shows the session's cost: the same figure the API has.
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let page = client.execute(READ_PAGE, vec![]).await.unwrap();
            let api_cost = dashboard.get("/api/current-session").json()["active_sessions"]
                .as_array()
                .and_then(|a| a.iter().find(|s| s["session_id"] == id.as_str()).cloned())
                .map(|s| s["total_cost_usd"].as_f64().unwrap());
            let shown = page["cards"]
                .as_array()
                .and_then(|c| c.iter().find(|c| c["id"] == id.as_str()))
                .and_then(|c| as_f64(&c["cost"]));
            if api_cost.is_some() && api_cost == shown {
                let text = page["cards"][0]["costText"].as_str().unwrap().to_owned();
                assert!(text.starts_with('$'), "{text}");
                eprintln!("live card cost: {text} (API: {api_cost:?})");
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the card's cost {shown:?} never matched the API's {api_cost:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // The history knows it already: it started today (in the last 30 days, the default range).
        wait_page(&client, "the range's total to count it", READ_PAGE, TIMEOUT, |p| {
            p["today"].as_str().is_some_and(|t| t.starts_with("1 session"))
        })
        .await;
        screenshot(&client, "dashboard-live.png").await;

        let out = waiter.await.unwrap();
        assert!(out.status.success(), "claude failed");
        let result: Value = String::from_utf8_lossy(&out.stdout)
            .lines()
            .rev()
            .find_map(|l| serde_json::from_str(l).ok())
            .unwrap();
        assert_eq!(result["session_id"], id.as_str());
        let cost = result["total_cost_usd"].as_f64().unwrap();

        let done = wait_page(
            &client,
            "No Active Session and the session in history",
            READ_PAGE,
            TIMEOUT,
            |p| {
                p["state"] == "none"
                    && p["rows"].as_array().is_some_and(|rows| {
                        rows.iter().any(|r| {
                            r["id"] == id.as_str()
                                && r["status"] == "COMPLETED"
                                && as_f64(&r["cost"]) == Some(cost)
                        })
                    })
            },
        )
        .await;
        assert!(
            done["banner"]
                .as_str()
                .unwrap()
                .contains("No Active Session")
        );
        assert_eq!(done["howto"], false, "with a history, no \"Start monitoring\"");
        assert!(done["cards"].as_array().unwrap().is_empty());
        assert!(
            done["last"].as_str().is_some_and(|t| t.contains("Completed")),
            "the last session's summary: {done:#}"
        );
        assert_eq!(done["marker"], "same page", "the page was never reloaded");
        screenshot(&client, "dashboard.png").await;

        // The session's own page: its timeline.
        client
            .goto(&format!("{}sessions/{id}", dashboard.url()))
            .await
            .unwrap();
        let session = wait_page(
            &client,
            "the session page's timeline",
            r##"return {
                head: document.getElementById("head").textContent,
                turns: document.querySelectorAll("#timeline .turn").length,
                tools: [...document.querySelectorAll("#timeline .tools td:first-child")].map((t) => t.textContent),
            };"##,
            TIMEOUT,
            |p| p["turns"].as_u64().is_some_and(|n| n > 0),
        )
        .await;
        assert!(
            session["tools"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t.as_str().unwrap().contains("Bash")),
            "{session:#}"
        );
        let stored = dashboard.get(&format!("/api/sessions/{id}")).json();
        assert!(
            session["head"].as_str().unwrap().contains(&format!("{cost:.4}")),
            "the session's cost on its page: {session:#}\n{stored:#}"
        );
        // Its Performance section: the same figures as the analytics API, drawn.
        let analytics = dashboard.get(&format!("/api/sessions/{id}/analytics")).json();
        let perf = wait_page(
            &client,
            "the session page's Performance section",
            READ_PERFORMANCE,
            TIMEOUT,
            |p| p["bar"] == true && p["tools"].as_array().is_some_and(|t| !t.is_empty()),
        )
        .await;
        check_performance(&perf, &analytics);
        screenshot(&client, "session.png").await;
        client.close().await.unwrap();
    });
    drop(driver);
    drop(dashboard);
}

#[test]
fn after_a_restart_the_page_reconnects_by_itself_and_shows_the_current_state() {
    let world = World::new("http://127.0.0.1:9");
    let first = Dashboard::start(&world, &[]);
    let port = first.port;
    let driver = ChromeDriver::start();
    let runtime = runtime();
    runtime.block_on(async {
        let client = driver.browser().await;
        client.goto(&first.url()).await.unwrap();
        wait_page(&client, "the page", READ_PAGE, TIMEOUT, |p| {
            p["conn"] == "live"
        })
        .await;
        client
            .execute("window.__ccliveTestMarker = 'same page';", vec![])
            .await
            .unwrap();
        let started = json!({
            "session_id": "before-restart", "at": jiff::Timestamp::now().to_string(),
            "type": "session_started", "mode": "print", "source": "test"
        });
        assert_eq!(first.post("/api/events", &started).status, 202);
        wait_page(&client, "the live card", READ_PAGE, TIMEOUT, |p| {
            p["state"] == "live" && p["cards"][0]["id"] == "before-restart"
        })
        .await;

        // The monitor stops; the page notices.
        let out = first.stop();
        assert!(out.status.success());
        wait_page(&client, "the stream to be down", READ_PAGE, TIMEOUT, |p| {
            p["conn"] == "down"
        })
        .await;

        // Another monitor (with other history) on the same port: the page must show ITS state.
        let other = World::new("http://127.0.0.1:9");
        let second = Dashboard::start_on(&other, port, &[]);
        let page = wait_page(
            &client,
            "the new monitor's state",
            READ_PAGE,
            TIMEOUT,
            |p| p["conn"] == "live" && p["state"] == "none",
        )
        .await;
        assert!(page["cards"].as_array().unwrap().is_empty(), "{page:#}");
        assert_eq!(
            page["marker"], "same page",
            "it reconnected without a reload"
        );
        let started = json!({
            "session_id": "after-restart", "at": jiff::Timestamp::now().to_string(),
            "type": "session_started", "mode": "print", "source": "test"
        });
        assert_eq!(second.post("/api/events", &started).status, 202);
        wait_page(&client, "the new session, live", READ_PAGE, TIMEOUT, |p| {
            p["state"] == "live" && p["cards"][0]["id"] == "after-restart"
        })
        .await;
        client.close().await.unwrap();
    });
}

/// A monitor with a token wants it from the page too, on loopback as elsewhere: opened once
/// with `?token=`, the page keeps it in a cookie (gone from the address) and its requests and
/// live stream carry it.
#[test]
fn with_a_token_on_loopback_the_page_opened_with_it_goes_live() {
    const TOKEN: &str = "browser-token-0123456789";
    let world = World::new("http://127.0.0.1:9");
    let dashboard = Dashboard::start_with(&world, &[], Some(TOKEN));
    let driver = ChromeDriver::start();
    runtime().block_on(async {
        let client = driver.browser().await;
        client
            .goto(&format!("{}?token={TOKEN}", dashboard.url()))
            .await
            .unwrap();
        wait_page(&client, "the page, live", READ_PAGE, TIMEOUT, |p| {
            p["conn"] == "live"
        })
        .await;
        let address = client.current_url().await.unwrap();
        assert!(!address.as_str().contains("token"), "{address}");
        let started = json!({
            "session_id": "with-token", "at": jiff::Timestamp::now().to_string(),
            "type": "session_started", "mode": "print", "source": "test"
        });
        let bearer = format!("Bearer {TOKEN}");
        let reply = crate::dashboard_e2e::http(
            dashboard.port,
            "POST",
            "/api/events",
            &[
                ("Content-Type", "application/json"),
                ("Authorization", &bearer),
            ],
            Some(&serde_json::to_vec(&started).unwrap()),
        );
        assert_eq!(reply.status, 202);
        wait_page(&client, "the live card", READ_PAGE, TIMEOUT, |p| {
            p["state"] == "live" && p["cards"][0]["id"] == "with-token"
        })
        .await;
        client.close().await.unwrap();
    });
}

/// What the test reads off the Integrations panel.
const READ_SINKS: &str = r#"
const section = document.getElementById("integrations");
return {
  hidden: section.hidden,
  sinks: [...section.querySelectorAll("[data-sink]")].map((s) => ({
    name: s.dataset.sink,
    kind: s.dataset.kind,
    text: s.querySelector(".sink-head").textContent,
    delivered: s.querySelector('[data-count="delivered"] b')?.textContent,
    failed: s.querySelector('[data-count="failed"] b')?.textContent,
    rows: [...s.querySelectorAll("tr[data-delivery]")].map((r) => ({
      outcome: r.dataset.outcome,
      highlighted: getComputedStyle(r).backgroundColor !== "rgba(0, 0, 0, 0)",
      text: r.textContent,
    })),
  })),
};
"#;

#[test]
fn the_integrations_panel_shows_deliveries_with_failures_highlighted() {
    // The first delivery is refused (404: not retried), the next one goes through.
    let receiver = Receiver::start(|n| Answer::Status(if n == 0 { 404 } else { 200 }));
    let world = World::new("http://127.0.0.1:9");
    write_config(
        &world,
        &format!(
            "[[webhook]]\nname = \"chat\"\nurl = \"{}?key=never-shown\"\n\
             events = [\"session_started\", \"session_ended\"]\n",
            receiver.url
        ),
    );
    let dashboard = Dashboard::start(&world, &[]);
    let driver = ChromeDriver::start();
    let runtime = runtime();
    runtime.block_on(async {
        let client = driver.browser().await;
        client.goto(&dashboard.url()).await.expect("open the page");
        let page = wait_page(&client, "the empty panel", READ_SINKS, TIMEOUT, |p| {
            p["hidden"] == false && p["sinks"][0]["name"] == "chat"
        })
        .await;
        assert_eq!(page["sinks"][0]["rows"], json!([]), "{page:#}");
        let head = page["sinks"][0]["text"].as_str().unwrap();
        assert!(head.contains("webhook") && head.contains("/…"), "{head}");
        assert!(
            !head.contains("never-shown") && !head.contains("/hooks/"),
            "{head}"
        );

        for kind in ["session_started", "session_ended"] {
            let event = json!({
                "session_id": "panel-1", "at": jiff::Timestamp::now().to_string(),
                "type": kind, "mode": "print", "source": "test"
            });
            assert_eq!(dashboard.post("/api/events", &event).status, 202);
        }
        let page = wait_page(&client, "both deliveries", READ_SINKS, TIMEOUT, |p| {
            p["sinks"][0]["rows"]
                .as_array()
                .is_some_and(|r| r.len() == 2)
        })
        .await;
        let sink = &page["sinks"][0];
        assert_eq!(
            (&sink["delivered"], &sink["failed"]),
            (&json!("1"), &json!("1"))
        );
        let rows = sink["rows"].as_array().unwrap();
        // Newest first: the end went through; the start was refused, and stands out.
        assert_eq!(rows[0]["outcome"], "delivered", "{page:#}");
        assert!(rows[0]["text"].as_str().unwrap().contains("session_ended"));
        assert!(rows[0]["text"].as_str().unwrap().contains("HTTP 200"));
        assert_eq!(rows[0]["highlighted"], false);
        assert_eq!(rows[1]["outcome"], "failed");
        assert!(rows[1]["text"].as_str().unwrap().contains("HTTP 404"));
        assert_eq!(rows[1]["highlighted"], true, "a failure is highlighted");
        screenshot_at(&client, "integrations", "integrations.png").await;
        client.close().await.unwrap();
    });
    drop(driver);
    drop(dashboard);
}

/// Posts `events` (cclive's event JSON) to the dashboard, all accepted.
fn post_events(dashboard: &Dashboard, events: &[Value]) {
    let reply = dashboard.post("/api/events", &Value::Array(events.to_vec()));
    assert_eq!(reply.status, 202, "{}", reply.text());
}

/// A finished session at `at`: started in `project`, one response of `model` with `output`
/// tokens, ended.
fn finished_session(
    id: &str,
    at: jiff::Timestamp,
    project: &str,
    model: &str,
    output: u64,
) -> Vec<Value> {
    let t = |s: i64| (at + jiff::SignedDuration::from_secs(s)).to_string();
    vec![
        json!({"session_id": id, "at": t(0), "type": "session_started", "mode": "print",
               "source": "test", "cwd": project, "project_path": project}),
        json!({"session_id": id, "at": t(1), "type": "init", "claude_session_id": id, "model": model}),
        json!({"session_id": id, "at": t(2), "type": "prompt_submitted", "id": format!("{id}-p")}),
        json!({"session_id": id, "at": t(5), "type": "usage", "key": format!("{id}-m1"), "model": model,
               "tokens": {"input": 100, "output": output, "cache_read": 0, "cache_creation": 0},
               "is_final": true}),
        json!({"session_id": id, "at": t(8), "type": "session_ended", "reason": "other"}),
    ]
}

/// What the test reads off the block, budget and limits panel.
const READ_LIMITS: &str = r#"
const budget = (period) => {
  const row = document.querySelector(`#budgets-body [data-period="${period}"]`);
  if (!row) return null;
  const fill = row.querySelector(".gauge .fill");
  return { level: row.dataset.level, text: row.textContent, fill: fill ? getComputedStyle(fill).backgroundColor : null };
};
return {
  noBlock: !!document.querySelector('#block [data-field="no-block"]'),
  blockCost: Number(document.querySelector('#block [data-field="block-cost"]')?.dataset.value || 0),
  burn: document.querySelector('#block [data-field="burn"]')?.textContent || null,
  left: document.querySelector('#block [data-field="block-left"]')?.textContent || null,
  day: budget("day"),
  week: budget("week"),
  official: document.getElementById("official-body").textContent,
  used: document.querySelector('#official [data-window="5-hour"] [data-field="used"]')?.textContent || null,
  reported: document.querySelector('#official [data-field="reported"]')?.textContent || null,
  bad: (() => {
    const probe = document.createElement("div");
    probe.style.backgroundColor = "var(--bad)";
    document.body.append(probe);
    const colour = getComputedStyle(probe).backgroundColor;
    probe.remove();
    return colour;
  })(),
  marker: window.__ccliveTestMarker || null,
};
"#;

#[test]
fn the_block_budget_and_limits_panel_follows_usage_and_the_status_line_live() {
    let world = World::new("http://127.0.0.1:9");
    write_config(&world, "[budget]\ndaily_usd = 0.05\n");
    let dashboard = Dashboard::start(&world, &[]);
    let driver = ChromeDriver::start();
    let runtime = runtime();
    runtime.block_on(async {
        let client = driver.browser().await;
        client.goto(&dashboard.url()).await.expect("open the page");
        let page = wait_page(&client, "the empty panel", READ_LIMITS, TIMEOUT, |p| {
            p["noBlock"] == true && p["day"].is_object()
        })
        .await;
        assert!(page["official"].as_str().unwrap().contains("None reported yet"), "{page:#}");
        assert_eq!(page["day"]["level"], "ok", "{page:#}");
        client
            .execute("window.__ccliveTestMarker = 'same page';", vec![])
            .await
            .unwrap();

        // A session spends $0.15 (10k output tokens of Sonnet 4.5) a minute ago: over the $0.05
        // day, and a burn rate.
        let now = jiff::Timestamp::now();
        let minute_ago = now - jiff::SignedDuration::from_secs(60);
        post_events(&dashboard, &finished_session("spender", minute_ago, "/w/app", "claude-sonnet-4-5", 10_000)[..4]);
        let page = wait_page(&client, "the block and the budget to move", READ_LIMITS, TIMEOUT, |p| {
            p["blockCost"].as_f64().is_some_and(|c| c > 0.1) && p["day"]["level"] == "exceeded"
        })
        .await;
        assert!(page["left"].as_str().is_some_and(|l| l.contains('h') || l.contains('m')), "{page:#}");
        let burn = page["burn"].as_str().unwrap();
        assert!(burn.contains("/h") && !burn.starts_with("$0.00"), "{page:#}");
        let day = page["day"]["text"].as_str().unwrap();
        assert!(day.contains("of $0.05") && day.contains('%'), "{day}");
        assert_eq!(
            page["day"]["fill"], page["bad"],
            "the exceeded gauge is red: {page:#}"
        );
        assert_eq!(page["week"]["level"], "none", "no weekly limit: no gauge");

        // Claude Code's status line reports the official limits: they show at once, with their age.
        let resets = (now + jiff::SignedDuration::from_hours(3)).to_string();
        post_events(&dashboard, &[json!({
            "session_id": "spender", "at": jiff::Timestamp::now().to_string(), "type": "status_line",
            "total_cost_usd": 0.2,
            "rate_limits": {"five_hour": {"used_percentage": 42.5, "resets_at": resets},
                            "seven_day": {"used_percentage": 7.0}}
        })]);
        let page = wait_page(&client, "the official limits", READ_LIMITS, TIMEOUT, |p| {
            p["used"] == "42%"
        })
        .await;
        assert!(page["official"].as_str().unwrap().contains("7-day"), "{page:#}");
        assert!(page["official"].as_str().unwrap().contains("resets"), "{page:#}");
        assert!(page["reported"].as_str().unwrap().contains("just now"), "{page:#}");
        assert_eq!(page["marker"], "same page", "all of it without a reload");
        screenshot(&client, "dashboard-limits.png").await;
        client.close().await.unwrap();
    });
    drop(driver);
    drop(dashboard);
}

/// What the test reads off the history: the range, the table and the URL.
const READ_HISTORY: &str = r##"
return {
  url: location.search,
  pressed: [...document.querySelectorAll("[data-range][aria-pressed=true]")].map((b) => b.dataset.range),
  from: document.getElementById("range-from").value,
  to: document.getElementById("range-to").value,
  size: document.getElementById("page-size").value,
  rows: [...document.querySelectorAll("#sessions-body tr[data-session-id]")].map((r) => r.dataset.sessionId),
  chips: [...document.querySelectorAll("#chips [data-chip]")].map((c) => c.dataset.chip),
  rangeCard: document.querySelector('.total[data-total="range"] .detail').textContent,
  allCard: document.querySelector('.total[data-total="all"] .detail').textContent,
  models: [...document.querySelectorAll("#chart-models [data-model]")].map((b) => b.dataset.model),
  ticks: [...document.querySelectorAll("#chart-days text.tick")].map((t) => t.textContent),
  selectedBar: document.querySelector("#chart-days .bar-hit.selected")?.dataset.from || null,
  marker: window.__ccliveTestMarker || null,
};
"##;

/// Three finished sessions: today (Sonnet, /w/app, $0.30), 10 days ago (Haiku, /w/lib, $0.05)
/// and 40 days ago (Opus 4.1, /w/old, $0.075).
fn seed_history(dashboard: &Dashboard) -> jiff::civil::Date {
    let now = jiff::Timestamp::now();
    let days = |d: i64| now - jiff::SignedDuration::from_hours(24 * d);
    post_events(
        dashboard,
        &finished_session(
            "recent",
            now - jiff::SignedDuration::from_secs(60),
            "/w/app",
            "claude-sonnet-4-5",
            20_000,
        ),
    );
    post_events(
        dashboard,
        &finished_session("ten-days", days(10), "/w/lib", "claude-haiku-4-5", 10_000),
    );
    post_events(
        dashboard,
        &finished_session("forty-days", days(40), "/w/old", "claude-opus-4-1", 1_000),
    );
    days(10)
        .to_zoned_datetime(jiff::tz::TimeZone::system())
        .date()
}

#[test]
fn the_date_range_sort_and_filters_live_in_the_url_and_a_chart_click_filters_the_table() {
    let world = World::new("http://127.0.0.1:9");
    let dashboard = Dashboard::start(&world, &[]);
    let ten_days_ago = seed_history(&dashboard);
    let driver = ChromeDriver::start();
    let runtime = runtime();
    runtime.block_on(async {
        let client = driver.browser().await;
        // A shared link: the last 7 days, cheapest first, 10 rows a page.
        let link = format!(
            "{}?range=7d&sort=total_cost_usd&order=asc&size=10",
            dashboard.url()
        );
        client.goto(&link).await.expect("open the page");
        let page = wait_page(&client, "the linked view", READ_HISTORY, TIMEOUT, |p| {
            p["rows"] == json!(["recent"])
                && p["allCard"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("3 sessions"))
                && p["ticks"].as_array().is_some_and(|t| t.len() >= 2)
        })
        .await;
        assert_eq!(page["pressed"], json!(["7d"]), "{page:#}");
        assert_eq!(page["size"], "10");
        assert!(
            page["rangeCard"]
                .as_str()
                .unwrap()
                .starts_with("1 session · 1 turn"),
            "singular: {page:#}"
        );
        assert!(
            page["ticks"].as_array().unwrap().len() >= 2,
            "a y-axis with values: {page:#}"
        );
        assert!(
            page["ticks"].as_array().unwrap().iter().any(|t| t != "$0"),
            "{page:#}"
        );

        // 30 days (the default, so it leaves the URL): the two newer sessions, cheapest first.
        click(&client, "[data-range='30d']").await;
        let page = wait_page(&client, "30 days", READ_HISTORY, TIMEOUT, |p| {
            p["rows"] == json!(["ten-days", "recent"])
        })
        .await;
        let url = page["url"].as_str().unwrap();
        assert!(
            url.contains("sort=total_cost_usd")
                && url.contains("order=asc")
                && !url.contains("range="),
            "{url}"
        );

        // All time, then a reload: the same view comes back from the URL.
        click(&client, "[data-range='all']").await;
        wait_page(&client, "all time", READ_HISTORY, TIMEOUT, |p| {
            p["rows"].as_array().is_some_and(|r| r.len() == 3)
                && p["url"].as_str().is_some_and(|u| u.contains("range=all"))
        })
        .await;
        client.refresh().await.unwrap();
        let page = wait_page(
            &client,
            "all time after a reload",
            READ_HISTORY,
            TIMEOUT,
            // The table and the charts come by separate requests.
            |p| {
                p["rows"] == json!(["ten-days", "forty-days", "recent"])
                    && p["models"].as_array().is_some_and(|m| m.len() == 3)
            },
        )
        .await;
        assert_eq!(page["pressed"], json!(["all"]), "{page:#}");
        let models = page["models"].as_array().unwrap();
        assert!(
            models.contains(&json!("claude-haiku-4-5")),
            "full model names: {page:#}"
        );

        // A click on the Haiku bar: the table shows the session that used it, and says so.
        click(&client, "#chart-models [data-model='claude-haiku-4-5']").await;
        let page = wait_page(&client, "the model filter", READ_HISTORY, TIMEOUT, |p| {
            p["rows"] == json!(["ten-days"])
        })
        .await;
        assert_eq!(page["chips"], json!(["model"]));
        assert!(
            page["url"]
                .as_str()
                .unwrap()
                .contains("model=claude-haiku-4-5"),
            "{page:#}"
        );
        click(&client, "#chips [data-chip='model']").await;
        wait_page(&client, "the filter cleared", READ_HISTORY, TIMEOUT, |p| {
            p["rows"].as_array().is_some_and(|r| r.len() == 3) && p["chips"] == json!([])
        })
        .await;

        // A click on a day's bar: that day's sessions.
        click(
            &client,
            &format!("#chart-days [data-from='{ten_days_ago}']"),
        )
        .await;
        let page = wait_page(&client, "the day filter", READ_HISTORY, TIMEOUT, |p| {
            p["rows"] == json!(["ten-days"])
        })
        .await;
        assert_eq!(
            page["selectedBar"],
            json!(ten_days_ago.to_string()),
            "the chosen day stands out: {page:#}"
        );
        assert!(
            page["url"]
                .as_str()
                .unwrap()
                .contains(&format!("day={ten_days_ago}")),
            "{page:#}"
        );
        screenshot(&client, "dashboard-history.png").await;

        // A custom range from a link fills the date inputs.
        let link = format!("{}?from={ten_days_ago}&to={ten_days_ago}", dashboard.url());
        client.goto(&link).await.unwrap();
        let page = wait_page(&client, "the custom range", READ_HISTORY, TIMEOUT, |p| {
            p["rows"] == json!(["ten-days"])
        })
        .await;
        assert_eq!(
            (
                page["from"].as_str(),
                page["pressed"].as_array().map(Vec::len)
            ),
            (Some(ten_days_ago.to_string().as_str()), Some(0))
        );
        client.close().await.unwrap();
    });
    drop(driver);
    drop(dashboard);
}

/// What the test reads off a narrow page: whether the key figures are in view.
const READ_PHONE: &str = r##"
const seen = (el) => {
  if (!el) return false;
  const r = el.getBoundingClientRect();
  return getComputedStyle(el).display !== "none" && r.width > 0 && r.left >= 0 && r.right <= window.innerWidth + 0.5;
};
const row = document.querySelector("#sessions-body tr[data-session-id]");
const svg = document.querySelector("#chart-days svg");
const tick = document.querySelector("#chart-days text.tick");
return {
  width: window.innerWidth,
  overflow: document.documentElement.scrollWidth - window.innerWidth,
  row: !!row,
  cost: seen(row?.querySelector('[data-field="cost"]')),
  duration: seen(row?.querySelector('[data-field="duration"]')),
  turns: seen(row?.querySelector('[data-field="turns"]')),
  costText: row?.querySelector('[data-field="cost"]')?.textContent || null,
  scale: svg ? svg.getBoundingClientRect().width / svg.width.baseVal.value : null,
  tickPx: tick ? parseFloat(getComputedStyle(tick).fontSize) : null,
  dot: !!document.querySelector("#banner .dot"),
  banner: document.getElementById("banner").textContent,
};
"##;

#[test]
fn on_a_phone_the_sessions_are_cards_with_cost_duration_and_turns_in_view() {
    let world = World::new("http://127.0.0.1:9");
    let dashboard = Dashboard::start(&world, &[]);
    seed_history(&dashboard);
    let driver = ChromeDriver::start();
    let runtime = runtime();
    runtime.block_on(async {
        let client = driver.browser().await;
        client
            .set_window_size(420, 1000)
            .await
            .expect("a phone-sized window");
        client.goto(&dashboard.url()).await.expect("open the page");
        let page = wait_page(&client, "the narrow page", READ_PHONE, TIMEOUT, |p| {
            p["row"] == true && p["scale"].is_number()
        })
        .await;
        assert!(page["width"].as_f64().unwrap() <= 420.0, "{page:#}");
        assert_eq!(
            (&page["cost"], &page["duration"], &page["turns"]),
            (&json!(true), &json!(true), &json!(true)),
            "Cost, Duration and Turns are in view: {page:#}"
        );
        assert!(page["costText"].as_str().unwrap().contains('$'));
        assert!(
            page["overflow"].as_f64().unwrap() <= 0.5,
            "nothing wider than the screen: {page:#}"
        );
        assert!(
            page["scale"].as_f64().unwrap() > 0.95,
            "the chart is drawn at its size, not shrunk: {page:#}"
        );
        assert!(page["tickPx"].as_f64().unwrap() >= 10.0, "{page:#}");
        assert!(
            page["dot"] == true && !page["banner"].as_str().unwrap().contains('⚫'),
            "{page:#}"
        );
        screenshot(&client, "dashboard-phone.png").await;
        screenshot_at(&client, "history-title", "dashboard-phone-history.png").await;
        screenshot_at(&client, "sessions", "dashboard-phone-table.png").await;
        client.close().await.unwrap();
    });
    drop(driver);
    drop(dashboard);
}

/// Every element marking a session's usage as unpriced, with the cost beside it.
const READ_UNPRICED: &str = r#"
return {
  marks: [...document.querySelectorAll('[data-field="unpriced"]')].map((m) => ({
    text: m.textContent,
    cost: m.closest('[data-field="cost"]')?.textContent ?? m.parentElement?.textContent,
  })),
  head: document.getElementById("head")?.textContent,
  cards: document.querySelectorAll('.total [data-field="unpriced"]').length,
};
"#;

#[test]
fn an_unpriced_session_is_marked_never_shown_at_zero() {
    let world = World::new("http://127.0.0.1:9");
    let dashboard = Dashboard::start(&world, &[]);
    let at = jiff::Timestamp::now().to_string();
    let id = "unpriced-1";
    for event in [
        json!({"session_id": id, "at": at, "type": "session_started", "mode": "print",
               "source": "test"}),
        json!({"session_id": id, "at": at, "type": "usage", "key": "msg_unpriced_1",
               "model": "claude-unknown-9",
               "tokens": {"input": 1200, "output": 42, "cache_read": 0, "cache_creation": 0}}),
    ] {
        assert_eq!(dashboard.post("/api/events", &event).status, 202);
    }
    // The API (once the writer stored it): unknown, not zero.
    let deadline = Instant::now() + TIMEOUT;
    let session = loop {
        let api: Value = serde_json::from_slice(&dashboard.get("/api/sessions").body).unwrap();
        if let Some(s) = api["sessions"]
            .as_array()
            .and_then(|all| all.iter().find(|s| s["session_id"] == id).cloned())
        {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "{id} not in /api/sessions: {api}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(session["total_cost_usd"].is_null(), "{session}");
    assert_eq!(session["unpriced_models"], json!(["claude-unknown-9"]));

    let driver = ChromeDriver::start();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = driver.browser().await;
        for (page, url) in [
            ("dashboard", dashboard.url()),
            ("session page", format!("{}sessions/{id}", dashboard.url())),
        ] {
            client.goto(&url).await.expect("open the page");
            // On the dashboard, the range's and all time's cards too: their cost is the
            // window's responses', and this one has no price.
            let cards = if page == "dashboard" { 2 } else { 0 };
            let read = wait_page(&client, page, READ_UNPRICED, TIMEOUT, |m| {
                m["marks"].as_array().is_some_and(|m| !m.is_empty()) && m["cards"] == cards
            })
            .await;
            let marks = &read["marks"];
            for mark in marks.as_array().unwrap() {
                assert_eq!(
                    mark["text"], "unpriced: claude-unknown-9",
                    "{page}: {marks}"
                );
                let cost = mark["cost"].as_str().unwrap_or_default();
                assert!(!cost.contains("$0"), "{page}: {cost}");
            }
        }
        screenshot(&client, "unpriced.png").await;
        client.close().await.unwrap();
    });
    drop(driver);
    drop(dashboard);
}

/// What the test reads off the sessions table: each row's session and the project it shows.
const READ_PROJECTS: &str = r##"
return {
  rows: [...document.querySelectorAll("#sessions-body tr[data-session-id]")].map((r) => ({
    id: r.dataset.sessionId,
    project: r.querySelector("td.project")?.textContent.trim() || null,
  })),
  filter: document.getElementById("filter-project").value,
  url: location.search,
};
"##;

/// An imported history (no `--project-path` anywhere, only each session's cwd) and a session
/// of a plain `claude` run: the project filter finds every session by the name the page shows
/// for it, and by its full path.
#[test]
fn the_project_filter_finds_each_session_by_the_name_the_page_shows() {
    let world = World::new("http://127.0.0.1:9");
    let corpus = world.claude.home().join("corpus");
    crate::import_corpus::generate(&corpus, 1, 7);
    let out = world
        .cclive(&["import", "--quiet"])
        .env("CLAUDE_CONFIG_DIR", &corpus)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        crate::support::cclive::describe(&out)
    );
    let dashboard = Dashboard::start(&world, &[]);
    // A plain `claude` run seen by its hooks: a cwd, no project path.
    post_events(
        &dashboard,
        &[
            json!({"session_id": "plain-run", "at": jiff::Timestamp::now().to_string(),
                 "type": "session_started", "mode": "interactive", "source": "hook",
                 "cwd": "/home/me/src/plain-project"}),
        ],
    );
    // Once the monitor has stored it.
    let deadline = Instant::now() + TIMEOUT;
    let all = loop {
        let stored = dashboard.get("/api/sessions?limit=500").json();
        let all = stored["sessions"].as_array().unwrap().clone();
        if all.iter().any(|s| s["session_id"] == "plain-run") {
            break all;
        }
        assert!(Instant::now() < deadline, "{stored:#}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(all.len() > 10, "{all:#?}");
    let driver = ChromeDriver::start();
    runtime().block_on(async {
        let client = driver.browser().await;
        client
            .goto(&format!("{}?range=all&size=100", dashboard.url()))
            .await
            .expect("open the page");
        let page = wait_page(
            &client,
            "every session listed",
            READ_PROJECTS,
            TIMEOUT,
            |p| p["rows"].as_array().is_some_and(|r| r.len() == all.len()),
        )
        .await;
        let mut by_name = std::collections::BTreeMap::<String, Vec<String>>::new();
        for row in page["rows"].as_array().unwrap() {
            let name = row["project"].as_str().unwrap_or("");
            assert!(
                !name.is_empty() && name != "–",
                "a session without a project: {page:#}"
            );
            by_name
                .entry(name.to_owned())
                .or_default()
                .push(row["id"].as_str().unwrap().to_owned());
        }
        assert!(by_name.len() >= 3, "{by_name:?}");
        assert!(by_name.contains_key("plain-project"), "{by_name:?}");
        let input = client
            .find(fantoccini::Locator::Id("filter-project"))
            .await
            .unwrap();
        for (name, ids) in &by_name {
            // Typed as the user would: what the Project column shows.
            input.clear().await.unwrap();
            input.send_keys(name).await.unwrap();
            let mut expected = ids.clone();
            expected.sort();
            let page = wait_page(
                &client,
                &format!("the project {name}"),
                READ_PROJECTS,
                TIMEOUT,
                |p| {
                    let mut got: Vec<String> = p["rows"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|r| r["id"].as_str().map(str::to_owned))
                        .collect();
                    got.sort();
                    got == expected
                },
            )
            .await;
            assert!(
                page["rows"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|r| r["project"] == json!(name)),
                "{page:#}"
            );
        }
        client.close().await.unwrap();
    });
    drop(driver);
    // The API takes the name and the full path alike.
    for s in &all {
        let path = s["project_path"].as_str().or(s["cwd"].as_str()).unwrap();
        let name = path.trim_end_matches('/').rsplit('/').next().unwrap();
        for filter in [name, path] {
            let listed = dashboard
                .get(&format!(
                    "/api/sessions?limit=500&project={}",
                    filter.replace('/', "%2F")
                ))
                .json();
            let listed = listed["sessions"].as_array().unwrap().clone();
            assert!(
                listed.iter().any(|l| l["session_id"] == s["session_id"]),
                "{filter} finds {}",
                s["session_id"]
            );
        }
    }
    drop(dashboard);
}
