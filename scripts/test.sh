#!/usr/bin/env bash
# The one command that runs every check and test, on a fresh machine or in CI:
# installs the test dependencies, then formatting, lints, docs, the dependency rule, and all
# tests (unit, integration, end-to-end with the real Claude Code CLI).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/test-setup.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== dependency rule: cclive-core stays pure"
if cargo tree -p cclive-core -e normal --prefix none --locked | grep -E '^(tokio|rusqlite|sqlx|axum|reqwest|ratatui|notify) '; then
  echo "cclive-core must not depend on the crates above (see ARCHITECTURE.md)" >&2
  exit 1
fi

echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== cargo doc"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --document-private-items --locked --quiet

echo "== cargo test"
cargo test --workspace --locked --no-fail-fast
