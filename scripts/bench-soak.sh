#!/usr/bin/env bash
# A soak of the monitor: 20 Claude Code sessions at a time for 10 minutes while `cclive watch` is
# killed (-9) and restarted every minute. The sessions are synthetic transcript writers
# (scripts/lib/soak_writer.py: realistic 2.1 lines appended over time, a new session as soon as
# one ends, the ground truth kept by the writer; transcript-only sessions, as Claude Code 1.0 or a
# container sharing ~/.claude). Prints the monitor's resident memory and open file descriptors
# every 10 s; at the end, after a clean stop and a final `cclive import`, the exactness check
# against the ground truth (tokens, cost and tool calls of every session; none left ACTIVE or
# IDLE) and whether memory and descriptors stayed flat (the last quarter's peak against the first
# quarter's, ramp-up excluded). Exits non-zero when either check fails.
#
#   scripts/bench-soak.sh
#   SOAK_MINUTES=1 SOAK_RESTART_SECS=20 scripts/bench-soak.sh      (a smoke run)
# Also: SOAK_SESSIONS (20), SOAK_SAMPLE_SECS (10), SOAK_SEED, CCLIVE_BIN (default: a release build).
set -euo pipefail
cd "$(dirname "$0")/.."

minutes="${SOAK_MINUTES:-10}"
sessions="${SOAK_SESSIONS:-20}"
restart_every="${SOAK_RESTART_SECS:-60}"
sample_every="${SOAK_SAMPLE_SECS:-10}"
seed="${SOAK_SEED:-12}"
if [ -n "${CCLIVE_BIN:-}" ]; then
  bin="$CCLIVE_BIN"
else
  cargo build --release --locked --quiet
  bin="$PWD/target/release/cclive"
fi

work="$(mktemp -d)"
monitor=""
writer=""
cleanup() {
  [ -n "$monitor" ] && kill -9 "$monitor" 2>/dev/null || true
  [ -n "$writer" ] && kill "$writer" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

home="$work/home"
mkdir -p "$home/.claude/projects" "$home/.config" "$home/.local/share" "$home/.cache"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
export HOME="$home" CLAUDE_CONFIG_DIR="$home/.claude" XDG_CONFIG_HOME="$home/.config" \
  XDG_DATA_HOME="$home/.local/share" XDG_CACHE_HOME="$home/.cache" \
  CCLIVE_DB="$work/cclive.db" CLAUDE_SESSION_STATE_FILE="$work/state.json" \
  CCLIVE_LISTEN="127.0.0.1:$port" CCLIVE_LOG=warn

start_monitor() {
  "$bin" watch --listen "127.0.0.1:$port" >/dev/null 2>>"$work/monitor.log" &
  monitor=$!
  for _ in $(seq 600); do
    curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && return 0
    kill -0 "$monitor" 2>/dev/null || { cat "$work/monitor.log" >&2; return 1; }
    sleep 0.1
  done
  echo "the monitor did not come up" >&2
  return 1
}

start_monitor
incarnation=1
python3 scripts/lib/soak_writer.py "$home/.claude/projects" "$sessions" "$((minutes * 60))" \
  "$work/truth.json" "$seed" &
writer=$!

printf 'soak: %s sessions at a time for %s min, monitor killed and restarted every %s s (%s)\n\n' \
  "$sessions" "$minutes" "$restart_every" "$bin"
printf '%6s %8s %9s %5s %6s %12s\n' "t s" "monitor" "RSS MB" "fds" "live" "transcripts"
began=$SECONDS
next_sample=$began
next_restart=$((began + restart_every))
: >"$work/samples"
while kill -0 "$writer" 2>/dev/null; do
  now=$SECONDS
  if [ "$now" -ge "$next_restart" ]; then
    kill -9 "$monitor"
    wait "$monitor" 2>/dev/null || true
    start_monitor
    incarnation=$((incarnation + 1))
    next_restart=$((now + restart_every))
  fi
  if [ "$now" -ge "$next_sample" ]; then
    rss_kb="$(awk '/^VmRSS:/ {print $2}' "/proc/$monitor/status" 2>/dev/null || echo 0)"
    fds="$(find "/proc/$monitor/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)"
    live="$(python3 -c 'import json, sys
try:
    print(len(json.load(open(sys.argv[1])).get("active_sessions") or []))
except Exception:
    print("-")' "$work/state.json")"
    files="$(find "$home/.claude/projects" -name '*.jsonl' | wc -l)"
    printf '%6d %8s %9.1f %5d %6s %12d\n' "$((now - began))" "#$incarnation" \
      "$(echo "$rss_kb / 1024" | bc -l)" "$fds" "$live" "$files"
    echo "$((now - began)) $rss_kb $fds" >>"$work/samples"
    next_sample=$((next_sample + sample_every))
  fi
  sleep 0.2
done
wait "$writer"
writer=""

# Let the monitor see every end (a transcript-only session ends a few seconds after its last
# line), then stop it cleanly and import what it may have missed.
for _ in $(seq 600); do
  live="$(python3 -c 'import json, sys
try:
    print(len(json.load(open(sys.argv[1])).get("active_sessions") or []))
except Exception:
    print(1)' "$work/state.json")"
  [ "$live" = 0 ] && break
  sleep 0.1
done
kill -TERM "$monitor"
wait "$monitor" || { echo "the monitor's clean stop failed" >&2; cat "$work/monitor.log" >&2; exit 1; }
monitor=""
"$bin" import --quiet >/dev/null
"$bin" sessions --json --limit 1000000 >"$work/sessions.json"

python3 - "$work/truth.json" "$work/sessions.json" "$work/samples" <<'EOF'
import json, sys

truth = json.load(open(sys.argv[1]))
stored = {s["session_id"]: s for s in json.load(open(sys.argv[2]))}
problems = []
if set(stored) != set(truth):
    problems.append("sessions: %d stored, %d written; missing %s, extra %s" % (
        len(stored), len(truth), sorted(set(truth) - set(stored))[:5],
        sorted(set(stored) - set(truth))[:5]))
for sid, t in truth.items():
    s = stored.get(sid)
    if s is None:
        continue
    got = {k: s["tokens"][k] for k in t["tokens"]}
    if got != t["tokens"]:
        problems.append("%s: tokens %s, truth %s" % (sid, got, t["tokens"]))
    if abs((s.get("total_cost_usd") or 0) - t["cost_usd"]) > 1e-9:
        problems.append("%s: cost %s, truth %s" % (sid, s.get("total_cost_usd"), t["cost_usd"]))
    calls = sum((s.get("tool_calls") or {}).values())
    if calls != t["tool_calls"]:
        problems.append("%s: %d tool calls, truth %d" % (sid, calls, t["tool_calls"]))
    if s["status"] in ("ACTIVE", "IDLE"):
        problems.append("%s: left %s" % (sid, s["status"]))

print()
print("exactness: %d sessions written, %d stored, %d problems" % (len(truth), len(stored), len(problems)))
for p in problems[:20]:
    print("  " + p)

samples = [tuple(int(x) for x in line.split()) for line in open(sys.argv[3]) if line.strip()]
# Ramp-up excluded: the first sample is taken before the sessions have written much.
steady = samples[1:] if len(samples) > 4 else samples
quarter = max(1, len(steady) // 4)
early, late = steady[:quarter], steady[-quarter:]
rss_early, rss_late = max(s[1] for s in early) / 1024, max(s[1] for s in late) / 1024
fd_early, fd_late = max(s[2] for s in early), max(s[2] for s in late)
rss_flat = rss_late <= rss_early * 1.25 + 2
fd_flat = fd_late <= fd_early + 5
print("RSS: first quarter's peak %.1f MB, last quarter's %.1f MB (%.2fx): %s" % (
    rss_early, rss_late, rss_late / rss_early if rss_early else 0, "flat" if rss_flat else "GROWING"))
print("fds: first quarter's peak %d, last quarter's %d: %s" % (
    fd_early, fd_late, "flat" if fd_flat else "GROWING"))
sys.exit(0 if not problems and rss_flat and fd_flat else 1)
EOF
