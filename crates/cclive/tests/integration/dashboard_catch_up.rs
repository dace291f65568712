//! A dashboard on a fresh database with a big history answers while it imports: its page, the
//! store (incomplete) and `/api/import` with the catch-up's progress; the page shows it, and
//! the history it ends with is exactly the generator's ground truth.
//!
//! The catch-up is held by an explicit signal, never by timing: the import takes the hook
//! spool before it reads transcripts, and waits for a hook still appending to it (the spool's
//! `flock`). The test holds that lock until it has seen the server answer.

use std::fs::File;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::dashboard_browser::{ChromeDriver, runtime, screenshot, wait_page};
use crate::dashboard_e2e::Dashboard;
use crate::import_corpus::{assert_ground_truth, generate, sessions};
use crate::support::cclive::World;

const TIMEOUT: Duration = Duration::from_mins(2);

/// The hook spool beside the world's database, held as a hook appending to it holds it.
struct HeldSpool(File);

impl HeldSpool {
    fn hold(db: &Path) -> HeldSpool {
        let mut name = db.file_name().unwrap().to_os_string();
        name.push(".hook-spool");
        std::fs::create_dir_all(db.parent().unwrap()).unwrap();
        let file = File::create(db.with_file_name(name)).unwrap();
        file.lock().unwrap();
        HeldSpool(file)
    }

    fn release(self) {
        self.0.unlock().unwrap();
    }
}

fn start(world: &World, corpus: &Path) -> Dashboard {
    Dashboard::start_env(
        world,
        &[],
        &[("CLAUDE_CONFIG_DIR", corpus.to_str().unwrap())],
    )
}

/// Polls `/api/import` until `done` holds for it.
fn wait_import(dashboard: &Dashboard, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let reply = dashboard.get("/api/import");
        assert_eq!(reply.status, 200, "{}", reply.text());
        let progress = reply.json();
        if done(&progress) {
            return progress;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {progress}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The transcripts with something to read (the generator writes a few empty ones).
fn files_to_read(dir: &Path) -> u64 {
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            n += files_to_read(&path);
        } else if path.extension().is_some_and(|e| e == "jsonl")
            && entry.metadata().unwrap().len() > 0
        {
            n += 1;
        }
    }
    n
}

#[test]
fn a_dashboard_answers_during_its_catch_up_and_ends_with_the_exact_history() {
    let world = World::new("http://127.0.0.1:9");
    let corpus = world.claude.home().join("corpus");
    let truth = generate(&corpus, 12, 23);
    let files = files_to_read(&corpus);

    let spool = HeldSpool::hold(&world.db);
    let dashboard = start(&world, &corpus);
    // The transcripts are found; the catch-up cannot end while the spool is held.
    let progress = wait_import(&dashboard, "the transcripts found", |p| {
        p["files_total"].as_u64() > Some(0)
    });
    assert_eq!(progress["importing"], true, "{progress}");
    assert_eq!(progress["files_total"].as_u64(), Some(files), "{progress}");
    assert_eq!(progress["files_done"], 0, "{progress}");
    let page = dashboard.get("/");
    assert_eq!(page.status, 200);
    assert!(page.text().contains("id=\"importing\""));
    let listed = dashboard.get("/api/sessions");
    assert_eq!(
        listed.status, 200,
        "the store is readable during the catch-up"
    );
    assert_eq!(
        listed.json()["total"],
        0,
        "nothing is stored before it ends"
    );

    spool.release();
    let done = wait_import(&dashboard, "the end of the catch-up", |p| {
        p["importing"] == false
    });
    assert_eq!(done["files_done"].as_u64(), Some(files), "{done}");

    assert_ground_truth(&sessions(&world), &truth);
    drop(dashboard);
}

/// What the import panel shows.
const READ_IMPORT: &str = r#"
    const panel = document.getElementById("importing");
    const all = document.querySelector('.total[data-total="all"] .detail');
    return { hidden: panel.hidden, text: panel.textContent.replace(/\s+/g, " ").trim(),
             bar: Number(document.getElementById("import-bar").max),
             all: all ? all.textContent : "" };
"#;

#[test]
fn the_page_shows_the_import_progress_then_the_history() {
    let world = World::new("http://127.0.0.1:9");
    let corpus = world.claude.home().join("corpus");
    generate(&corpus, 3, 29);
    let files = files_to_read(&corpus);

    let spool = HeldSpool::hold(&world.db);
    let dashboard = start(&world, &corpus);
    wait_import(&dashboard, "the transcripts found", |p| {
        p["files_total"].as_u64() > Some(0)
    });
    let driver = ChromeDriver::start();
    runtime().block_on(async {
        let client = driver.browser().await;
        client.goto(&dashboard.url()).await.expect("open the page");
        let shown = format!("0 of {files} files");
        let page = wait_page(&client, "the progress", READ_IMPORT, TIMEOUT, |p| {
            p["hidden"] == false && p["text"].as_str().is_some_and(|t| t.contains(&shown))
        })
        .await;
        assert!(
            page["bar"].as_f64() > Some(1.0),
            "the bar counts bytes: {page:#}"
        );
        screenshot(&client, "importing.png").await;

        spool.release();
        wait_import(&dashboard, "the end of the catch-up", |p| {
            p["importing"] == false
        });
        let sessions = dashboard.get("/api/summary?range=all").json()["sessions"].clone();
        assert!(sessions.as_u64() > Some(0), "{sessions}");
        let page = wait_page(&client, "the history", READ_IMPORT, TIMEOUT, |p| {
            p["hidden"] == true
                && p["all"]
                    .as_str()
                    .is_some_and(|t| t.starts_with(&format!("{sessions} sessions")))
        })
        .await;
        assert_eq!(page["hidden"], true);
        client.close().await.unwrap();
    });
    drop(driver);
    drop(dashboard);
}
