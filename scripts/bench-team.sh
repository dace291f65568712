#!/usr/bin/env bash
# Team server throughput, against a baseline in the same run: N simulated agents (bounded, on
# loopback) push usage rows to a real `cclive server` on a throw-away PostgreSQL cluster for a
# fixed time; prints rows/s, p50/p99 push latency, the dashboard overview's read time and the
# database size. Baseline: the same number of rows written by one plain multi-row INSERT in psql
# (no HTTP, no JSON, no merge rule) — the ratio is what the protocol and merge cost.
#
# Then the scale phase: a team's whole history generated in the database directly (SCALE_DEVS
# developers in teams of 10 × SCALE_DAYS days up to now × SCALE_PER_DAY responses a day, one
# session a day each), and the team page's reads timed through the server at that size: the
# overview as an admin (everyone), a lead (a team of 10) and a member, and the spend report over
# the last month and the whole year; with the rows, the load rate and the database size.
# SCALE_DEVS=0 skips it. The machine's load average is printed with the figures.
#
#   scripts/bench-team.sh [AGENTS] [SECONDS] [BATCH]     (default 8 10 500; AGENTS ≤ 64)
#   PROFILE=debug scripts/bench-team.sh 2 3 100           (a quick check without a release build)
#   SCALE_DEVS=100 SCALE_DAYS=365 SCALE_PER_DAY=200 scripts/bench-team.sh   (the defaults)
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
echo "load average (1/5/15 min): $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
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

# ---- Scale: a team's year of history, generated in the database, read through the server ----
devs="${SCALE_DEVS:-100}"; days="${SCALE_DAYS:-365}"; per_day="${SCALE_PER_DAY:-200}"
[ "$devs" -gt 0 ] || exit 0
teams=$(( (devs + 9) / 10 ))
now_ms=$(( $(date +%s) * 1000 ))
day_ms=86400000
echo
echo "== scale: $devs developers (teams of 10) × $days days × $per_day responses a day"
echo "load average (1/5/15 min): $(cut -d' ' -f1-3 /proc/loadavg)"
# Only the generated history: the push phase's rows (all of today) go.
psql -d bench -c "TRUNCATE usage" >/dev/null
# A lead of the first team and one of its members (developer 1) with tokens; the others in SQL.
lead=$(run_cclive team user add lead@scale --team scale-team-1 --role lead --json | sed 's/.*"token":"\([^"]*\)".*/\1/')
member=$(run_cclive team user add dev1@scale --team scale-team-1 --json | sed 's/.*"token":"\([^"]*\)".*/\1/')
t0=$(date +%s.%N)
psql -d bench >/dev/null <<SQL
INSERT INTO teams (name, created_at_ms)
  SELECT 'scale-team-' || t, 0 FROM generate_series(1, $teams) t ON CONFLICT (name) DO NOTHING;
INSERT INTO users (email, team_id, role, created_at_ms)
  SELECT 'dev' || d || '@scale', tm.id, 'member', 0
  FROM generate_series(2, $devs) d
  JOIN teams tm ON tm.name = 'scale-team-' || (1 + (d - 1) / 10);
INSERT INTO machines (id, user_id, hostname, agent_version, acked_seq, outbox_head,
                      first_seen_ms, last_contact_ms)
  SELECT 'scale-m-' || u.id, u.id, 'laptop-' || u.id, 'bench', 0, 0, 0, $now_ms
  FROM users u WHERE u.email LIKE 'dev%@scale';
INSERT INTO sessions (machine_id, session_id, user_id, revision, status, mode, source,
    started_at_ms, updated_at_ms, ended_at_ms, project, cwd, model, waiting_for, total_cost_usd,
    cost_source, duration_ms, duration_api_ms, num_turns, tokens_input, tokens_output,
    tokens_cache_read, tokens_cache_creation, api_requests, claude_version, received_at_ms)
  SELECT 'scale-m-' || u.id, 'scale-s-' || u.id || '-' || d, u.id, 1, 'COMPLETED', 'interactive',
    'transcript', $now_ms - d * $day_ms::BIGINT - 3600000, $now_ms - d * $day_ms::BIGINT,
    $now_ms - d * $day_ms::BIGINT, '/work/project-' || (u.id % 7), '/work/project-' || (u.id % 7),
    'claude-sonnet-4-5', NULL, 1.0, 'estimated', 3600000, 1800000, 20, 0, 0, 0, 0, $per_day,
    '2.1.332', $now_ms
  FROM users u CROSS JOIN generate_series(0, $days - 1) d WHERE u.email LIKE 'dev%@scale';
INSERT INTO usage (message_id, user_id, machine_id, session_id, first_seen_ms, model, input,
    output, cache_read, cache_creation, sidechain, cache_creation_1h, web_search_requests)
  SELECT 'scale_' || u.id || '_' || d || '_' || r, u.id, 'scale-m-' || u.id,
    'scale-s-' || u.id || '-' || d,
    $now_ms - d * $day_ms::BIGINT - 3600000 + r * 1000,
    (ARRAY['claude-sonnet-4-5', 'claude-opus-4-1', 'claude-haiku-4-5'])[1 + r % 3],
    1200 + r, 300 + r % 50, 20000 + r * 10, 500, r % 5 = 0, CASE WHEN r % 4 = 0 THEN 500 ELSE 0 END,
    CASE WHEN r % 50 = 0 THEN 1 ELSE 0 END
  FROM users u CROSS JOIN generate_series(0, $days - 1) d CROSS JOIN generate_series(1, $per_day) r
  WHERE u.email LIKE 'dev%@scale';
ANALYZE;
SQL
t1=$(date +%s.%N)
scale_rows=$(psql -d bench -c "SELECT count(*) FROM usage WHERE message_id LIKE 'scale_%'")
# The median of 5 timed reads (after one to warm the caches), in ms.
timed() {
  local token="$1" path="$2" times=()
  curl -sf -o /dev/null -H "Authorization: Bearer $token" "http://127.0.0.1:$port$path"
  for _ in 1 2 3 4 5; do
    times+=("$(curl -sf -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $token" \
      "http://127.0.0.1:$port$path")")
  done
  printf '%s\n' "${times[@]}" | sort -n | sed -n 3p | awk '{printf "%.0f", $1 * 1000}'
}
month_ago=$(( now_ms - 30 * day_ms ))
year_ago=$(( now_ms - 365 * day_ms ))
printf '%-34s %12s\n' "usage rows (scale)" "$scale_rows"
printf '%-34s %12s\n' "sessions (scale)" "$(psql -d bench -c "SELECT count(*) FROM sessions")"
printf '%-34s %12.0f\n' "bulk load (SQL), rows/s" "$(echo "$scale_rows / ($t1 - $t0)" | bc -l)"
printf '%-34s %12s\n' "overview as admin (all), ms" "$(timed "$admin" /api/team/v1/overview)"
printf '%-34s %12s\n' "overview as lead (10 devs), ms" "$(timed "$lead" /api/team/v1/overview)"
printf '%-34s %12s\n' "overview as member (1 dev), ms" "$(timed "$member" /api/team/v1/overview)"
printf '%-34s %12s\n' "spend, last 30 days (all), ms" "$(timed "$admin" "/api/team/v1/spend?since_ms=$month_ago")"
printf '%-34s %12s\n' "spend, last 365 days (all), ms" "$(timed "$admin" "/api/team/v1/spend?since_ms=$year_ago")"
printf '%-34s %12s\n' "database size" "$(psql -d bench -c "SELECT pg_size_pretty(pg_database_size('bench'))")"
printf '%-34s %12s\n' "usage table + indexes" "$(psql -d bench -c "SELECT pg_size_pretty(pg_total_relation_size('usage'))")"
echo "load average (1/5/15 min): $(cut -d' ' -f1-3 /proc/loadavg)"
