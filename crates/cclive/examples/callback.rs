//! Run Claude Code under cclive's monitor and react to every status change — what the seed's
//! `ClaudeCodeSessionMonitor(dashboard_callback=...)` did, as a library user would write it.
//!
//! ```sh
//! cargo run --example callback -- -p "say hi"
//! ```

use cclive::{RunRequest, SessionMonitor, UpdateKind};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let claude_args: Vec<String> = std::env::args().skip(1).collect();
    let monitor = SessionMonitor::builder()
        .on_update(|update| {
            // Progress comes often (every event, every second while live); a dashboard would
            // redraw, this example stays quiet.
            if update.kind != UpdateKind::Progress {
                let s = &update.session;
                println!(
                    "[callback] {} {:?}: status={} cost=${:.4} ({:?}) turns={}",
                    s.session_id,
                    update.kind,
                    s.status,
                    s.total_cost_usd,
                    s.cost_source,
                    s.num_turns
                );
            }
        })
        .build();
    let outcome = monitor.run(RunRequest::new(claude_args)).await?;
    println!(
        "[callback] done: exit {} after {} ms, ${:.4}",
        outcome.exit_code, outcome.session.duration_ms, outcome.session.total_cost_usd
    );
    std::process::exit(i32::from(outcome.exit_code));
}
