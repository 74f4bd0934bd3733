#!/usr/bin/env bash
# Runs fazt under the real hardened unit: boots this machine's own systemd
# in a systemd-nspawn container (host /usr bound read-only, a copy of /etc,
# a private network) and checks the service end to end.
#
#   systemd/nspawn-test.sh [--install] [--type-exec] BINARY
#
# Default: systemd/fazt.service is placed in /etc/systemd/system and enabled.
# --install:   instead, run `fazt service install --domain localhost
#              --backup-dir /srv/fazt-backups` inside the booted container (the
#              installer writes unit, state dir, DB, backup dir), and check that
#              the first scheduled snapshot lands there, owned by the dynamic user.
# --type-exec: a drop-in sets Type=exec, for binaries that do not yet send
#              READY=1 (with Type=notify systemd would wait for it and fail).
#
# Checks: the unit becomes active (with Type=notify: only after READY=1);
# port 80 is bound by the DynamicUser (CAP_NET_BIND_SERVICE); /health answers;
# an admin token is made and a main.js site deployed and run (QuickJS under
# MemoryDenyWriteExecute and the syscall filter); the database lives in
# /var/lib/private/fazt owned by the dynamic user with mode 0600;
# `systemctl stop` ends it cleanly. Prints `systemd-analyze security` of the
# loaded unit. Needs root and apt (installs systemd-container).
set -euo pipefail

install_mode=0
type_exec=0
while (($#)); do
    case "$1" in
    --install) install_mode=1 && shift ;;
    --type-exec) type_exec=1 && shift ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    -*) echo "unknown option $1" >&2 && exit 2 ;;
    *) break ;;
    esac
done
(($# == 1)) || {
    echo "usage: $0 [--install] [--type-exec] BINARY" >&2
    exit 2
}
bin="$(realpath "$1")"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
[[ -x "$bin" ]] || { echo "$bin is not an executable" >&2 && exit 2; }
# shellcheck source=systemd/nspawn-lib.sh
source "$here/nspawn-lib.sh"
nspawn_init nspawn fazt.service
cp "$bin" "$work/bin/fazt" && chmod 0755 "$work/bin/fazt"
if ((!install_mode)); then
    cp "$here/fazt.service" "$r/etc/systemd/system/fazt.service"
    mkdir -p "$r/etc/systemd/system/multi-user.target.wants"
    ln -s ../fazt.service "$r/etc/systemd/system/multi-user.target.wants/fazt.service"
fi
if ((type_exec)); then
    mkdir -p "$r/etc/systemd/system/fazt.service.d"
    printf '[Service]\nType=exec\n' >"$r/etc/systemd/system/fazt.service.d/type-exec.conf"
fi

nspawn_boot

if ((install_mode)); then
    out="$(in_ct /usr/local/bin/fazt service install --domain localhost --backup-dir /srv/fazt-backups 2>&1)" ||
        { echo "$out" >&2 && fail "fazt service install failed"; }
    printf '    install: %s\n' "$out" >&2
    out2="$(in_ct /usr/local/bin/fazt service install --domain localhost --backup-dir /srv/fazt-backups 2>&1)" ||
        { echo "$out2" >&2 && fail "second fazt service install failed"; }
    say "ok: service install ran twice"
fi

deadline=$((SECONDS + 60))
while ((SECONDS < deadline)); do
    st="$(in_ct systemctl is-active fazt.service 2>/dev/null || true)"
    [[ "$st" == active || "$st" == failed ]] && break
    sleep 0.2
done
[[ "$st" == active ]] || fail "fazt.service is '$st', not active"
type="$(in_ct systemctl show -p Type --value fazt.service)"
note=""
[[ "$type" == notify ]] && note=": READY=1 received"
say "ok: fazt.service active (Type=$type$note)"

body="$(in_ct curl -sS -m 10 -H 'Host: localhost' http://127.0.0.1:80/health)" || fail "/health on port 80 failed"
[[ "$body" == *ok* ]] || fail "/health answered '$body'"
say "ok: /health on port 80 -> $body"

db="/var/lib/fazt/fazt.db"
token="$(in_ct /usr/local/bin/fazt token create --name nspawn --scope admin --db "$db" 2>/dev/null)" ||
    fail "token create failed"
mkdir -p "$work/js"
printf "res.send('hello from js')\n" >"$work/js/main.js"
(cd "$work/js" && python3 -m zipfile -c "$r/root/js.zip" main.js)
resp="$(in_ct curl -sS -m 30 -T /root/js.zip -H "Authorization: Bearer $token" -H 'Host: localhost' \
    http://127.0.0.1:80/api/sites/hello)" || fail "deploy failed"
[[ "$resp" == *'"hello"'* ]] || fail "deploy answered: $resp"
body="$(in_ct curl -sS -m 30 -H 'Host: hello.localhost' http://127.0.0.1:80/)" || fail "GET hello.localhost failed"
[[ "$body" == "hello from js" ]] || fail "main.js answered '$body'"
say "ok: main.js deployed and ran -> $body"

# DynamicUser names the transient user after the unit; nss-systemd resolves it.
owner="$(in_ct stat -c '%U %a' /var/lib/private/fazt/fazt.db)"
[[ "$owner" == "fazt 600" ]] || fail "database is '$owner', expected 'fazt 600'"
say "ok: /var/lib/private/fazt/fazt.db is owned by the dynamic user fazt, mode 600"

if ((install_mode)); then
    # The first scheduled snapshot is due at start; ReadWritePaths= and the chown before
    # start let the dynamic user write outside its state directory.
    snap=""
    deadline=$((SECONDS + 30))
    while ((SECONDS < deadline)); do
        snap="$(in_ct sh -c 'ls /srv/fazt-backups/fazt-*.db 2>/dev/null | head -n1' || true)"
        [[ -n "$snap" ]] && break
        sleep 0.2
    done
    [[ -n "$snap" ]] || fail "no scheduled snapshot in /srv/fazt-backups"
    owner="$(in_ct stat -c '%U %a' "$snap")"
    [[ "$owner" == "fazt 600" ]] || fail "snapshot $snap is '$owner', expected 'fazt 600'"
    say "ok: scheduled snapshot $snap, owned by fazt, mode 600"
fi

if ((install_mode)); then
    # A signed upgrade under the hardened unit: the release directory sits in the state
    # directory, the dynamic user runs the self-test and the new binary, and the service
    # hands its port-80 socket over to it (MAINPID= moves to the new process).
    name="$(basename "$bin")"
    [[ "$name" == fazt-* ]] || fail "name the binary fazt-<target> for the upgrade check"
    signify-openbsd -G -n -p "$work/rel.pub" -s "$work/rel.sec" >/dev/null
    bash "$here/../cross/release.sh" --key "$work/rel.sec" --out "$r/srv/releases" --version 99.0.0 \
        --target "${name#fazt-}" "$bin" >/dev/null
    chmod -R a+rX "$r/srv/releases"
    in_ct /usr/local/bin/fazt config set release_source /srv/releases --db "$db" >/dev/null
    in_ct /usr/local/bin/fazt config set trust_key "$(sed -n 2p "$work/rel.pub")" --db "$db" >/dev/null
    pid_before="$(in_ct systemctl show -p MainPID --value fazt.service)"
    out="$(in_ct /usr/local/bin/fazt upgrade --db "$db" 2>&1)" || { echo "$out" >&2 && fail "fazt upgrade failed"; }
    [[ "$out" == *"release 99.0.0 is serving"* ]] || fail "upgrade said: $out"
    health="$(in_ct curl -sS -m 10 -H "Authorization: Bearer $token" -H 'Host: localhost' \
        http://127.0.0.1:80/api/system/health)" || fail "health after the upgrade failed"
    [[ "$health" == *'"version":"99.0.0"'* ]] || fail "after the upgrade: $health"
    pid_after="$(in_ct systemctl show -p MainPID --value fazt.service)"
    [[ "$pid_after" != "$pid_before" && "$(in_ct systemctl is-active fazt.service)" == active ]] ||
        fail "MainPID $pid_before -> $pid_after, service $(in_ct systemctl is-active fazt.service)"
    body="$(in_ct curl -sS -m 30 -H 'Host: hello.localhost' http://127.0.0.1:80/)" || fail "GET after upgrade failed"
    [[ "$body" == "hello from js" ]] || fail "after the upgrade main.js answered '$body'"
    owner="$(in_ct stat -c '%U' /var/lib/private/fazt/fazt.db.bin/current/)"
    [[ "$owner" == fazt ]] || fail "the release directory is owned by '$owner', not the dynamic user"
    say "ok: signed upgrade to 99.0.0 under the hardened unit (MainPID $pid_before -> $pid_after)"
    # A restart of the unit (`fazt service restart`, Go fazt's command) runs the installed
    # binary, which launches the release again.
    in_ct /usr/local/bin/fazt service restart || fail "fazt service restart failed"
    health="$(in_ct curl -sS -m 10 --retry 20 --retry-connrefused --retry-delay 1 -H "Authorization: Bearer $token" \
        -H 'Host: localhost' http://127.0.0.1:80/api/system/health)" || fail "health after restart failed"
    [[ "$health" == *'"version":"99.0.0"'* ]] || fail "after a restart: $health"
    say "ok: fazt service restart runs release 99.0.0 again (launched by /usr/local/bin/fazt)"
fi

in_ct systemd-analyze security --no-pager fazt.service 2>/dev/null | tail -n 1 | sed 's/^/    /' >&2 || true

in_ct systemctl stop fazt.service
result="$(in_ct systemctl show -p Result --value fazt.service)"
status="$(in_ct systemctl show -p ExecMainStatus --value fazt.service)"
[[ "$result" == success && "$status" == 0 ]] || fail "stop: Result=$result ExecMainStatus=$status"
say "ok: systemctl stop -> clean exit"
echo "nspawn unit test: 1 passed, 0 failed"
