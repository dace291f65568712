#!/usr/bin/env bash
# What team mode's outbox costs a write-heavy run, measured against a baseline in the same run:
# `cclive import` (cold) of the same corpus into a database without the outbox triggers at all
# (the baseline: the schema before 0004_team_outbox), into one with them but team mode off (what
# every user without team mode runs: the triggers only look up one tiny table), and into one
# with team mode on (every session, usage row and event also queued in the same transaction).
# Prints wall times, the ratios to the baseline and the queued rows.
#
#   scripts/bench-outbox.sh [SIZE_MB]     (default 256; the corpus is cached between runs)
set -euo pipefail
cd "$(dirname "$0")/.."

size_mb="${1:-256}"
runs="${RUNS:-3}"
. scripts/lib/bench-inputs.sh
bench_corpus "corpus-${size_mb}mb" "$size_mb" --seed 42
cargo build --release --locked --quiet
bin="$PWD/target/release/cclive"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
find "$corpus/projects" -type f -name '*.jsonl' -print0 | xargs -0 cat >/dev/null

# A database with the schema and, when $2 is "on", team mode turned on (as `--upstream` does).
prepare() {
  rm -f "$1"*
  mkdir -p "$work/empty"
  CLAUDE_CONFIG_DIR="$work/empty" CCLIVE_DB="$1" "$bin" import --quiet >/dev/null
  if [ "$2" = none ]; then
    python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); [c.execute('DROP TRIGGER ' + n) for (n,) in c.execute(\"SELECT name FROM sqlite_schema WHERE type = 'trigger' AND name LIKE 'outbox_%'\").fetchall()]; c.commit()" "$1"
  fi
  if [ "$2" = on ]; then
    python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(\"INSERT INTO team_agent (id, machine_id, enabled) VALUES (1, 'bench', 1)\"); c.commit()" "$1"
  fi
}

# Imports the corpus into $1; prints the wall seconds.
import() {
  /usr/bin/time -f "%e" -o "$work/time" env CLAUDE_CONFIG_DIR="$corpus" CCLIVE_DB="$1" \
    "$bin" import --quiet >/dev/null 2>"$work/stderr" || { cat "$work/stderr" >&2; return 1; }
  cat "$work/time"
}

best_none=999999; best_off=999999; best_on=999999
for _ in $(seq "$runs"); do
  prepare "$work/none.db" none; t=$(import "$work/none.db")
  best_none=$(echo "if ($t < $best_none) $t else $best_none" | bc -l)
  prepare "$work/off.db" off; t=$(import "$work/off.db")
  best_off=$(echo "if ($t < $best_off) $t else $best_off" | bc -l)
  prepare "$work/on.db" on; t=$(import "$work/on.db")
  best_on=$(echo "if ($t < $best_on) $t else $best_on" | bc -l)
done
queued=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT count(*) FROM outbox').fetchone()[0])" "$work/on.db")

printf '\ncorpus: %s MB (%s), best of %s runs each\n\n' "$size_mb" "$corpus" "$runs"
printf '%-40s %9s %8s\n' "" "wall s" "ratio"
printf '%-40s %9.3f %8.2f\n' "import, no outbox triggers (baseline)" "$best_none" 1
printf '%-40s %9.3f %8.2f\n' "import, team mode off" "$best_off" "$(echo "$best_off / $best_none" | bc -l)"
printf '%-40s %9.3f %8.2f\n' "import, team mode on (outbox)" "$best_on" "$(echo "$best_on / $best_none" | bc -l)"
printf '\noutbox rows queued with team mode on: %s\n' "$queued"
