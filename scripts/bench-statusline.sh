#!/usr/bin/env bash
# Wall time of `cclive statusline` (what Claude Code runs for its status line, and drops
# silently when slow; the budget is 20 ms) against a large imported history:
#   1. the normal run with no monitor listening: parse stdin; the database's files show no
#      commit since the previous run, so its cached figures hold and the store is not opened;
#   1b. the same after a commit (the database file touched before each run): take the lock, read
#      the store (the last minutes of usage; older sums and the last block come from the previous
#      run's cache), write the cache;
#   2. a cold run, without the previous run's cache (the first run after a reboot; the sums are
#      redone every 15 minutes, the block chain every 6 hours): today's sum and the last day's
#      usage times (the last week's when the day had no 5-hour pause);
#   3. the normal run with a running monitor (`cclive watch`), which gets the payload (10 ms
#      budget);
#   4. a run that finds the lock taken (another status line still reading): the cache only.
# The history is the shared generator's corpus, ending today so "today" and the 5-hour block
# have data, imported once with `cclive import`.
#
# EXTRA_ROWS=N adds N synthetic API responses (spread evenly over the last 90 days) straight
# into the database after the import, for a heavier history than the generator's.
#
#   scripts/bench-statusline.sh [SIZE_MB] [RUNS]     (defaults 500 and 200)
set -euo pipefail
cd "$(dirname "$0")/.."

size_mb="${1:-500}"
runs="${2:-200}"
today="$(date -u +%Y-%m-%d)"
cache="${CCLIVE_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cclive-bench}"
corpus="$cache/statusline-corpus-${size_mb}mb-$today"
shared="$(cd .. && pwd)/shared"
[ -f "$shared/tools/gen_corpus.py" ] || shared=/work/shared

if [ ! -f "$corpus/ground-truth.json" ]; then
  echo "generating a ${size_mb} MB corpus ending $today into $corpus (once a day)…"
  rm -rf "$cache"/statusline-corpus-"${size_mb}"mb-*
  python3 "$shared/tools/gen_corpus.py" --out "$corpus" --size-mb "$size_mb" \
    --sessions $((size_mb * 2 + 50)) --projects 40 --seed 7 --end-date "$today" --days 90
fi
cargo build --release --locked --quiet
bin="$PWD/target/release/cclive"

work="$(mktemp -d)"
watch_pid=""
holder_pid=""
cleanup() {
  [ -n "$watch_pid" ] && kill "$watch_pid" 2>/dev/null && wait "$watch_pid" 2>/dev/null
  [ -n "$holder_pid" ] && kill "$holder_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

export HOME="$work/home" XDG_RUNTIME_DIR="$work/run" XDG_DATA_HOME="$work/home/.local/share"
export XDG_CONFIG_HOME="$work/home/.config" CLAUDE_CONFIG_DIR="$corpus"
export CCLIVE_DB="$work/bench.db" CCLIVE_LISTEN="127.0.0.1:$(python3 -c \
  'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
mkdir -p "$HOME" "$XDG_RUNTIME_DIR" "$XDG_CONFIG_HOME/cclive"
printf '[budget]\ndaily_usd = 50.0\nmonthly_usd = 1000.0\n' >"$XDG_CONFIG_HOME/cclive/config.toml"
"$bin" import --quiet
if [ "${EXTRA_ROWS:-0}" -gt 0 ]; then
  python3 - "$CCLIVE_DB" "$EXTRA_ROWS" <<'PY'
import random, sqlite3, sys, time
db, n = sys.argv[1], int(sys.argv[2])
now = int(time.time() * 1000)
span = 90 * 86400000
rng = random.Random(7)
c = sqlite3.connect(db)
models = ["claude-sonnet-4-5", "claude-opus-5-5", "claude-haiku-4-5"]
c.executemany(
    "INSERT INTO usage (key, session_id, at_ms, model, input, output, cache_read, cache_creation, sidechain)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)",
    ((f"msg_extra_{i}", f"extra-session-{i // 40}", now - span + i * span // n, rng.choice(models),
      rng.randrange(10, 3000), rng.randrange(10, 2000), rng.randrange(0, 90000), rng.randrange(0, 5000))
     for i in range(n)))
c.commit()
PY
fi

cat >"$work/payload.json" <<'EOF'
{"session_id":"bench-session","transcript_path":"/tmp/bench.jsonl","cwd":"/home/me/app","prompt_id":"p",
 "effort":{"level":"medium"},"model":{"id":"claude-opus-5-5","display_name":"Opus 5.5"},
 "workspace":{"current_dir":"/home/me/app","project_dir":"/home/me/app","added_dirs":[]},"version":"2.1.332",
 "output_style":{"name":"default"},
 "cost":{"total_cost_usd":0.42,"total_duration_ms":16193,"total_api_duration_ms":10074,"total_lines_added":0,"total_lines_removed":0},
 "context_window":{"total_input_tokens":6500,"total_output_tokens":42,"context_window_size":1000000,
   "current_usage":{"input_tokens":1200,"output_tokens":42,"cache_creation_input_tokens":300,"cache_read_input_tokens":5000},
   "used_percentage":18,"remaining_percentage":82},
 "exceeds_200k_tokens":false,"fast_mode":false,"thinking":{"enabled":true},
 "rate_limits":{"five_hour":{"used_percentage":42.5,"resets_at":4102444800},"seven_day":{"used_percentage":7,"resets_at":4102444800}}}
EOF

rows=$(python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(c.execute('select count(*) from usage').fetchone()[0])" "$CCLIVE_DB")
day_rows=$(python3 -c "import sqlite3,sys,time; c=sqlite3.connect(sys.argv[1]); print(c.execute('select count(*) from usage where at_ms >= ?', (int(time.time()*1000)-86400000,)).fetchone()[0])" "$CCLIVE_DB")
printf '\nhistory: %s MB of transcripts, %s API responses stored (%s in the last 24 h), database %s\n' \
  "$(du -sm "$corpus/projects" | cut -f1)" "$rows" "$day_rows" "$(du -h "$CCLIVE_DB" | cut -f1)"
echo "line: $("$bin" statusline <"$work/payload.json")"

# Prints "p50 p90 p99 max mean" in ms for $runs runs of the status line (fork+exec included).
# With an argument, that command runs (untimed) before each run.
measure() {
  local before="${1:-true}" times=()
  for _ in $(seq 5); do "$bin" statusline <"$work/payload.json" >/dev/null; done
  for _ in $(seq "$runs"); do
    local t0 t1
    eval "$before"
    t0=$(date +%s%N)
    "$bin" statusline <"$work/payload.json" >/dev/null
    t1=$(date +%s%N)
    times+=($(((t1 - t0) / 1000)))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '
    { v[NR] = $1; s += $1 }
    END {
      printf "%8.2f %8.2f %8.2f %8.2f %8.2f\n", v[int(NR*0.5)]/1000, v[int(NR*0.9)]/1000,
        v[int(NR*0.99)]/1000, v[NR]/1000, s/NR/1000
    }'
}

printf 'load average before: %s (%s cores)\n' "$(cut -d' ' -f1-3 /proc/loadavg)" "$(nproc)"
printf '\n%-44s %8s %8s %8s %8s %8s\n' "cclive statusline (${runs} runs, ms)" p50 p90 p99 max mean
printf '%-44s %s\n' "no monitor, nothing committed since" "$(measure)"
printf '%-44s %s\n' "no monitor, a commit since (store read)" "$(measure 'touch "$CCLIVE_DB"')"
printf '%-44s %s\n' "cold: no cache from the previous run" \
  "$(measure 'rm -f "$XDG_RUNTIME_DIR"/cclive/statusline-*.json')"

"$bin" watch --listen "$CCLIVE_LISTEN" >/dev/null 2>"$work/watch.log" &
watch_pid=$!
for _ in $(seq 100); do
  curl -fs "http://$CCLIVE_LISTEN/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
printf '%-44s %s\n' "monitor running (payload POSTed, 10 ms cap)" "$(measure)"
kill "$watch_pid" && wait "$watch_pid" 2>/dev/null || true
watch_pid=""

lock=$(ls "$XDG_RUNTIME_DIR"/cclive/statusline-*.lock)
flock --no-fork "$lock" sleep 3600 &
holder_pid=$!
sleep 0.2
printf '%-44s %s\n' "lock taken by another run (cache only)" "$(measure)"
kill "$holder_pid" 2>/dev/null || true
holder_pid=""

# The process's own time, without the shell's fork and exec (from its debug log).
own=$(for _ in $(seq 50); do
  CCLIVE_LOG=cclive=debug "$bin" statusline <"$work/payload.json" 2>&1 >/dev/null |
    sed 's/\x1b\[[0-9;]*m//g' | sed -n 's/.*Status line printed.*elapsed_us=\([0-9]*\).*/\1/p'
done | sort -n | awk '{ v[NR] = $1 } END { printf "%.2f ms p50, %.2f ms max", v[int(NR/2)]/1000, v[NR]/1000 }')
printf '\ninside the process (parse to print, 50 runs): %s\n' "$own"
if command -v hyperfine >/dev/null 2>&1; then
  echo
  hyperfine --warmup 10 --runs "$runs" -N --input "$work/payload.json" "$bin statusline" 2>/dev/null ||
    hyperfine --warmup 10 --runs "$runs" "$bin statusline < $work/payload.json"
fi
