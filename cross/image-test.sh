#!/usr/bin/env bash
# Builds fazt's scratch image from a shipped binary (cross/Dockerfile.dist,
# with podman: no Docker engine and no registry are needed) and runs it for
# real, asserting that:
#   1. it serves: GET /health on a published loopback port answers 200;
#   2. the image's HEALTHCHECK (/fazt healthcheck) passes;
#   3. a deploy survives a container restart on a named volume, and a new
#      container on that volume, byte for byte;
#   4. it runs as uid:gid 65532:65532 with a read-only root filesystem;
#   5. `fazt backup` works inside it and leaves a valid SQLite snapshot on
#      the volume.
# Each prints one PASS/FAIL line; a failure exits 1 with the container logs.
#
#   cross/image-test.sh BINARY
#
# BINARY is a static build for this machine's CPU, e.g.
# target/dist/fazt-x86_64-unknown-linux-musl (cross/build.sh). Installs podman
# and runc (Debian) and writes /etc/containers/containers.conf when missing;
# every container, volume and image it makes is removed on exit, and ones left
# by an earlier run that was killed are removed at the start.
set -euo pipefail

# shellcheck source=cross/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

(($# == 1)) || die "usage: $0 BINARY"
bin="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
[[ -f "$bin" ]] || die "$bin does not exist"
check_static "$bin"
dockerfile="$(fazt_crate_dir)/cross/Dockerfile.dist"
[[ -f "$dockerfile" ]] || die "no $dockerfile"
readonly EXPECT_USER=65532

start_s=$SECONDS
apt_install podman runc curl sqlite3

# Without an empty default_ulimits every container start fails on setrlimit
# here; only write the file when there is none, never edit someone's own.
conf=/etc/containers/containers.conf
if [[ ! -e "$conf" ]]; then
    log "writing $conf (default_ulimits = [])"
    as_root mkdir -p /etc/containers
    printf '%s\n' '# Written by fazt cross/image-test.sh: no default ulimits (setrlimit fails here).' \
        '[containers]' 'default_ulimits = []' | as_root tee "$conf" >/dev/null
elif ! grep -q '^[[:space:]]*default_ulimits' "$conf"; then
    warn "$conf sets no default_ulimits; if containers fail to start on setrlimit, add 'default_ulimits = []' under [containers]"
fi

# runc, not the default crun ("cgroups in hybrid mode not supported" here).
pm() { as_root podman --runtime runc "$@"; }

# Names carry our PID, so that concurrent runs do not collide and leftovers of
# a killed run (its PID gone) can be told apart from a live run's.
readonly PREFIX=fazt-image-test
name="$PREFIX-$$"
image="localhost/$PREFIX:$$"
volume="$name-data"
ctr="" # the container currently running
work="$(mktemp -d "${TMPDIR:-/tmp}/$PREFIX-$$.XXXXXX")"

stale_pid() { # NAME -> status 0 if NAME is PREFIX-PID… or PREFIX:PID… and that run is gone
    local pid="${1##*"$PREFIX"[-:]}"
    pid="${pid%%[!0-9]*}"
    [[ -n "$pid" && "$pid" != "$$" ]] && ! kill -0 "$pid" 2>/dev/null
}
sweep_stale() {
    local n
    while read -r n; do
        [[ -n "$n" ]] && stale_pid "$n" && pm rm -f -t 0 "$n" >/dev/null 2>&1 && log "removed stale container $n"
    done < <(pm ps -a --filter "name=^$PREFIX-" --format '{{.Names}}' 2>/dev/null)
    while read -r n; do
        [[ -n "$n" ]] && stale_pid "$n" && pm volume rm -f "$n" >/dev/null 2>&1 && log "removed stale volume $n"
    done < <(pm volume ls --filter "name=$PREFIX-" --format '{{.Name}}' 2>/dev/null)
    while read -r n; do
        [[ -n "$n" ]] && stale_pid "$n" && pm rmi -f "$n" >/dev/null 2>&1 && log "removed stale image $n"
    done < <(pm images --filter "reference=localhost/$PREFIX" --format '{{.Repository}}:{{.Tag}}' 2>/dev/null)
    for n in "${TMPDIR:-/tmp}/$PREFIX"-*; do
        [[ -d "$n" ]] && stale_pid "$n" && rm -rf "$n" && log "removed stale work directory $n"
    done
    return 0
}

cleanup() {
    local c
    for c in "$name-a" "$name-b"; do pm rm -f -t 0 "$c" >/dev/null 2>&1 || true; done
    pm volume rm -f "$volume" >/dev/null 2>&1 || true
    pm rmi -f "$image" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
# Turn ^C and kill into a normal exit so that the EXIT trap cleans up.
trap 'exit 130' INT
trap 'exit 143' TERM

sweep_stale

passed=0
pass() {
    printf '\033[1;32m[image] PASS:\033[0m %s\n' "$*"
    passed=$((passed + 1))
}
fail() {
    printf '\033[1;31m[image] FAIL:\033[0m %s\n' "$*"
    if [[ -n "$ctr" ]]; then
        echo "----- podman logs $ctr -----" >&2
        pm logs "$ctr" 2>&1 | tail -n 60 >&2 || true
        echo "----- podman ps -----" >&2
        pm ps -a --filter "name=^$name-" >&2 || true
    fi
    # Leave out the known, harmless "no systemd for healthcheck timers" lines.
    if grep -v 'systemd connection' "$work/podman.err" >"$work/podman.err.shown" 2>/dev/null &&
        [[ -s "$work/podman.err.shown" ]]; then
        echo "----- podman's own messages -----" >&2
        tail -n 20 "$work/podman.err.shown" >&2
    fi
    exit 1
}

# --- build ------------------------------------------------------------------
# The context holds exactly what Dockerfile.dist expects: the binary and an
# empty data/ (scratch has no mkdir, so /data comes from here).
mkdir "$work/ctx" "$work/ctx/data"
install -m 0755 "$bin" "$work/ctx/fazt"
# --format docker: the OCI format has no HEALTHCHECK (podman drops it with a
# warning). --layers=false: no intermediate images to clean up.
pm build --format docker --layers=false --force-rm -f "$dockerfile" -t "$image" "$work/ctx" \
    >"$work/build.log" 2>&1 || {
    cat "$work/build.log" >&2
    fail "podman build -f cross/Dockerfile.dist"
}
log "built $image from $(basename "$bin") ($(pm image inspect "$image" --format '{{.Size}}') bytes)"
pm volume create "$volume" >/dev/null

# start SUFFIX: runs the image (its own ENTRYPOINT/CMD and HEALTHCHECK) on the
# volume with a read-only root and no writable tmpfs (the image needs neither
# /tmp nor /run), publishing 4698 on a loopback port podman picks; sets ctr
# and addr. podman schedules healthchecks with systemd timers and logs an
# error when there is no systemd (as here); the check itself is run
# explicitly below, so those messages go to podman.err, shown on failure.
start() {
    ctr="$name-$1"
    pm run -d --name "$ctr" --read-only --read-only-tmpfs=false \
        -v "$volume:/data" -p 127.0.0.1::4698 "$image" >/dev/null 2>>"$work/podman.err" ||
        fail "podman run $ctr"
    published
}
published() { # sets addr from the port podman published for the running ctr
    addr="$(pm port "$ctr" 4698/tcp 2>>"$work/podman.err" | head -n1)"
    [[ "$addr" == 127.0.0.1:* ]] || fail "$ctr: 4698 is not published on loopback (podman port: '$addr')"
}
wait_health() { # waits up to 30 s for /health -> 200; sets status, body
    local i
    for ((i = 0; i < 150; i++)); do
        status="$(curl -s -o "$work/health" -w '%{http_code}' --max-time 2 "http://$addr/health")" || true
        [[ "$status" == 200 ]] && break
        [[ "$(pm inspect "$ctr" --format '{{.State.Running}}' 2>/dev/null)" == true ]] ||
            fail "$ctr exited: $(pm inspect "$ctr" --format 'status {{.State.Status}}, exit code {{.State.ExitCode}}' 2>&1)"
        sleep 0.2
    done
    body="$(cat "$work/health" 2>/dev/null || true)"
}

# --- 1. it serves -------------------------------------------------------------
start a
wait_health
[[ "$status" == 200 && "$body" == ok ]] || fail "1 serves: GET http://$addr/health -> HTTP $status '$body'"
pass "1 serves: GET http://$addr/health (-p 127.0.0.1::4698) -> 200 '$body'"

# --- 2. the image's healthcheck -------------------------------------------------
hc_cmd="$(pm inspect "$ctr" --format '{{join .Config.Healthcheck.Test " "}}')"
[[ "$hc_cmd" == "CMD /fazt healthcheck" ]] || fail "2 healthcheck: the image's HEALTHCHECK is '$hc_cmd'"
pm healthcheck run "$ctr" >"$work/hc.out" 2>&1 || fail "2 healthcheck: podman healthcheck run: $(cat "$work/hc.out")"
hc_status="$(pm inspect "$ctr" --format '{{.State.Health.Status}}')"
[[ "$hc_status" == healthy ]] || fail "2 healthcheck: status '$hc_status' after podman healthcheck run"
pass "2 healthcheck: podman healthcheck run ($hc_cmd, from the image) -> $hc_status"

# --- 3. a deploy survives a restart on the volume ----------------------------------
# An admin token made inside the container, on the database in the volume;
# `create` prints the token alone on stdout.
token="$(pm exec "$ctr" /fazt token create --name ci --scope admin 2>"$work/token.err")" ||
    fail "3 deploy: fazt token create inside: $(cat "$work/token.err")"
[[ "$token" =~ ^[A-Za-z0-9_]+$ ]] || fail "3 deploy: token create printed '$token'"
site="$work/site"
mkdir -p "$site/assets"
printf '<!doctype html><title>image-test</title><p>deployed into a scratch container (run %s)\n' "$$" >"$site/index.html"
head -c 65536 /dev/urandom >"$site/assets/random.bin"
printf 'body { color: #123; }\n' >"$site/assets/style.css"
files=(index.html assets/random.bin assets/style.css)
# The deploy client is the binary itself, on the host, against the published
# port; FAZT_CLIENT_CONFIG keeps it away from any saved server and token.
FAZT_CLIENT_CONFIG="$work/client.json" "$bin" deploy "$site" --site hello \
    --server "http://$addr" --token "$token" >"$work/deploy.out" 2>&1 ||
    fail "3 deploy: fazt deploy --server http://$addr: $(cat "$work/deploy.out")"
check_site() { # WHEN: GET every file by Host hello.localhost, byte-compare
    local f got
    for f in "${files[@]}"; do
        got="$work/got-$(echo "$f" | tr / _)"
        status="$(curl -sS -o "$got" -w '%{http_code}' --max-time 10 -H 'Host: hello.localhost' "http://$addr/$f")" ||
            fail "3 deploy ($1): GET /$f failed"
        [[ "$status" == 200 ]] || fail "3 deploy ($1): GET /$f (Host hello.localhost) -> HTTP $status"
        cmp -s "$got" "$site/$f" || fail "3 deploy ($1): /$f is not byte-identical to what was deployed"
    done
}
check_site "after deploy"
pm restart "$ctr" >/dev/null 2>>"$work/podman.err" || fail "3 deploy: podman restart $ctr"
published
wait_health
[[ "$status" == 200 ]] || fail "3 deploy: /health after podman restart -> HTTP $status"
check_site "after podman restart"
# A new container on the same volume: the site lives in /data, not in the
# container (whose root is read-only anyway).
pm rm -f -t 10 "$ctr" >/dev/null 2>>"$work/podman.err" || fail "3 deploy: podman rm $ctr"
start b
wait_health
[[ "$status" == 200 ]] || fail "3 deploy: /health in a new container on $volume -> HTTP $status"
check_site "in a new container on the volume"
pass "3 deploy survives restart: ${#files[@]} files of site 'hello' byte-identical after deploy, after podman restart and in a new container on volume $volume"

# --- 4. non-root, read-only root ----------------------------------------------------
# No ps or /proc tools in scratch: podman top reads the process from the host
# (USER = the uid inside, HUSER = the uid on the host), and the host's
# /proc/PID/status gives the real, effective, saved and fs uids and gids.
top="$(pm top "$ctr" user huser 2>&1 | tail -n +2 | tr -s ' ' | sed 's/^ //; s/ $//')"
[[ "$top" == "$EXPECT_USER $EXPECT_USER" ]] || fail "4 non-root: podman top $ctr user huser -> '$top'"
host_pid="$(pm inspect "$ctr" --format '{{.State.Pid}}')"
ids="$(awk '/^(Uid|Gid):/ { printf "%s %s %s %s %s ", $1, $2, $3, $4, $5 }' "/proc/$host_pid/status")"
[[ "$ids" == "Uid: $EXPECT_USER $EXPECT_USER $EXPECT_USER $EXPECT_USER Gid: $EXPECT_USER $EXPECT_USER $EXPECT_USER $EXPECT_USER " ]] ||
    fail "4 non-root: /proc/$host_pid/status: $ids"
ro="$(pm inspect "$ctr" --format '{{.HostConfig.ReadonlyRootfs}}')"
[[ "$ro" == true ]] || fail "4 read-only: HostConfig.ReadonlyRootfs is '$ro'"
# Even root inside cannot create a file outside /data: fazt trying to create
# a database in / must fail with EROFS, not merely with a permission error.
if pm exec --user 0:0 "$ctr" /fazt token list --db /rootfs-write-probe.db >"$work/ro.out" 2>&1; then
    fail "4 read-only: root inside created /rootfs-write-probe.db"
fi
grep -q 'Read-only file system' "$work/ro.out" || fail "4 read-only: writing / failed, but not read-only: $(cat "$work/ro.out")"
pass "4 non-root, read-only: podman top user/huser $EXPECT_USER/$EXPECT_USER, host /proc uid+gid $EXPECT_USER, ReadonlyRootfs=$ro, root's write to / -> EROFS"

# --- 5. fazt backup inside --------------------------------------------------------
# --to DIR/ names the snapshot fazt-<UTC time>.db; the output names the file.
pm exec "$ctr" /fazt backup --to /data/ >"$work/backup.out" 2>&1 ||
    fail "5 backup: fazt backup --to /data/ inside: $(cat "$work/backup.out")"
snap="$(sed -n 's|^backup: \(/data/[^ ]*\.db\) .*|\1|p' "$work/backup.out" | head -n1)"
[[ -n "$snap" ]] || fail "5 backup: no snapshot path in: $(cat "$work/backup.out")"
# Read it straight from the volume's directory on the host.
mountpoint="$(pm volume inspect "$volume" --format '{{.Mountpoint}}')"
as_root cat "$mountpoint/${snap#/data/}" >"$work/snap.db" 2>"$work/cat.err" ||
    fail "5 backup: $snap is not on volume $volume ($mountpoint): $(cat "$work/cat.err")"
[[ "$(head -c 15 "$work/snap.db")" == "SQLite format 3" ]] || fail "5 backup: $snap is not an SQLite file"
integrity="$(sqlite3 "file:$work/snap.db?mode=ro" 'PRAGMA integrity_check' 2>&1)"
[[ "$integrity" == ok ]] || fail "5 backup: integrity_check of $snap: $integrity"
sites="$(sqlite3 "file:$work/snap.db?mode=ro" "SELECT count(*) FROM sites WHERE name = 'hello'" 2>&1)"
[[ "$sites" == 1 ]] || fail "5 backup: site 'hello' is not in $snap ($sites)"
pass "5 backup: fazt backup --to /data/ -> $snap on volume $volume, $(file_size "$work/snap.db") bytes, integrity_check ok, holds site 'hello'"

log "image test took $((SECONDS - start_s)) s"
echo "image: $passed passed, 0 failed"
