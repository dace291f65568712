#!/usr/bin/env bash
# Every speed figure of cclive in one run, against baselines measured in the same run:
# cat (the I/O floor) and ccusage 20 (pinned to 20.0.24) on the same page-cached corpus from
# the shared generator, in interleaved rounds; prints medians, min–max and ratios, plus the
# load average (see scripts/bench.py for the rows). Nothing is asserted.
#
#   scripts/bench.sh [SIZE_MB] [ROUNDS]     (defaults 1024 and 5; the corpus is cached)
set -euo pipefail
cd "$(dirname "$0")/.."

size_mb="${1:-1024}"
rounds="${2:-5}"
cache="${CCLIVE_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cclive-bench}"
corpus="$cache/corpus-${size_mb}mb"
shared="$(cd .. && pwd)/shared"
[ -f "$shared/tools/gen_corpus.py" ] || shared=/work/shared

if [ ! -f "$corpus/ground-truth.json" ]; then
  echo "generating a ${size_mb} MB corpus into $corpus (once)…"
  rm -rf "$corpus"
  python3 "$shared/tools/gen_corpus.py" --out "$corpus" --size-mb "$size_mb" \
    --sessions $((size_mb * 2 + 50)) --projects 40 --seed 42 \
    --end-date "$(date -u +%Y-%m-%d)" --days 120 >/dev/null
fi
ccusage_dir="$cache/ccusage-20.0.24"
if [ ! -x "$ccusage_dir/node_modules/.bin/ccusage" ]; then
  echo "installing ccusage@20.0.24 into $ccusage_dir (once)…"
  npm install --prefix "$ccusage_dir" --no-audit --no-fund --loglevel=error ccusage@20.0.24 >/dev/null
fi
cargo build --release --locked --quiet
exec python3 scripts/bench.py --bin "$PWD/target/release/cclive" \
  --ccusage "$ccusage_dir/node_modules/.bin/ccusage" --corpus "$corpus" --rounds "$rounds"
