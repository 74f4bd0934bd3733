#!/usr/bin/env bash
# Builds static, stripped, size-optimised release binaries of fazt.
#
#   cross/build.sh [options] [TARGET...]
#
# TARGET: x86_64-unknown-linux-musl, aarch64-unknown-linux-musl,
#         armv7-unknown-linux-musleabihf (default: all three; short names
#         x86_64, aarch64, armv7 also work).
# Options:
#   --features LIST          cargo features (comma separated)
#   --no-default-features    build without the default features (js, acme)
#   --stable-std             link the prebuilt std from rustup where there is
#                            one (x86_64, aarch64) instead of rebuilding std
#                            for size; ~0.25 MB larger, no nightly needed for
#                            those targets; also FAZT_STD_SIZE=0
#   --std-size               rebuild std for size (the default)
#   --dist DIR               output directory (default: <target dir>/dist,
#                            also FAZT_DIST_DIR)
#   --setup-only             only install the tools (smoke.sh installs qemu itself)
#   --no-setup               do not install anything, fail if a tool is missing
# Environment: FAZT_NIGHTLY (default: the pinned one in lib.sh) is the nightly
# used for -Z build-std; CARGO_TARGET_DIR, FAZT_CRATE_DIR, RUSTFLAGS and
# TARGET_CFLAGS are honoured.
#
# Output: DIST/fazt-<target>, each checked to need no interpreter and no shared
# library. On a fresh Debian machine the script installs what it needs (rustup
# targets, nightly + rust-src, zig from PyPI, cargo-zigbuild, libclang-dev) and
# skips whatever is already present.
#
# How each target is built (see shared/TOOLCHAIN.md and cross/README.md for why):
#   every target: std rebuilt for size on the pinned nightly:
#                 RUSTFLAGS=-Clink-self-contained=no cargo +NIGHTLY zigbuild
#                 -Z build-std=std,panic_unwind
#                 -Z build-std-features=panic-unwind,optimize_for_size ...
#                 -Z location-detail=none (panics keep their message, not their
#                 file:line; FAZT_PANIC_LOCATIONS=1 keeps it), -Z fmt-debug=none
#                 (`{:?}` prints nothing; FAZT_FMT_DEBUG=1 keeps it), -Z panic-in-drop=abort
#                 (FAZT_PANIC_IN_DROP=unwind keeps unwinding drops)
#                 (zig supplies crt1.o/libc/libunwind; the release profile uses
#                 panic = "unwind" so panic_unwind must be in the built std), and the
#                 C code (SQLite, QuickJS, ring) compiled without unwind tables.
#   --stable-std: x86_64 / aarch64 with cargo zigbuild on stable and rustup's rust-std;
#                 armv7 has no rustup rust-std, so it always rebuilds std.
set -euo pipefail

# shellcheck source=cross/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

features=""
no_default=0
std_size="${FAZT_STD_SIZE:-1}"
setup=1
setup_only=0
targets=()

while (($#)); do
    case "$1" in
    --features)
        (($# >= 2)) || die "--features needs a value"
        features="$2"
        shift 2
        ;;
    --features=*)
        features="${1#*=}"
        shift
        ;;
    --no-default-features)
        no_default=1
        shift
        ;;
    --std-size)
        std_size=1
        shift
        ;;
    --stable-std)
        std_size=0
        shift
        ;;
    --dist)
        (($# >= 2)) || die "--dist needs a value"
        FAZT_DIST_DIR="$(realpath -m "$2")"
        shift 2
        ;;
    --setup-only)
        setup_only=1
        shift
        ;;
    --no-setup)
        setup=0
        shift
        ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    -*) die "unknown option $1 (see --help)" ;;
    *)
        t="$(target_of "$1")" || exit 1
        targets+=("$t")
        shift
        ;;
    esac
done
((${#targets[@]})) || targets=("${FAZT_ALL_TARGETS[@]}")

command -v cargo >/dev/null 2>&1 || die "cargo not found (install rustup first)"

# Whether a target is built with nightly -Z build-std.
uses_build_std() { [[ "$1" == armv7-* || "$std_size" == 1 ]]; }

# Run rustup and cargo from the crate, so a rust-toolchain.toml there applies.
crate="$(fazt_crate_dir)"
[[ -d "$crate" ]] && cd "$crate"

if ((setup)); then
    for t in "${targets[@]}"; do
        if uses_build_std "$t"; then ensure_build_tools "$t" 1; else ensure_build_tools "$t" 0; fi
    done
fi
if ((setup_only)); then
    log "tools ready for: ${targets[*]}"
    exit 0
fi

target_dir="$(fazt_target_dir)"
dist="$(fazt_dist_dir)"
[[ -f "$crate/Cargo.toml" ]] || die "no Cargo.toml in $crate"

# The feature arguments shared by every target.
feature_args=()
if ((no_default)); then feature_args+=(--no-default-features); fi
if [[ -n "$features" ]]; then feature_args+=(--features "$features"); fi
# A committed Cargo.lock is the dependency set we ship: refuse to silently change it.
lock_args=()
if [[ -f "$crate/Cargo.lock" ]]; then lock_args+=(--locked); fi

mkdir -p "$dist"
for t in "${targets[@]}"; do
    cmd=(cargo)
    env_vars=()
    if uses_build_std "$t"; then
        std_crates="std,panic_unwind"
        cmd+=(+"$FAZT_NIGHTLY" zigbuild -Z "build-std=$std_crates")
        if [[ "$std_size" == 1 ]]; then
            # Drop std's `backtrace` feature (a DWARF symbolizer that a stripped binary
            # cannot use anyway) and pick std's size-optimised algorithms.
            cmd+=(-Z "build-std-features=panic-unwind,optimize_for_size")
        fi
        # Without rust-std for the target there are no self-contained crt objects;
        # zig provides crt1.o, libc and libunwind instead.
        rustflags="${RUSTFLAGS:+$RUSTFLAGS }-Clink-self-contained=no"
        if [[ "$std_size" == 1 && "${FAZT_PANIC_LOCATIONS:-0}" != 1 ]]; then
            # Panic messages without file:line:column (−98 KB on aarch64): every panic is
            # caught, logged with its message and confined to its connection or job, and a
            # location helps only whoever debugs, who can rebuild with
            # FAZT_PANIC_LOCATIONS=1 (or use a debug build).
            rustflags+=" -Zlocation-detail=none"
        fi
        if [[ "$std_size" == 1 && "${FAZT_FMT_DEBUG:-0}" != 1 ]]; then
            # `{:?}` formats as nothing (−93 KB on aarch64: every derived Debug body goes).
            # No message fazt shows is made with Debug (the kernel's TLS client words
            # rustls's causes itself); panics lose the value after "on an `Err` value:".
            # FAZT_FMT_DEBUG=1 keeps Debug for whoever debugs.
            rustflags+=" -Zfmt-debug=none"
        fi
        if [[ "$std_size" == 1 && "${FAZT_PANIC_IN_DROP:-abort}" == abort ]]; then
            # Drop glue that never unwinds (−137 KB on aarch64: most cleanup landing pads
            # and their unwind tables go). A panic inside a `Drop` now aborts instead of
            # unwinding; panics elsewhere still unwind and stay in their connection or job.
            # fazt never cancels a coroutine (may's only unwinding outside real panics), its
            # own `Drop`s only release counters and locks, and a panic while unwinding
            # aborted already. FAZT_PANIC_IN_DROP=unwind keeps the default.
            rustflags+=" -Zpanic-in-drop=abort"
        fi
        env_vars+=("RUSTFLAGS=$rustflags")
    else
        cmd+=(zigbuild)
    fi
    # No unwind tables for the C code (−188 KB on aarch64): Rust panics never unwind
    # through C frames (rusqlite and rquickjs catch them at the FFI boundary, and may
    # cancels coroutines only at its own yield points, never inside SQLite or QuickJS).
    env_vars+=("TARGET_CFLAGS=${TARGET_CFLAGS:+$TARGET_CFLAGS }-fno-asynchronous-unwind-tables -fno-unwind-tables")
    cmd+=(--release --target "$t" "${lock_args[@]}" "${feature_args[@]}")
    log "building $t: ${env_vars[*]} ${cmd[*]}"
    start=$(date +%s)
    (cd "$crate" && env "${env_vars[@]}" CARGO_TARGET_DIR="$target_dir" "${cmd[@]}") ||
        die "build for $t failed: ${env_vars[*]} ${cmd[*]}"
    secs=$(($(date +%s) - start))
    built="$target_dir/$t/release/fazt"
    [[ -f "$built" ]] || die "cargo succeeded but $built is missing"
    out="$dist/fazt-$t"
    cp -f "$built" "$out.tmp" && mv -f "$out.tmp" "$out"
    check_static "$out"
    log "$out: $(file_size "$out") bytes, built in ${secs}s"
done
