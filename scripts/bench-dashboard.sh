#!/usr/bin/env bash
# The live dashboard's numbers, measured with the release build:
#   - event-to-browser latency: an event POSTed to the monitor until the page in headless
#     Chromium shows it (p50/p99 over 100 changes);
#   - idle cost: CPU time and wake-ups (context switches) of the dashboard process over
#     IDLE_SECONDS with the page open and no session, and the live-stream messages meanwhile;
#   - memory: RSS now and at peak.
# Needs Chromium (scripts/test-setup.sh installs it). Nothing here is asserted; it prints.
#
#   scripts/bench-dashboard.sh [IDLE_SECONDS]     (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/test-setup.sh >/dev/null
export CCLIVE_BENCH_IDLE_SECS="${1:-60}"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! cargo test --release --locked -p cclive --test integration dashboard_bench \
    -- --ignored --nocapture --test-threads=1 >"$log" 2>&1; then
  cat "$log" >&2
  exit 1
fi
awk '
  $1 == "BENCH" { v[$2] = $3 }
  END {
    printf "event → browser latency: p50 %s ms, p99 %s ms, max %s ms (%s changes)\n",
      v["latency_ms_p50"], v["latency_ms_p99"], v["latency_ms_max"], v["latency_changes"]
    printf "idle, page open, no session, %s s: CPU %s %%, %s wake-ups/s, %s stream messages\n",
      v["idle_seconds"], v["idle_cpu_percent"], v["idle_wakeups_per_second"],
      v["idle_stream_messages"]
    printf "memory: RSS %.1f MB (peak %.1f MB)\n", v["rss_kb"] / 1024, v["rss_peak_kb"] / 1024
  }' "$log"
