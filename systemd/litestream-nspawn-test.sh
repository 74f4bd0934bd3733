#!/usr/bin/env bash
# Runs systemd/litestream.service beside systemd/fazt.service under this machine's own systemd
# in a systemd-nspawn container (as systemd/nspawn-test.sh does for fazt alone), replicating
# to a file replica (the yml's commented alternative: a drop-in with ReadWritePaths= and a
# mode-1733 directory), and checks what the unit promises:
#
#   systemd/litestream-nspawn-test.sh FAZT_BINARY [LITESTREAM_BINARY]
#
# - both units become active; Litestream runs as fazt's dynamic user (same UID) and keeps its
#   state in /var/lib/fazt/.fazt.db-litestream, under the hardening (syscall filter,
#   MemoryDenyWriteExecute, read-only OS);
# - a Counter main.js takes writes; `systemctl stop fazt litestream` right after the last one
#   stops fazt first and Litestream after it, so a clean shutdown loses nothing: the database
#   `litestream restore` rebuilds from the replica (run as fazt's dynamic user into an empty
#   state directory, as the README says) holds the last acknowledged value, and
#   `fazt service install` keeps it and serves it.
# LITESTREAM_BINARY defaults to `litestream` on PATH, then the virtualenv tests/run.sh makes.
# Needs root and apt (installs systemd-container).
set -euo pipefail

(($# == 1 || $# == 2)) || {
    echo "usage: $0 FAZT_BINARY [LITESTREAM_BINARY]" >&2
    exit 2
}
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin="$(realpath "$1")"
ls_bin="${2:-$(command -v litestream || echo "${CARGO_TARGET_DIR:-$here/../target}/test-tools/venv/bin/litestream")}"
[[ -x "$bin" ]] || { echo "$bin is not an executable" >&2 && exit 2; }
[[ -x "$ls_bin" ]] || { echo "no litestream at $ls_bin (bash tests/run.sh installs it)" >&2 && exit 2; }
ls_bin="$(realpath "$ls_bin")"
# shellcheck source=systemd/nspawn-lib.sh
source "$here/nspawn-lib.sh"
nspawn_init nspawn-litestream fazt.service litestream.service
cp "$bin" "$work/bin/fazt" && cp "$ls_bin" "$work/bin/litestream"
chmod 0755 "$work/bin/fazt" "$work/bin/litestream"
mkdir -p "$r/etc/systemd/system/multi-user.target.wants" "$r/etc/systemd/system/litestream.service.d"
for u in fazt litestream; do
    cp "$here/$u.service" "$r/etc/systemd/system/$u.service"
    ln -s "../$u.service" "$r/etc/systemd/system/multi-user.target.wants/$u.service"
done
replica=/var/backups/fazt
mkdir -p "$r$replica" && chmod 1733 "$r$replica"
printf '[Service]\nReadWritePaths=%s\n' "$replica" >"$r/etc/systemd/system/litestream.service.d/file-replica.conf"
# The shipped example with its S3 replica swapped for the file replica it describes.
sed -n '/^dbs:/,/^    replica:/p' "$here/litestream.yml" | sed '$d' >"$r/etc/litestream.yml"
printf '    replica:\n      type: file\n      path: %s\n' "$replica" >>"$r/etc/litestream.yml"
grep -q '/var/lib/fazt/fazt.db' "$r/etc/litestream.yml" || fail "litestream.yml does not name /var/lib/fazt/fazt.db"

nspawn_boot

for u in fazt litestream; do
    deadline=$((SECONDS + 60))
    while ((SECONDS < deadline)); do
        st="$(in_ct systemctl is-active "$u.service" 2>/dev/null || true)"
        [[ "$st" == active || "$st" == failed ]] && break
        sleep 0.2
    done
    [[ "$st" == active ]] || fail "$u.service is '$st', not active"
done
say "ok: fazt.service and litestream.service active"

db=/var/lib/fazt/fazt.db
token="$(in_ct /usr/local/bin/fazt token create --name nspawn --scope admin --db "$db" 2>/dev/null)" ||
    fail "token create failed"
mkdir -p "$work/js"
cat >"$work/js/main.js" <<'EOF'
if (req.path === '/peek') { res.send(String(db.get('count') || 0)); }
else { var n = (db.get('count') || 0) + 1; db.set('count', n); res.send(String(n)); }
EOF
(cd "$work/js" && python3 -m zipfile -c "$r/root/counter.zip" main.js)
resp="$(in_ct curl -sS -m 30 -T /root/counter.zip -H "Authorization: Bearer $token" -H 'Host: localhost' \
    http://127.0.0.1:80/api/sites/counter)" || fail "deploy failed"
[[ "$resp" == *'"counter"'* ]] || fail "deploy answered: $resp"

# Litestream picks the database up within a monitor interval once fazt created it.
deadline=$((SECONDS + 30))
until in_ct test -d /var/lib/private/fazt/.fazt.db-litestream; do
    ((SECONDS < deadline)) || fail "no /var/lib/fazt/.fazt.db-litestream: Litestream never opened fazt.db"
    sleep 0.2
done
owners="$(in_ct stat -c '%u' /var/lib/private/fazt/fazt.db /var/lib/private/fazt/.fazt.db-litestream | sort -u)"
[[ "$(wc -l <<<"$owners")" == 1 ]] || fail "fazt.db and Litestream's state have different owners: $owners"
ls_uid="$(in_ct ps -o uid= -C litestream | tr -d ' ')"
[[ "$ls_uid" == "$owners" ]] || fail "litestream runs as uid '$ls_uid', fazt.db belongs to $owners"
say "ok: litestream runs as fazt's dynamic user (uid $owners), state in /var/lib/fazt/.fazt.db-litestream"

in_ct systemd-analyze security --no-pager litestream.service 2>/dev/null | tail -n 1 | sed 's/^/    /' >&2 || true

last=""
for _ in $(seq 1 200); do
    last="$(in_ct curl -sS -m 10 -H 'Host: counter.localhost' http://127.0.0.1:80/)" || fail "counter request failed"
done
[[ "$last" == 200 ]] || fail "counter answered '$last' after 200 increments"

# A clean shutdown right after the last write: fazt stops first, Litestream syncs and stops.
in_ct systemctl stop fazt.service litestream.service
for u in fazt litestream; do
    result="$(in_ct systemctl show -p Result --value "$u.service")"
    [[ "$result" == success ]] || fail "$u.service stopped with Result=$result"
done
# Litestream began stopping only once fazt was gone.
fazt_off="$(in_ct systemctl show -p InactiveEnterTimestampMonotonic --value fazt.service)"
ls_stopping="$(in_ct systemctl show -p ActiveExitTimestampMonotonic --value litestream.service)"
((fazt_off <= ls_stopping)) || fail "litestream.service began stopping before fazt.service had stopped"
say "ok: systemctl stop: fazt stopped first, then litestream (both Result=success)"

# The machine is replaced: its state directory is gone. The README's restore: Litestream,
# as fazt's dynamic user in fazt's state directory, rebuilds fazt.db from the replica; then
# `fazt service install` (which keeps an existing database) and Litestream start.
in_ct rm -rf /var/lib/private/fazt
out="$(in_ct systemd-run --wait --pipe --quiet -p DynamicUser=yes -p User=fazt -p Group=fazt \
    -p StateDirectory=fazt -p StateDirectoryMode=0700 -p UMask=077 -p EnvironmentFile=-/etc/litestream.env \
    /usr/local/bin/litestream restore -config /etc/litestream.yml /var/lib/fazt/fazt.db 2>&1)" ||
    { echo "$out" >&2 && fail "litestream restore from $replica failed"; }
out="$(in_ct /usr/local/bin/fazt service install --domain localhost 2>&1)" ||
    { echo "$out" >&2 && fail "fazt service install on the restored database failed"; }
in_ct systemctl start litestream.service
# The dynamic user's name resolves only while a unit of it runs.
owner="$(in_ct stat -c '%U %a' /var/lib/private/fazt/fazt.db)"
[[ "$owner" == "fazt 600" ]] || fail "restored database is '$owner', expected 'fazt 600'"
got=""
deadline=$((SECONDS + 30))
while ((SECONDS < deadline)); do
    got="$(in_ct curl -sS -m 5 -H 'Host: counter.localhost' http://127.0.0.1:80/peek 2>/dev/null || true)"
    [[ -n "$got" ]] && break
    sleep 0.2
done
[[ "$got" == "$last" ]] || fail "restored counter is '$got', the last acknowledged value was $last"
say "ok: restored from the file replica into an empty state directory; fazt.service serves the counter at $got (nothing lost)"
# Litestream logs to stdout (journal priority info) with its own levels.
errors="$(in_ct journalctl --no-pager -u litestream.service -o cat | grep -E 'level=(WARN|ERROR)' || true)"
[[ -z "$errors" ]] || { echo "$errors" >&2 && fail "litestream logged warnings or errors"; }
echo "litestream nspawn unit test: 1 passed, 0 failed"
