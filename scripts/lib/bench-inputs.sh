# Sourced by the bench scripts: the shared generator's corpus and the pinned ccusage, each made
# once into the bench cache and reused.
#   bench_corpus NAME SIZE_MB [gen_corpus.py options…]   → sets $corpus
#   bench_recent_corpus SIZE_MB                          → sets $corpus (ends today)
#   bench_ccusage                                        → sets $ccusage (the executable)
bench_cache="${CCLIVE_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cclive-bench}"

bench_corpus() {
  local name="$1" size_mb="$2"
  shift 2
  local shared
  shared="$(cd .. && pwd)/shared"
  [ -f "$shared/tools/gen_corpus.py" ] || shared=/work/shared
  corpus="$bench_cache/$name"
  if [ ! -f "$corpus/ground-truth.json" ]; then
    echo "generating a ${size_mb} MB corpus into $corpus (once)…"
    rm -rf "$corpus"
    python3 "$shared/tools/gen_corpus.py" --out "$corpus" --size-mb "$size_mb" \
      --sessions $((size_mb * 2 + 50)) --projects 40 "$@" >/dev/null
  fi
}

# A corpus that ends today (the 120-day cost query and "today" need recent data), one a day.
bench_recent_corpus() {
  local today
  today="$(date -u +%Y-%m-%d)"
  bench_corpus "recent-corpus-${1}mb-$today" "$1" --seed 42 --end-date "$today" --days 120
}

bench_ccusage() {
  local dir="$bench_cache/ccusage-20.0.24"
  if [ ! -x "$dir/node_modules/.bin/ccusage" ]; then
    echo "installing ccusage@20.0.24 into $dir (once)…"
    npm install --prefix "$dir" --no-audit --no-fund --loglevel=error ccusage@20.0.24 >/dev/null
  fi
  ccusage="$dir/node_modules/.bin/ccusage"
}
