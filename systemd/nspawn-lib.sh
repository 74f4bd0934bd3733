#!/usr/bin/env bash
# Shared by the systemd-nspawn tests (nspawn-test.sh, litestream-nspawn-test.sh): boots this
# machine's own systemd in a container whose root is a fresh tree with the host's /usr bound
# read-only and a copy of /etc without the host's enabled services, on a private network.
#
#   source nspawn-lib.sh; nspawn_init TAG UNIT...; (fill "$r"); nspawn_boot
#
# nspawn_init sets work (a temp dir, removed at exit), r (the container root), the helpers
# say / fail / in_ct (fail prints status and journal of the UNITs), and installs
# systemd-container when missing. Binaries copied to "$work/bin" appear as /usr/local/bin.
# nspawn_boot starts the container and waits until systemd is up (sets nspawn_pid, leader).

nspawn_init() {
    tag="$1"
    shift
    units=("$@")
    [[ "$(id -u)" == 0 ]] || { echo "needs root (systemd-nspawn)" >&2 && exit 2; }
    if ! command -v systemd-nspawn >/dev/null 2>&1; then
        say "apt-get install systemd-container"
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -q --no-install-recommends systemd-container >/dev/null ||
            { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends systemd-container >/dev/null; }
    fi
    [[ -x /usr/lib/systemd/systemd ]] || { echo "no /usr/lib/systemd/systemd on this machine" >&2 && exit 2; }
    work="$(mktemp -d "${TMPDIR:-/tmp}/fazt-$tag.XXXXXX")"
    r="$work/root"
    nspawn_pid=""
    leader=""
    trap nspawn_cleanup EXIT
    mkdir -p "$r"/{usr/lib,var/lib,var/tmp,var/backups,run,tmp,root,proc,sys,dev} "$work/bin"
    for l in bin lib lib64 sbin; do [[ -e "/$l" ]] && ln -s "usr/$l" "$r/$l"; done
    cp -a /etc "$r/etc"
    # nspawn checks for os-release before /usr is mounted over this placeholder.
    cp /usr/lib/os-release "$r/usr/lib/os-release"
    : >"$r/etc/machine-id"
    find "$r/etc/systemd/system" -mindepth 2 -path '*.wants/*' -delete
}

say() { printf '\033[1;34m[%s]\033[0m %s\n' "${tag:-nspawn}" "$*" >&2; }

# Runs a command inside the container; never hangs the test for long.
in_ct() { timeout 60 nsenter -t "$leader" -a "$@"; }

nspawn_cleanup() {
    if [[ -n "$nspawn_pid" ]] && kill -0 "$nspawn_pid" 2>/dev/null; then
        kill -TERM "$nspawn_pid" 2>/dev/null || true # orderly container shutdown
        for _ in $(seq 1 100); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$nspawn_pid" 2>/dev/null || true
        wait "$nspawn_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}

fail() {
    printf '\033[1;31m[%s] FAIL:\033[0m %s\n' "${tag:-nspawn}" "$*" >&2
    if [[ -n "$leader" ]]; then
        local u=() x
        for x in "${units[@]}"; do u+=(-u "$x"); done
        in_ct systemctl status --no-pager "${units[@]}" >&2 || true
        in_ct journalctl --no-pager "${u[@]}" -n 60 >&2 || true
    else
        tail -n 30 "$work/nspawn.log" >&2 || true
    fi
    exit 1
}

nspawn_boot() {
    say "booting $(systemd --version | head -n1) in a container"
    systemd-nspawn --quiet --register=no --keep-unit --private-network --console=passive \
        -D "$r" --bind-ro=/usr --bind-ro="$work/bin:/usr/local/bin" -b >"$work/nspawn.log" 2>&1 &
    nspawn_pid=$!
    local state="" deadline=$((SECONDS + 60))
    while ((SECONDS < deadline)); do
        leader="$(ps -o pid= --ppid "$nspawn_pid" | tr -d ' ' | head -n1 || true)"
        if [[ -n "$leader" ]]; then
            state="$(in_ct systemctl is-system-running 2>/dev/null || true)"
            [[ "$state" == running || "$state" == degraded ]] && break
        fi
        kill -0 "$nspawn_pid" 2>/dev/null || { leader="" && fail "systemd-nspawn exited"; }
        sleep 0.2
    done
    [[ "$state" == running || "$state" == degraded ]] || fail "container did not finish booting (state '$state')"
    say "container booted (leader pid $leader, state $state)"
}
