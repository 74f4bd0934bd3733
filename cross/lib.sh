# shellcheck shell=bash
# Shared helpers for the cross/ scripts: logging, idempotent tool installation
# and the static-binary check. Sourced, never executed.
#
# Every `ensure_*` function first checks whether its tool is already there and
# does nothing if so, so running any script twice (or on CI after a developer
# session left things installed) costs only the checks.

FAZT_ALL_TARGETS=(x86_64-unknown-linux-musl aarch64-unknown-linux-musl armv7-unknown-linux-musleabihf)

log() { printf '\033[1;34m[cross]\033[0m %s\n' "$*" >&2; }
warn() { printf '\033[1;33m[cross] warning:\033[0m %s\n' "$*" >&2; }
die() {
    printf '\033[1;31m[cross] error:\033[0m %s\n' "$*" >&2
    exit 1
}

# Repository root: the crate whose binary we ship. FAZT_CRATE_DIR overrides it
# (useful to build a copy of the tree without touching the working copy).
fazt_crate_dir() {
    if [[ -n "${FAZT_CRATE_DIR:-}" ]]; then
        (cd "$FAZT_CRATE_DIR" && pwd)
    else
        (cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    fi
}

# Cargo's target dir for the crate (honours CARGO_TARGET_DIR like cargo does).
fazt_target_dir() {
    local crate
    crate="$(fazt_crate_dir)"
    if [[ -n "${CARGO_TARGET_DIR:-}" ]]; then
        case "$CARGO_TARGET_DIR" in
        /*) printf '%s\n' "$CARGO_TARGET_DIR" ;;
        *) printf '%s\n' "$crate/$CARGO_TARGET_DIR" ;;
        esac
    else
        printf '%s\n' "$crate/target"
    fi
}

fazt_dist_dir() { printf '%s\n' "${FAZT_DIST_DIR:-$(fazt_target_dir)/dist}"; }

# Full target triple for a short or full name (x86_64, aarch64/arm64, armv7/arm), or fail.
target_of() {
    case "$1" in
    x86_64 | x86_64-musl) echo x86_64-unknown-linux-musl ;;
    aarch64 | arm64) echo aarch64-unknown-linux-musl ;;
    armv7 | arm) echo armv7-unknown-linux-musleabihf ;;
    *)
        is_known_target "$1" || die "unknown target $1 (known: ${FAZT_ALL_TARGETS[*]})"
        echo "$1"
        ;;
    esac
}

is_known_target() {
    local t
    for t in "${FAZT_ALL_TARGETS[@]}"; do [[ "$t" == "$1" ]] && return 0; done
    return 1
}

# --- installation -----------------------------------------------------------

# Runs a command as root: directly when we are root (CI, containers), through
# sudo otherwise.
as_root() {
    if [[ "$(id -u)" == 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root to run: $* (no sudo)"
    fi
}

# apt_install PKG...: installs the Debian packages that are not installed yet.
# `apt-get update` only runs when a first install attempt fails, because on a
# fresh machine the package lists may be missing or stale.
apt_install() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    ((${#missing[@]} == 0)) && return 0
    command -v apt-get >/dev/null 2>&1 || die "missing packages ${missing[*]} and no apt-get to install them"
    log "apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if ! as_root apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; then
        as_root apt-get update -q >/dev/null
        as_root apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null ||
            die "apt-get install ${missing[*]} failed"
    fi
}

# The nightly used for -Z build-std (every target by default, armv7 always).
# Pinned: -Z flags and std's build features are unstable, and the shipped size
# is measured with this one. Override with FAZT_NIGHTLY=nightly (latest).
FAZT_NIGHTLY="${FAZT_NIGHTLY:-nightly-2026-05-20}"

# Adds TARGET's rust-std to the active toolchain: the one a plain `cargo`
# uses in the current directory (rustup default or rust-toolchain.toml).
ensure_rustup_target() { # TARGET
    if ! rustup target list --installed 2>/dev/null | grep -qx "$1"; then
        log "rustup target add $1"
        rustup target add "$1" >&2 || die "rustup target add $1 failed"
    fi
}

ensure_nightly_rust_src() {
    if ! rustup run "$FAZT_NIGHTLY" rustc --version >/dev/null 2>&1; then
        log "rustup toolchain install $FAZT_NIGHTLY"
        rustup toolchain install "$FAZT_NIGHTLY" --profile minimal >&2 || die "installing $FAZT_NIGHTLY failed"
    fi
    if ! rustup +"$FAZT_NIGHTLY" component list --installed 2>/dev/null | grep -q '^rust-src'; then
        log "rustup +$FAZT_NIGHTLY component add rust-src"
        rustup +"$FAZT_NIGHTLY" component add rust-src >&2 || die "rust-src for $FAZT_NIGHTLY failed"
    fi
}

# zig is the C cross compiler and linker for every musl target (SQLite, QuickJS
# and ring contain C). The PyPI wheel is the only registry source we have.
ensure_zig() {
    if command -v zig >/dev/null 2>&1 || python3 -m ziglang version >/dev/null 2>&1; then
        return 0
    fi
    python3 -m pip --version >/dev/null 2>&1 || apt_install python3 python3-pip
    log "pip install ziglang"
    # Debian's own python3 refuses system-wide pip installs (PEP 668) unless told.
    python3 -m pip install -q ziglang >&2 ||
        python3 -m pip install -q --break-system-packages ziglang >&2 ||
        die "pip install ziglang failed"
    python3 -m ziglang version >/dev/null 2>&1 || die "ziglang installed but 'python3 -m ziglang' does not run"
}

ensure_cargo_zigbuild() {
    # `cargo zigbuild --version` is rejected; the binary itself answers it.
    if cargo-zigbuild --version >/dev/null 2>&1; then
        return 0
    fi
    log "cargo install cargo-zigbuild --locked (about a minute)"
    cargo install -q cargo-zigbuild --locked >&2 || die "cargo install cargo-zigbuild failed"
}

# bindgen (armv7 only: rquickjs ships no pre-generated bindings for it) loads
# libclang at build time.
ensure_libclang() {
    # libclang-dev also brings clang's own headers (stddef.h...), which bindgen
    # needs as much as the library; LIBCLANG_PATH means the user set it up.
    [[ -n "${LIBCLANG_PATH:-}" ]] && return 0
    apt_install libclang-dev
}

ensure_qemu_user() {
    if command -v qemu-aarch64-static >/dev/null 2>&1 && command -v qemu-arm-static >/dev/null 2>&1; then
        return 0
    fi
    apt_install qemu-user-static
}

# Everything needed to build TARGET (idempotent).
ensure_build_tools() { # TARGET USE_NIGHTLY(0/1)
    local target="$1" nightly="$2"
    ensure_zig
    ensure_cargo_zigbuild
    if [[ "$nightly" == 1 ]]; then
        ensure_nightly_rust_src
    else
        ensure_rustup_target "$target"
    fi
    if [[ "$target" == armv7-* ]]; then
        ensure_libclang
    fi
}

# --- checks -------------------------------------------------------------------

# check_static BINARY: fails unless BINARY is an ELF executable that needs no
# loader and no shared library: no PT_INTERP program header and no DT_NEEDED
# entry. A static-pie keeps a small .dynamic section for self-relocation, which
# is still fully static, so we report the dynamic section but do not reject it.
check_static() {
    local bin="$1" desc
    [[ -f "$bin" ]] || die "check_static: $bin does not exist"
    command -v file >/dev/null 2>&1 || apt_install file
    command -v readelf >/dev/null 2>&1 || apt_install binutils
    desc="$(file -b "$bin")"
    [[ "$desc" == ELF* ]] || die "$bin is not an ELF file: $desc"
    if readelf -lW "$bin" | grep -q 'Requesting program interpreter'; then
        die "$bin asks for a program interpreter (dynamically linked): $desc"
    fi
    if readelf -dW "$bin" 2>/dev/null | grep -q '(NEEDED)'; then
        die "$bin needs shared libraries: $(readelf -dW "$bin" | grep '(NEEDED)' | tr -s ' ')"
    fi
    if readelf -dW "$bin" 2>/dev/null | grep -q 'There is no dynamic section'; then
        log "static ok: $(basename "$bin"): no dynamic section, no interpreter ($desc)"
    else
        log "static ok: $(basename "$bin"): static-pie (no interpreter, no NEEDED) ($desc)"
    fi
}

# Size of a file in bytes.
file_size() { stat -c %s "$1"; }

# logged_addr LOG PID WORDS [SECONDS]: waits for the line "... WORDS ADDR" in
# LOG (servers started on port 0 log the address the OS chose) and prints
# ADDR. Status 1 with the reason on stderr if PID exits first or SECONDS
# (default 60) pass.
logged_addr() {
    local log_file="$1" pid="$2" words="$3" secs="${4:-60}" found="" i
    for ((i = 0; i < secs * 10; i++)); do
        found="$(sed -n "s/.*$words \([0-9.]*:[0-9]*\).*/\1/p" "$log_file" | head -n1)"
        if [[ -n "$found" ]]; then
            echo "$found"
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "serve exited before logging '$words ADDR'" >&2
            return 1
        fi
        sleep 0.1
    done
    echo "serve did not log '$words ADDR' within $secs s" >&2
    return 1
}
