//! The dashboard's numbers, measured (not asserted): run by `scripts/bench-dashboard.sh`
//! (`cargo test --release --test integration dashboard_bench -- --ignored --nocapture`).
//!
//! - Event-to-browser latency: an event POSTed to the monitor until the page in headless
//!   Chromium shows the new figure (a `MutationObserver` in the page notes when the card's turn
//!   count changes; both clocks are this machine's wall clock), over 100 changes.
//! - Idle cost: with the page open and no session, the dashboard process's CPU time and its
//!   threads' context switches (wake-ups) over `CCLIVE_BENCH_IDLE_SECS` (default 60), and how
//!   many live-stream messages a subscriber got meanwhile.
//! - Memory: the process's RSS (now and peak).
//!
//! Each result is one `BENCH name value` line.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::dashboard_browser::{ChromeDriver, wait_page};
use crate::dashboard_e2e::{Dashboard, Sse};
use crate::support::cclive::World;

const CHANGES: u64 = 100;

fn epoch_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        * 1000.0
}

/// The `pct`-th percentile (nearest rank) of sorted values.
fn percentile(sorted: &[f64], pct: usize) -> f64 {
    let rank = (sorted.len() * pct).div_ceil(100).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

/// `(utime + stime` in clock ticks, context switches of every thread`)`.
fn cpu_and_switches(pid: u32) -> (u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the `(comm)`: state is field 3; utime and stime are fields 14 and 15.
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    let mut switches = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let status =
            std::fs::read_to_string(task.unwrap().path().join("status")).unwrap_or_default();
        for line in status.lines() {
            if let Some(v) = line
                .strip_prefix("voluntary_ctxt_switches:")
                .or_else(|| line.strip_prefix("nonvoluntary_ctxt_switches:"))
            {
                switches += v.trim().parse::<u64>().unwrap_or(0);
            }
        }
    }
    (ticks, switches)
}

fn status_kb(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

const OBSERVE: &str = r#"
window.__seen = {};
const box = document.getElementById("live");
new MutationObserver(() => {
  const el = box.querySelector('[data-session-id="bench"] [data-field="turns"]');
  if (!el) return;
  const n = el.textContent.replace(/[^0-9]/g, "");
  if (!(n in window.__seen)) window.__seen[n] = performance.timeOrigin + performance.now();
}).observe(box, { subtree: true, childList: true, characterData: true });
return true;
"#;

#[test]
#[ignore = "a benchmark: scripts/bench-dashboard.sh"]
fn dashboard_bench() {
    let idle_secs: u64 = std::env::var("CCLIVE_BENCH_IDLE_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let world = World::new("http://127.0.0.1:9");
    let dashboard = Dashboard::start(&world, &[]);
    let pid = dashboard.pid();
    let driver = ChromeDriver::start();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = driver.browser().await;
        client.goto(&dashboard.url()).await.unwrap();
        wait_page(
            &client,
            "the page",
            "return document.getElementById('conn').dataset.state;",
            Duration::from_secs(30),
            |v| v == "live",
        )
        .await;
        let now = || jiff::Timestamp::now().to_string();
        let post = |body: Value| {
            let r = dashboard.post("/api/events", &body);
            assert_eq!(r.status, 202, "{}", r.text());
        };
        post(
            json!({"session_id": "bench", "at": now(), "type": "session_started",
                    "mode": "print", "source": "bench", "command": "bench"}),
        );
        wait_page(
            &client,
            "the bench card",
            "return !!document.querySelector('#live [data-session-id=\"bench\"]');",
            Duration::from_secs(30),
            |v| v == true,
        )
        .await;
        client.execute(OBSERVE, vec![]).await.unwrap();

        let mut latencies = Vec::new();
        for i in 1..=CHANGES {
            let sent = epoch_ms();
            post(
                json!({"session_id": "bench", "at": now(), "type": "prompt_submitted",
                        "id": format!("p{i}")}),
            );
            let seen = wait_page(
                &client,
                "the new turn count",
                &format!("return window.__seen['{i}'] || null;"),
                Duration::from_secs(10),
                Value::is_number,
            )
            .await;
            latencies.push(seen.as_f64().unwrap() - sent);
        }
        latencies.sort_by(f64::total_cmp);
        println!("BENCH latency_ms_p50 {:.1}", percentile(&latencies, 50));
        println!("BENCH latency_ms_p99 {:.1}", percentile(&latencies, 99));
        println!("BENCH latency_ms_max {:.1}", latencies[latencies.len() - 1]);
        println!("BENCH latency_changes {}", latencies.len());

        post(json!({"session_id": "bench", "at": now(), "type": "process_exited", "code": 0}));
        wait_page(
            &client,
            "no active session",
            "return document.getElementById('banner').dataset.state;",
            Duration::from_secs(10),
            |v| v == "none",
        )
        .await;
        // Let the history reload and the store flush settle.
        tokio::time::sleep(Duration::from_secs(2)).await;

        let mut sse = Sse::open(dashboard.port);
        let _ = sse.next(Duration::from_secs(5)); // the snapshot
        let (ticks0, switches0) = cpu_and_switches(pid);
        let started = Instant::now();
        tokio::time::sleep(Duration::from_secs(idle_secs)).await;
        let elapsed = started.elapsed().as_secs_f64();
        let (ticks1, switches1) = cpu_and_switches(pid);
        // SC_CLK_TCK is 100 on Linux.
        let cpu_secs = (ticks1 - ticks0) as f64 / 100.0;
        println!("BENCH idle_seconds {elapsed:.1}");
        println!("BENCH idle_cpu_percent {:.3}", cpu_secs / elapsed * 100.0);
        println!(
            "BENCH idle_wakeups_per_second {:.1}",
            (switches1 - switches0) as f64 / elapsed
        );
        let messages = sse.count_pending();
        println!("BENCH idle_stream_messages {messages}");
        println!("BENCH rss_kb {}", status_kb(pid, "VmRSS:"));
        println!("BENCH rss_peak_kb {}", status_kb(pid, "VmHWM:"));
        client.close().await.unwrap();
    });
}
