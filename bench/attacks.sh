#!/usr/bin/env bash
# fazt under the denial-of-service attacks of issue 12 (CRLF flood, pipelined
# starvation, slow bodies from one address, concurrent big uploads), each against a
# fresh fazt while a well-behaved client measures latency and failures; on demand,
# not part of the test suite or of run.sh.
#
#   bench/attacks.sh [--fazt-bin NEW] [--before-bin OLD] [harness options]
#
# Without --fazt-bin, builds fazt with `cargo build --release` (target dir
# $FAZT_TARGET_DIR, default target/; $CARGO, else lcargo if on PATH, else cargo).
# --before-bin OLD adds a "before" column (an older binary is run without the new
# flags). Attackers connect from 127.0.0.2, the client from 127.0.0.1; needs Linux,
# python3 (standard library only) and curl. ~20 s per attack and binary (~5 min for
# two binaries). Report: bench/results/attacks.md (+ attacks.json).
# Harness options: --only a,b  --duration S  --rate N  --timeout-s S  --pipeliners N
# --slow-conns N  --slow-open-rate N  --slow-bytes-per-s N  --uploads N  --upload-mb MB
# --seed N  --out FILE  --keep (see bench/README.md).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)

say() { printf '[attacks] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

FAZT_BIN=""
BEFORE_BIN=""
PASS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --fazt-bin) [ $# -ge 2 ] || die "--fazt-bin needs a path"; FAZT_BIN=$(realpath "$2"); shift 2 ;;
        --before-bin) [ $# -ge 2 ] || die "--before-bin needs a path"; BEFORE_BIN=$(realpath "$2"); shift 2 ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) PASS+=("$1"); shift ;;
    esac
done

[ "$(uname -s)" = Linux ] || die "Linux only (reads /proc, binds 127.0.0.2)"
for tool in curl python3; do
    command -v "$tool" >/dev/null || die "$tool not found"
done

if [ -z "$FAZT_BIN" ]; then
    FAZT_TARGET=${FAZT_TARGET_DIR:-$ROOT/target}
    CARGO=${CARGO:-$(command -v lcargo || echo cargo)}
    say "building fazt (release) into $FAZT_TARGET with $CARGO"
    "$CARGO" build -q --release --manifest-path "$ROOT/Cargo.toml" --target-dir "$FAZT_TARGET"
    FAZT_BIN="$FAZT_TARGET/release/fazt"
fi
[ -n "$BEFORE_BIN" ] && PASS=(--before-bin "$BEFORE_BIN" "${PASS[@]}")

# 10,000 slow connections need as many descriptors in the attacker and in the server
# (which inherits this limit). Raising the hard limit needs root; else use what it allows.
ulimit -Hn 65536 2>/dev/null || true
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge 12000 ] ||
    say "warning: open-file limit $(ulimit -n): the slow-bodies attack cannot hold 10,000 connections"

# Stops every server the harness started, whatever happens (bench/lib.sh).
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"
bench_pidfile attacks

cd "$HERE"
export PYTHONDONTWRITEBYTECODE=1  # leave no __pycache__ in the work tree
FAZT_BENCH_PIDFILE="$PIDFILE" PYTHONPATH="$HERE" python3 -m harness.attacks \
    --fazt-bin "$FAZT_BIN" --out "$HERE/results/attacks.md" "${PASS[@]}"
