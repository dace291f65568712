#!/usr/bin/env bash
# Every speed figure of cclive in one run, against baselines measured in the same run:
# cat (the I/O floor) and ccusage 20 (pinned to 20.0.24) on the same page-cached corpus from
# the shared generator, in interleaved rounds; prints medians, min–max and ratios, plus the
# load average (see scripts/bench.py for the rows). Nothing is asserted.
#
#   scripts/bench.sh [SIZE_MB] [ROUNDS]     (defaults 1024 and 5; the corpus is cached)
#
# CCLIVE_BASELINE=/path/to/another/cclive times that build's imports and status line in the
# same rounds, side by side (ratios this build / baseline).
set -euo pipefail
cd "$(dirname "$0")/.."

size_mb="${1:-1024}"
rounds="${2:-5}"
. scripts/lib/bench-inputs.sh
bench_recent_corpus "$size_mb"
bench_ccusage
cargo build --release --locked --quiet
exec python3 scripts/bench.py --bin "$PWD/target/release/cclive" \
  --ccusage "$ccusage" --corpus "$corpus" --rounds "$rounds" \
  ${CCLIVE_BASELINE:+--baseline "$CCLIVE_BASELINE"}
