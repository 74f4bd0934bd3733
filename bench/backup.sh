#!/usr/bin/env bash
# fazt backups (issue 14): serving and Counter latency while `fazt backup` snapshots a
# ~200 MB database (and variants: nice 19, spaced, into tmpfs; a CPU-hog control), the
# GET /api/system/backup download, WAL growth under a slow reader, and the in-process
# comparison of VACUUM INTO with SQLite's online backup API
# (kernel/examples/snapshot_methods.rs); on demand, not part of the test suite or of run.sh.
#
#   bench/backup.sh [--fazt-bin PATH] [--methods-bin PATH] [--methods-args "..."]
#                   [--no-methods] [harness options]
#
# Without --fazt-bin / --methods-bin, builds fazt and the example with `cargo build
# --release` (target dir $FAZT_TARGET_DIR, default target/; $CARGO, default cargo). Where
# builds are serialised by a lock, build first and run the measurement under that lock with
# both binaries given. All on 127.0.0.1; needs Linux, python3 (standard library only) and
# curl; ~1 GB of scratch in $TMPDIR and 200 MB in /dev/shm; ~6 min.
# Report: bench/results/backup.md (+ backup.json).
# Harness options: --db-mb MB  --site-mb MB  --window-s S  --warmup-s S  --probe-ms MS
# --load-conns N  --load-ms MS  --counter-ms MS  --gap-s S  --slow-s S  --slow-rate B
# --pin-s S  --no-api  --no-variants  --seed N  --out FILE  --keep (see bench/README.md).
# Example options, one string: --methods-args "--mb 200 --pages 1024 --repeat 3".
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)

say() { printf '[backup] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

FAZT_BIN=""
METHODS_BIN=""
METHODS=1
METHODS_ARGS=""
OUT="$HERE/results/backup.md"
PASS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --fazt-bin) [ $# -ge 2 ] || die "--fazt-bin needs a path"; FAZT_BIN=$(realpath "$2"); shift 2 ;;
        --methods-bin) [ $# -ge 2 ] || die "--methods-bin needs a path"; METHODS_BIN=$(realpath "$2"); shift 2 ;;
        --methods-args) [ $# -ge 2 ] || die "--methods-args needs a string"; METHODS_ARGS=$2; shift 2 ;;
        --no-methods) METHODS=0; shift ;;
        --out) [ $# -ge 2 ] || die "--out needs a path"; OUT=$(realpath -m "$2"); shift 2 ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) PASS+=("$1"); shift ;;
    esac
done

[ "$(uname -s)" = Linux ] || die "Linux only (reads /proc)"
for tool in curl python3; do
    command -v "$tool" >/dev/null || die "$tool not found"
done

FAZT_TARGET=${FAZT_TARGET_DIR:-$ROOT/target}
CARGO=${CARGO:-cargo}
if [ -z "$FAZT_BIN" ]; then
    say "building fazt (release) into $FAZT_TARGET with $CARGO"
    "$CARGO" build -q --release --manifest-path "$ROOT/Cargo.toml" --target-dir "$FAZT_TARGET"
    FAZT_BIN="$FAZT_TARGET/release/fazt"
fi
if [ "$METHODS" = 1 ] && [ -z "$METHODS_BIN" ]; then
    say "building kernel/examples/snapshot_methods.rs (release) with $CARGO"
    "$CARGO" build -q --release --manifest-path "$ROOT/Cargo.toml" --target-dir "$FAZT_TARGET" \
        -p fazt-kernel --example snapshot_methods
    METHODS_BIN="$FAZT_TARGET/release/examples/snapshot_methods"
fi

# Stops every server the harness started, whatever happens (bench/lib.sh).
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"
bench_pidfile backup

# The example makes and removes its databases in $SCRATCH and leaves its figures there,
# for the harness to put into the report; removed on exit, whatever happens.
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/fazt-snapshot-methods.XXXXXX")
trap 'bench_cleanup; rm -rf "$SCRATCH"' EXIT
METHODS_JSON=()
if [ "$METHODS" = 1 ]; then
    say "in-process comparison: $METHODS_BIN"
    # shellcheck disable=SC2086 # METHODS_ARGS is a list of options on purpose
    "$METHODS_BIN" --dir "$SCRATCH" --json "$SCRATCH/methods.json" $METHODS_ARGS >&2
    METHODS_JSON=(--methods-json "$SCRATCH/methods.json")
fi

cd "$HERE"
export PYTHONDONTWRITEBYTECODE=1  # leave no __pycache__ in the work tree
FAZT_BENCH_PIDFILE="$PIDFILE" PYTHONPATH="$HERE" python3 -m harness.backup \
    --fazt-bin "$FAZT_BIN" --out "$OUT" "${METHODS_JSON[@]}" "${PASS[@]}"
