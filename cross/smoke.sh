#!/usr/bin/env bash
# Runs the cross-built binaries for real: ARM ones under qemu-user.
#
#   cross/smoke.sh [--dist DIR] [--bin PATH] [TARGET...]
#
# TARGET defaults to the ARM targets (aarch64-unknown-linux-musl,
# armv7-unknown-linux-musleabihf); x86_64-unknown-linux-musl runs natively.
# Binaries are read from DIST/fazt-<target> (cross/build.sh's output);
# --bin PATH tests one binary instead (its architecture is read with `file`).
#
# For each binary: `--version`; `serve` on a fresh database on 127.0.0.1 with
# an OS-chosen port (read back from the "listening on" log line); /health;
# `token create --scope admin`; deploy a static site with `curl -T` (PUT
# /api/sites/smoke) and GET it by Host; deploy a `main.js` site and check the
# script's answer (without the `js` feature: that the site's other files are served and
# the script itself never is); SIGTERM. Then, with the `acme` feature (`--version` lists
# the features), the same database served over HTTPS with a self-signed
# `--tls-cert/--tls-key` (rustls and ring's assembly for that CPU): the site by
# SNI, verified by curl against that certificate. Any failure prints what was
# expected, what came back and the server log, then exits non-zero.
set -euo pipefail

# shellcheck source=cross/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

targets=()
bins=()
while (($#)); do
    case "$1" in
    --dist)
        (($# >= 2)) || die "--dist needs a value"
        FAZT_DIST_DIR="$2"
        shift 2
        ;;
    --bin)
        (($# >= 2)) || die "--bin needs a value"
        bins+=("$2")
        shift 2
        ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    *)
        t="$(target_of "$1")" || exit 1
        targets+=("$t")
        shift
        ;;
    esac
done
if ((${#bins[@]} == 0)); then
    ((${#targets[@]})) || targets=(aarch64-unknown-linux-musl armv7-unknown-linux-musleabihf)
    dist="$(fazt_dist_dir)"
    for t in "${targets[@]}"; do
        [[ -f "$dist/fazt-$t" ]] || die "$dist/fazt-$t is missing: run cross/build.sh $t first"
        bins+=("$dist/fazt-$t")
    done
fi

ensure_qemu_user
command -v curl >/dev/null 2>&1 || apt_install curl ca-certificates

# The emulator for a binary, from its ELF header ("" = runs natively).
runner_for() {
    local desc
    desc="$(file -b "$1")"
    case "$desc" in
    *aarch64*) echo qemu-aarch64-static ;;
    *", ARM,"*) echo qemu-arm-static ;;
    *x86-64*) echo "" ;;
    *) die "$1: cannot tell how to run: $desc" ;;
    esac
}

# make_zip OUT DIR: zips the files of DIR (paths relative to DIR).
make_zip() {
    local out="$1" dir="$2"
    if command -v zip >/dev/null 2>&1; then
        (cd "$dir" && zip -q -r "$out" .)
    elif command -v python3 >/dev/null 2>&1; then
        (cd "$dir" && python3 -m zipfile -c "$out" ./*)
    else
        apt_install zip
        (cd "$dir" && zip -q -r "$out" .)
    fi
}

server_pid=""
work=""
cleanup() {
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    server_pid=""
    [[ -n "$work" ]] && rm -rf "$work"
    work=""
}
trap cleanup EXIT

# fail MESSAGE: prints the message and the server log, exits non-zero.
fail() {
    printf '\033[1;31m[smoke] FAIL (%s):\033[0m %s\n' "$current" "$*" >&2
    if [[ -n "$work" && -f "$work/serve.log" ]]; then
        echo "----- server log (last 40 lines) -----" >&2
        tail -n 40 "$work/serve.log" >&2
        echo "--------------------------------------" >&2
    fi
    exit 1
}

# http METHOD HOST PATH [curl args...]: sets $status and $body.
http() {
    local method="$1" host="$2" path="$3"
    shift 3
    status="$(curl -sS -o "$work/body" -w '%{http_code}' --max-time 60 -X "$method" \
        -H "Host: $host" "$@" "http://$addr$path" 2>"$work/curl.err")" ||
        fail "curl $method $host$path failed: $(cat "$work/curl.err")"
    body="$(cat "$work/body")"
}

expect() { # WHAT WANT_STATUS WANT_BODY_SUBSTRING
    [[ "$status" == "$2" ]] || fail "$1: expected HTTP $2, got $status: ${body:0:400}"
    [[ "$body" == *"$3"* ]] || fail "$1: expected the body to contain '$3', got: ${body:0:400}"
    log "ok: $1 (HTTP $status)"
}

# start_serve ARGS...: starts `serve` on the work database in the background.
start_serve() {
    env -u FAZT_DB -u FAZT_LISTEN -u FAZT_DOMAIN "${run[@]}" serve --db "$work/fazt.db" "$@" \
        >"$work/serve.log" 2>&1 &
    server_pid=$!
}

# wait_logged WORDS: prints the address logged as "WORDS ADDR" (see logged_addr).
wait_logged() {
    logged_addr "$work/serve.log" "$server_pid" "$1" 2>"$work/wait.err" || fail "$(cat "$work/wait.err")"
}

# stop_serve WHAT: SIGTERM must end the server cleanly (exit status 0).
stop_serve() {
    kill -TERM "$server_pid"
    local rc=0
    wait "$server_pid" || rc=$?
    server_pid=""
    ((rc == 0)) || fail "$1 exited with status $rc after SIGTERM"
    log "ok: $1: SIGTERM -> clean exit"
}

smoke_one() {
    local bin="$1" runner
    runner="$(runner_for "$bin")"
    current="$(basename "$bin")"
    work="$(mktemp -d "${TMPDIR:-/tmp}/fazt-smoke.XXXXXX")"
    local run=("$bin")
    [[ -n "$runner" ]] && run=("$runner" "$bin")
    log "== $current ($(file -b "$bin" | cut -d, -f1-2)) via ${runner:-native}"

    local t0 version
    t0=$(date +%s%N)
    version="$("${run[@]}" --version 2>&1)" || fail "--version exited non-zero: $version"
    [[ "$version" == fazt\ * ]] || fail "--version printed '$version', expected 'fazt <version>'"
    log "ok: --version -> $version ($((($(date +%s%N) - t0) / 1000000)) ms)"

    # Port 0: the kernel picks a free port, the server logs it ("listening on ADDR").
    t0=$(date +%s%N)
    start_serve --listen 127.0.0.1:0
    addr="$(wait_logged "listening on")"
    log "ok: serve listening on $addr after $((($(date +%s%N) - t0) / 1000000)) ms"

    http GET localhost /health
    expect "/health" 200 ok

    local token
    token="$("${run[@]}" token create --name smoke --scope admin --db "$work/fazt.db" 2>"$work/token.err")" ||
        fail "token create failed: $(cat "$work/token.err")"
    [[ "$token" =~ ^[^[:space:]]+$ ]] || fail "token create printed '$token', expected one token line"
    log "ok: token create (${#token} chars)"

    mkdir -p "$work/site" "$work/js"
    printf '<h1>smoke %s</h1>\n' "$current" >"$work/site/index.html"
    make_zip "$work/site.zip" "$work/site"
    http PUT localhost /api/sites/smoke -T "$work/site.zip" -H "Authorization: Bearer $token" \
        -H 'Content-Type: application/zip'
    expect "deploy static site" 200 '"smoke"'
    http GET smoke.localhost /
    expect "GET smoke.localhost/" 200 "<h1>smoke $current</h1>"

    printf "res.send('hello from js')\n" >"$work/js/main.js"
    printf 'static beside the script\n' >"$work/js/static.txt"
    make_zip "$work/js.zip" "$work/js"
    http PUT localhost /api/sites/smokejs -T "$work/js.zip" -H "Authorization: Bearer $token" \
        -H 'Content-Type: application/zip'
    expect "deploy main.js site" 200 '"smokejs"'
    if [[ "$version" == *js* ]]; then
        t0=$(date +%s%N)
        http GET smokejs.localhost /
        expect "GET smokejs.localhost/ runs main.js" 200 "hello from js"
        log "   first script run took $((($(date +%s%N) - t0) / 1000000)) ms"
    else
        # Without the `js` feature the site's other files are served, its script never is.
        http GET smokejs.localhost /static.txt
        expect "GET smokejs.localhost/static.txt (no js feature: static files)" 200 "static beside"
        http GET smokejs.localhost /main.js
        expect "GET smokejs.localhost/main.js (no js feature: the script is never served)" 404 ""
    fi

    stop_serve serve

    if [[ "$version" == *acme* ]]; then
        smoke_https
    else
        log "skip: HTTPS (built without the acme feature)"
    fi
    cleanup
    log "PASS $current"
}

# The TLS leg: a self-signed certificate for localhost names, HTTPS on an
# OS-chosen port, the static site fetched by SNI with curl verifying it.
smoke_https() {
    command -v openssl >/dev/null 2>&1 || apt_install openssl
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -subj /CN=localhost -addext "subjectAltName=DNS:localhost,DNS:smoke.localhost" \
        -keyout "$work/key.pem" -out "$work/cert.pem" >/dev/null 2>&1 ||
        fail "openssl could not make a test certificate"
    start_serve --listen 127.0.0.1:0 --https-listen 127.0.0.1:0 --http-listen 127.0.0.1:0 \
        --tls-cert "$work/cert.pem" --tls-key "$work/key.pem"
    local tls
    tls="$(wait_logged "HTTPS on")"
    local t0
    t0=$(date +%s%N)
    status="$(curl -sS -o "$work/body" -w '%{http_code}' --max-time 60 --cacert "$work/cert.pem" \
        --resolve "smoke.localhost:${tls##*:}:127.0.0.1" "https://smoke.localhost:${tls##*:}/" \
        2>"$work/curl.err")" || fail "HTTPS GET failed: $(cat "$work/curl.err")"
    body="$(cat "$work/body")"
    expect "GET https://smoke.localhost/ (TLS handshake verified)" 200 "<h1>smoke $current</h1>"
    log "   handshake + GET took $((($(date +%s%N) - t0) / 1000000)) ms"
    stop_serve "HTTPS serve"
}

current=""
passed=0
for bin in "${bins[@]}"; do
    smoke_one "$bin"
    passed=$((passed + 1))
done
echo "smoke: ${passed} passed, 0 failed"
