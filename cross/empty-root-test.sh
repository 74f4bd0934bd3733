#!/usr/bin/env bash
# The "scratch property": fazt runs from a root directory that holds nothing
# but the binary and an empty /data — no /etc (passwd, resolv.conf, CA
# certificates), no /tmp, no /proc, no /dev, no shell or libc — as an
# unprivileged uid, like the `FROM scratch` Docker image (which adds /proc
# and /dev, so this is stricter).
#
#   cross/empty-root-test.sh BINARY
#
# BINARY must be a static build for this machine (e.g.
# target/dist/fazt-x86_64-unknown-linux-musl). The server runs chrooted
# (through a user namespace when not root) on 127.0.0.1 in the host's network
# namespace, as uid:gid 65532:65532 (root when unprivileged); the script curls
# /health and the start page, runs `fazt healthcheck` inside the root (the
# Docker HEALTHCHECK) and `fazt backup` into /data and to stdout while it
# serves, then stops the server with SIGTERM, expects a clean exit and a
# database in /data, and restores the snapshot (no /tmp needed for any of it).
set -euo pipefail

# shellcheck source=cross/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

(($# == 1)) || die "usage: $0 BINARY"
bin="$1"
[[ -f "$bin" ]] || die "$bin does not exist"
check_static "$bin"
command -v curl >/dev/null 2>&1 || apt_install curl

readonly USERSPEC=65532:65532
root_dir="$(mktemp -d "${TMPDIR:-/tmp}/fazt-empty-root.XXXXXX")"
log_file="$(mktemp "${TMPDIR:-/tmp}/fazt-empty-root-log.XXXXXX")"
server_pid=""
cleanup() {
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -KILL "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$root_dir" "$log_file"
}
trap cleanup EXIT

fail() {
    printf '\033[1;31m[empty-root] FAIL:\033[0m %s\n' "$*" >&2
    echo "----- server log -----" >&2
    tail -n 40 "$log_file" >&2 || true
    echo "----- root contents -----" >&2
    (cd "$root_dir" && find . -printf '%M %u:%g %p\n') >&2 || true
    exit 1
}

cp "$bin" "$root_dir/fazt"
chmod 0755 "$root_dir/fazt" "$root_dir"
mkdir "$root_dir/data"

# in_root: the command prefix that runs a program inside the empty root,
# unprivileged. Every link execs the next (no --fork), so the PID we start is
# fazt's own and SIGTERM reaches it directly.
if [[ "$(id -u)" == 0 ]]; then
    chown "$USERSPEC" "$root_dir/data"
    in_root=(chroot --userspec="$USERSPEC" "$root_dir")
    who="uid:gid $USERSPEC"
else
    # chroot needs CAP_SYS_CHROOT: take it in a fresh user namespace.
    in_root=(unshare --user --map-root-user --mount chroot "$root_dir")
    who="namespace root (not privileged on the host)"
fi

log "root contains: $(cd "$root_dir" && find . -mindepth 1 | sort | tr '\n' ' ')"
log "running $bin chrooted as $who"

"${in_root[@]}" /fazt serve --db /data/fazt.db --listen 127.0.0.1:0 >"$log_file" 2>&1 &
server_pid=$!
addr="$(logged_addr "$log_file" "$server_pid" "listening on" 30 2>"$log_file.wait")" ||
    fail "$(cat "$log_file.wait")"
log "ok: listening on $addr"

get() { # HOST PATH -> sets status, body
    status="$(curl -sS -o "$log_file.body" -w '%{http_code}' --max-time 20 -H "Host: $1" "http://$addr$2")" ||
        fail "curl http://$addr$2 (Host $1) failed"
    body="$(cat "$log_file.body")"
    rm -f "$log_file.body"
}

get localhost /health
[[ "$status" == 200 && "$body" == *ok* ]] || fail "/health: HTTP $status: ${body:0:300}"
log "ok: /health -> $status $body"

get localhost /
[[ "$status" == 200 ]] || fail "start page: HTTP $status: ${body:0:300}"
[[ "$body" == *"<"*">"* ]] || fail "start page is not HTML: ${body:0:300}"
log "ok: start page -> HTTP $status, ${#body} bytes"

hc="$("${in_root[@]}" /fazt healthcheck --listen "$addr" 2>&1)" || fail "fazt healthcheck inside the root failed: $hc"
log "ok: fazt healthcheck inside the root -> $hc"

bk="$("${in_root[@]}" /fazt backup --db /data/fazt.db --to /data/snap.db 2>&1)" ||
    fail "fazt backup inside the root failed: $bk"
[[ -s "$root_dir/data/snap.db" ]] || fail "no /data/snap.db after: $bk"
log "ok: $bk"
"${in_root[@]}" /fazt backup --db /data/fazt.db --to - >"$log_file.piped" 2>"$log_file.err" ||
    fail "fazt backup --to - inside the root failed: $(cat "$log_file.err")"
[[ "$(head -c 15 "$log_file.piped")" == "SQLite format 3" ]] || fail "--to - wrote no database"
rm -f "$log_file.piped" "$log_file.err"
log "ok: fazt backup --to - streams a database"

kill -TERM "$server_pid"
rc=0
wait "$server_pid" || rc=$?
server_pid=""
((rc == 0)) || fail "serve exited with status $rc after SIGTERM"
[[ -s "$root_dir/data/fazt.db" ]] || fail "/data/fazt.db was not created"
log "ok: SIGTERM -> clean exit; /data holds: $(find "$root_dir/data" -mindepth 1 -printf '%f ')"
rs="$("${in_root[@]}" /fazt restore /data/snap.db --db /data/fazt.db 2>&1)" || fail "fazt restore inside the root failed: $rs"
log "ok: restore -> $(echo "$rs" | tr '\n' ' ')"
echo "empty-root: 1 passed, 0 failed"
