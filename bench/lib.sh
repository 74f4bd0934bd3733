#!/usr/bin/env bash
# Shared by the bench scripts (sourced, not run).

# Every server a harness starts is recorded in $PIDFILE (one process group id a line);
# the EXIT trap set here stops them all, TERM then KILL, even if the harness dies.
# Usage: bench_pidfile NAME   (sets and exports nothing; the caller passes $PIDFILE on)
bench_pidfile() {
    PIDFILE=$(mktemp "${TMPDIR:-/tmp}/fazt-$1-pids.XXXXXX")
    trap bench_cleanup EXIT
}

bench_cleanup() {
    local pgid sig
    for sig in TERM KILL; do
        while read -r pgid; do
            if [ -n "$pgid" ]; then kill -"$sig" -- "-$pgid" 2>/dev/null || true; fi
        done <"$PIDFILE"
        [ "$sig" = KILL ] || sleep 0.5
    done
    rm -f "$PIDFILE"
}
