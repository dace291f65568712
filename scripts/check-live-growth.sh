#!/usr/bin/env bash
# Following a growing history live gives what one import gives (see scripts/check-live-growth.py):
# the shared generator's corpus written in steps while `cclive watch` follows it, compared with
# an import of the same files after each step. Exits 1 when anything differs.
#
#   scripts/check-live-growth.sh [SIZE_MB] [STEPS]     (defaults 100 and 6; the corpus is cached)
set -euo pipefail
cd "$(dirname "$0")/.."

size_mb="${1:-100}"
steps="${2:-6}"
. scripts/lib/bench-inputs.sh
bench_recent_corpus "$size_mb"
cargo build --release --locked --quiet
exec python3 scripts/check-live-growth.py --bin "$PWD/target/release/cclive" \
  --corpus "$corpus" --steps "$steps"
