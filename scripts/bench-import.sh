#!/usr/bin/env bash
# Import speed, measured against baselines on the same files in the same run:
#   cat of the bytes (the I/O floor), ccusage 20 (pinned to 20.0.24, the newest 20.x whose native
#   binary is published for linux-x64) (`ccusage daily --json --offline`, the fastest
#   tool people use today, which re-parses everything every run), cclive import cold, and a
#   second cclive import of the unchanged files. Prints wall times, MB/s, peak memory, ratios.
#
#   scripts/bench-import.sh [SIZE_MB]     (default 1024; the corpus is cached between runs)
set -euo pipefail
cd "$(dirname "$0")/.."

size_mb="${1:-1024}"
. scripts/lib/bench-inputs.sh
bench_corpus "corpus-${size_mb}mb" "$size_mb" --seed 42
bench_ccusage
cargo build --release --locked --quiet

bin="$PWD/target/release/cclive"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
bytes=$(du -sb "$corpus/projects" | cut -f1)
mb=$(echo "$bytes / 1048576" | bc -l)

# Runs a command, prints "seconds maxrss_kb".
measure() {
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" >/dev/null 2>"$work/stderr" || {
    cat "$work/stderr" >&2
    return 1
  }
  cat "$work/time"
}

# Page-cache the corpus first, so every tool reads from memory.
find "$corpus/projects" -type f -name '*.jsonl' -print0 | xargs -0 cat >/dev/null

read -r t_cat m_cat < <(measure bash -c "find '$corpus/projects' -type f -name '*.jsonl' -print0 | xargs -0 cat")
read -r t_cc m_cc < <(measure env CLAUDE_CONFIG_DIR="$corpus" "$ccusage" daily --json --offline)
export CLAUDE_CONFIG_DIR="$corpus" CCLIVE_DB="$work/bench.db" XDG_DATA_HOME="$work"
read -r t_cold m_cold < <(measure "$bin" import --quiet)
read -r t_warm m_warm < <(measure "$bin" import --quiet)

printf '\ncorpus: %.0f MB in %s files (%s)\n\n' "$mb" "$(find "$corpus/projects" -name '*.jsonl' | wc -l)" "$corpus"
printf '%-28s %9s %10s %12s\n' "" "wall s" "MB/s" "peak MB"
row() { printf '%-28s %9.3f %10.0f %12.1f\n' "$1" "$2" "$(echo "$mb / ($2 + 0.0001)" | bc -l)" "$(echo "$3 / 1024" | bc -l)"; }
row "cat (I/O floor)" "$t_cat" "$m_cat"
row "ccusage 20 daily --offline" "$t_cc" "$m_cc"
row "cclive import (cold)" "$t_cold" "$m_cold"
row "cclive import (unchanged)" "$t_warm" "$m_warm"
printf '\ncold import vs ccusage: %.2fx the time, %.2fx the memory (targets: <= 1, < 1)\n' \
  "$(echo "$t_cold / $t_cc" | bc -l)" "$(echo "$m_cold / $m_cc" | bc -l)"
printf 'second import: %.0f ms (target: < 50 ms)\n' "$(echo "$t_warm * 1000" | bc -l)"
