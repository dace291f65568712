//! Load generator for `scripts/bench-team.sh`: N simulated agents push usage rows to a running
//! `cclive server` for a fixed time, then the dashboard's overview is read a few times.
//! Prints one `key=value` line per figure for the script to format.
//!
//! ```sh
//! cargo run --release --example team_bench -- URL SECONDS BATCH ADMIN_TOKEN AGENT_TOKEN…
//! ```

use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::json;

const MODELS: [&str; 3] = ["claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5"];

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_mins(1)))
        .build()
        .into()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    anyhow::ensure!(
        args.len() >= 5,
        "usage: team_bench URL SECONDS BATCH ADMIN_TOKEN AGENT_TOKEN…"
    );
    let url = args[0].clone();
    let seconds: u64 = args[1].parse().context("SECONDS")?;
    let batch: u64 = args[2].parse().context("BATCH")?;
    let admin = args[3].clone();
    let tokens = args[4..].to_vec();
    anyhow::ensure!(tokens.len() <= 64, "at most 64 agents");
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let workers: Vec<_> = tokens
        .into_iter()
        .enumerate()
        .map(|(n, token)| {
            let url = url.clone();
            std::thread::spawn(move || -> anyhow::Result<(u64, Vec<f64>)> {
                let http = agent();
                let mut seq = 0u64;
                let mut rows = 0u64;
                let mut latencies = Vec::new();
                let now_ms = jiff::Timestamp::now().as_millisecond();
                while Instant::now() < deadline {
                    let items: Vec<_> = (0..batch)
                        .map(|_| {
                            seq += 1;
                            let session = format!("bench-{n}-s{}", seq / 500);
                            let model = MODELS[usize::try_from(seq % 3).unwrap_or(0)];
                            json!({"seq": seq, "kind": "usage", "usage": {
                                "message_id": format!("msg_bench_{n}_{seq}"),
                                "session_id": session,
                                "first_seen_ms": now_ms - i64::try_from(seq % 86_400_000).unwrap_or(0),
                                "model": model,
                                "tokens": {"input": 1200, "output": 300 + seq % 50, "cache_read": 20_000, "cache_creation": 500}}})
                        })
                        .collect();
                    let body = json!({"protocol": 1,
                        "machine": {"id": format!("bench-machine-{n}"), "hostname": format!("bench-{n}"), "agent_version": "bench"},
                        "outbox_head": seq, "items": items});
                    let t = Instant::now();
                    let reply = http
                        .post(format!("{url}/api/team/v1/push"))
                        .header("Authorization", &format!("Bearer {token}"))
                        .header("Content-Type", "application/json")
                        .send(serde_json::to_vec(&body)?.as_slice())?;
                    anyhow::ensure!(reply.status() == 200, "push answered {}", reply.status());
                    latencies.push(t.elapsed().as_secs_f64() * 1000.0);
                    rows += batch;
                }
                Ok((rows, latencies))
            })
        })
        .collect();
    let mut rows = 0;
    let mut latencies = Vec::new();
    for w in workers {
        let (r, l) = w
            .join()
            .map_err(|_| anyhow::anyhow!("an agent panicked"))??;
        rows += r;
        latencies.extend(l);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    println!("rows={rows}");
    println!("seconds={elapsed:.2}");
    println!("rows_per_s={:.0}", rows as f64 / elapsed);
    println!("pushes={}", latencies.len());
    println!("push_p50_ms={:.1}", percentile(&latencies, 0.5));
    println!("push_p99_ms={:.1}", percentile(&latencies, 0.99));
    let http = agent();
    let mut reads = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        let reply = http
            .get(format!("{url}/api/team/v1/overview"))
            .header("Authorization", &format!("Bearer {admin}"))
            .call()?;
        anyhow::ensure!(
            reply.status() == 200,
            "overview answered {}",
            reply.status()
        );
        reads.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    reads.sort_by(f64::total_cmp);
    println!("overview_p50_ms={:.1}", percentile(&reads, 0.5));
    println!(
        "overview_max_ms={:.1}",
        reads.last().copied().unwrap_or(0.0)
    );
    Ok(())
}
