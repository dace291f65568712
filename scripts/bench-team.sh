#!/usr/bin/env bash
# Team server throughput, against a baseline in the same run: N simulated agents (bounded, on
# loopback) push usage rows to a real `cclive server` on a throw-away PostgreSQL cluster for a
# fixed time; prints rows/s, p50/p99 push latency, the dashboard overview's read time and the
# database size. Baseline: the same number of rows written by one plain multi-row INSERT in psql
# (no HTTP, no JSON, no merge rule) — the ratio is what the protocol and merge cost.
#
#   scripts/bench-team.sh [AGENTS] [SECONDS] [BATCH]     (default 8 10 500; AGENTS ≤ 64)
#   PROFILE=debug scripts/bench-team.sh 2 3 100           (a quick check without a release build)
set -euo pipefail
cd "$(dirname "$0")/.."

agents="${1:-8}"; seconds="${2:-10}"; batch="${3:-500}"
[ "$agents" -ge 1 ] && [ "$agents" -le 64 ] || { echo "AGENTS must be 1..64" >&2; exit 2; }
profile="${PROFILE:-release}"
if [ "$profile" = release ]; then
  cargo build --release --locked --quiet --bin cclive --example team_bench
else
  cargo build --locked --quiet --bin cclive --example team_bench
fi
bin="$PWD/target/$profile/cclive"
bench="$PWD/target/$profile/examples/team_bench"

pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$pgbin/initdb" ] || { echo "PostgreSQL missing: run scripts/test-setup.sh" >&2; exit 1; }
work="$(mktemp -d)"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres: "$work"
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  as_pg "$pgbin/pg_ctl" -D "$work/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
as_pg "$pgbin/initdb" -D "$work/data" -U cclive --auth=trust -E UTF8 --no-locale --no-sync >/dev/null
as_pg "$pgbin/pg_ctl" -D "$work/data" -l "$work/pg.log" -w \
  -o "-k $work -p 5432 -c listen_addresses='' -c fsync=off -c synchronous_commit=off" start >/dev/null
psql() { "$pgbin/psql" -X -q -t -A -h "$work" -p 5432 -U cclive "$@"; }
psql -d postgres -c "CREATE DATABASE bench" >/dev/null
export CCLIVE_DATABASE_URL="host=$work port=5432 user=cclive dbname=bench"
home="$work/home"; mkdir -p "$home"
run_cclive() { HOME="$home" XDG_CONFIG_HOME="$home/.config" "$bin" "$@"; }

admin=$(run_cclive team user add admin@bench --team bench --role admin --json | sed 's/.*"token":"\([^"]*\)".*/\1/')
tokens=()
for i in $(seq 1 "$agents"); do
  tokens+=("$(run_cclive team user add "dev$i@bench" --team bench --json | sed 's/.*"token":"\([^"]*\)".*/\1/')")
done
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
HOME="$home" XDG_CONFIG_HOME="$home/.config" "$bin" server --listen "127.0.0.1:$port" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 200); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done

echo "== $agents agents × ${seconds}s, batches of $batch usage rows ($profile build)"
out=$("$bench" "http://127.0.0.1:$port" "$seconds" "$batch" "$admin" "${tokens[@]}")
get() { echo "$out" | sed -n "s/^$1=//p"; }
rows=$(get rows)

# Baseline: the same row count in one plain INSERT … SELECT (no protocol, no merge rule).
psql -d bench -c "CREATE TABLE baseline (message_id TEXT PRIMARY KEY, user_id BIGINT, machine_id TEXT,
  session_id TEXT, first_seen_ms BIGINT, model TEXT, input BIGINT, output BIGINT, cache_read BIGINT,
  cache_creation BIGINT, sidechain BOOLEAN)" >/dev/null
t0=$(date +%s.%N)
psql -d bench -c "INSERT INTO baseline SELECT 'msg_'||g, 1, 'm', 's'||(g/500), g, 'claude-sonnet-4-5',
  1200, 300, 20000, 500, false FROM generate_series(1, $rows) g" >/dev/null
t1=$(date +%s.%N)
base_rps=$(echo "$rows / ($t1 - $t0)" | bc -l)
psql -d bench -c "DROP TABLE baseline" >/dev/null
size=$(psql -d bench -c "SELECT pg_size_pretty(pg_database_size('bench'))")
usage_rows=$(psql -d bench -c "SELECT count(*) FROM usage")

printf '%-34s %12s\n' "rows pushed (stored)" "$rows ($usage_rows)"
printf '%-34s %12s\n' "push throughput, rows/s" "$(get rows_per_s)"
printf '%-34s %12.0f\n' "baseline plain INSERT, rows/s" "$base_rps"
printf '%-34s %12.2f\n' "ratio push / plain INSERT" "$(echo "$(get rows_per_s) / $base_rps" | bc -l)"
printf '%-34s %12s\n' "pushes" "$(get pushes)"
printf '%-34s %12s\n' "push latency p50, ms" "$(get push_p50_ms)"
printf '%-34s %12s\n' "push latency p99, ms" "$(get push_p99_ms)"
printf '%-34s %12s\n' "dashboard overview p50, ms" "$(get overview_p50_ms)"
printf '%-34s %12s\n' "dashboard overview max, ms" "$(get overview_max_ms)"
printf '%-34s %12s\n' "database size" "$size"
