#!/usr/bin/env bash
# fazt soak (issue 12): one fazt process under mixed traffic for a long time,
# sampling its RSS; on demand, not part of the test suite or of run.sh.
#
#   bench/soak.sh [--minutes N] [--fazt-bin PATH] [harness options]
#
# --minutes N (default 30). Without --fazt-bin, builds fazt with
# `cargo build --release` (target dir $FAZT_TARGET_DIR, default target/).
# Traffic: static GETs, the Counter main.js, a deploy every 15 s, slow-drip
# and other hostile clients; all on 127.0.0.1. Needs python3 (standard
# library only) and curl. Report: bench/results/soak.md (+ soak.json).
# Harness options: --warmup-s S  --sample-s S  --probe-ms MS  --static-conns N
# --deploy-every S  --slow-drip N  --seed N  --out FILE  --keep (see bench/README.md).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)

say() { printf '[soak] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

FAZT_BIN=""
PASS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --fazt-bin) [ $# -ge 2 ] || die "--fazt-bin needs a path"; FAZT_BIN=$(realpath "$2"); shift 2 ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) PASS+=("$1"); shift ;;
    esac
done

[ "$(uname -s)" = Linux ] || die "Linux only (reads /proc)"
for tool in curl python3; do
    command -v "$tool" >/dev/null || die "$tool not found"
done

if [ -z "$FAZT_BIN" ]; then
    FAZT_TARGET=${FAZT_TARGET_DIR:-$ROOT/target}
    say "building fazt (release) into $FAZT_TARGET"
    cargo build -q --release --manifest-path "$ROOT/Cargo.toml" --target-dir "$FAZT_TARGET"
    FAZT_BIN="$FAZT_TARGET/release/fazt"
fi

# The slow-drip and flood clients hold many sockets.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# Stops every server the harness started, whatever happens (bench/lib.sh).
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"
bench_pidfile soak

cd "$HERE"
export PYTHONDONTWRITEBYTECODE=1  # leave no __pycache__ in the work tree
FAZT_BENCH_PIDFILE="$PIDFILE" PYTHONPATH="$HERE" python3 -m harness.soak \
    --fazt-bin "$FAZT_BIN" --out "$HERE/results/soak.md" "${PASS[@]}"
