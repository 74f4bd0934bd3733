#!/usr/bin/env bash
# Rollbacks proven with real older binaries: builds the fazt binary of each pinned earlier
# commit (once; cached under <target>/old-releases/<commit>/fazt), then runs
# tests/old_releases.rs, which takes a database HEAD -> old binary -> HEAD and the reverse.
#
# Usage: bash tests/old-releases.sh [cargo test arguments, e.g. -- --nocapture]
#   CARGO_TARGET_DIR  where HEAD builds and the old binaries are cached (default: target)
#   CARGO             the cargo to run (default: cargo; e.g. a wrapper taking a build lock)
#   FAZT_TEST_BIN     HEAD's side is this binary instead of cargo's build (e.g. a shipped
#                     target/dist/fazt-x86_64-unknown-linux-musl; all features)
# The test's certificates come from Let's Encrypt's test CA, pebble (Debian package, installed
# here when missing, as tests/run.sh does).
#
# Pinned commits (full hashes, so a moved tag or an ambiguous prefix can never change them):
#   1058e4f  the first landed cartridge release: the last commit of the first wave of work
#            (cartridge, deploy, serverless, HTTPS/ACME, shipping, analytics, their
#            de-duplication), the commit every issue-12 branch (hostile clients, crash
#            consistency, ZIP fuzzing) forks from, and the "before" binary of the attack
#            benchmark (bench/results/attacks). 18394e7, the very first commit, is an
#            intermediate state of that wave (no deploy API, no tokens yet), not a release.
#   50d9954  the previous release: the end of issue 14 (backups, Litestream replication).
# Append a commit here when a release is cut; keep the list short (each is one build).
#
# Each is built from `git archive` of the commit into $TMPDIR/fazt-old-releases/<commit> with
# the toolchain building HEAD (`cargo build --locked --bin fazt`: its own Cargo.lock, no
# dependency updated), in the debug profile: the schema steps and SQL under test are the
# same as in the release profile, and a debug build took 35 s here against 68 s for the
# release profile (fat LTO, one codegen unit). All share one target directory,
# <target>/old-releases/target: the releases' dependencies are mostly the same versions, so
# each later commit compiles little more than fazt itself, and an interrupted build resumes.
# The commits must be in this clone: a fresh `git clone` has the whole history; a shallow
# one (`--depth`) does not, and this script says so instead of testing nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

pinned=(
    1058e4f1edef27357ed4c15196cfe8ddced57168
    50d9954053a0b79e999362eaced6bf1db1cc406c
)

cargo="${CARGO:-cargo}"
target="${CARGO_TARGET_DIR:-target}"
[[ "$target" == /* ]] || target="$PWD/$target"
cache="$target/old-releases"

missing=()
for c in "${pinned[@]}"; do
    git cat-file -e "$c^{commit}" 2>/dev/null || missing+=("$c")
done
if ((${#missing[@]})); then
    echo "tests/old-releases.sh: commit(s) ${missing[*]} not in this clone." >&2
    if [[ "$(git rev-parse --is-shallow-repository)" == true ]]; then
        echo "  This clone is shallow: run \`git fetch --unshallow\` (or clone without --depth)." >&2
    else
        echo "  They are pinned releases of fazt's history: fetch them from the repository." >&2
    fi
    exit 1
fi

if ! command -v pebble >/dev/null || ! command -v pebble-challtestsrv >/dev/null; then
    echo "tests/old-releases.sh: installing pebble (Debian package)" >&2
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq && $sudo apt-get install -y -qq pebble >/dev/null
fi

bins=()
for c in "${pinned[@]}"; do
    dir="$cache/$c"
    bin="$dir/fazt"
    if [[ -x "$bin" ]]; then
        echo "tests/old-releases.sh: ${c:0:7} cached ($bin)" >&2
    else
        echo "tests/old-releases.sh: building ${c:0:7} ($(git log -1 --format=%s "$c" | cut -c1-70))" >&2
        # Extracted outside this repository: cargo would take a tree inside it for a
        # member of HEAD's workspace (and merge HEAD's .cargo/config.toml into its own).
        # A half-extracted tree from an interrupted run is extracted again.
        src="${TMPDIR:-/tmp}/fazt-old-releases/$c"
        if [[ ! -f "$src/.extracted" ]]; then
            rm -rf "$src"
            mkdir -p "$src"
            git archive "$c" | tar -x -C "$src"
            touch "$src/.extracted"
        fi
        mkdir -p "$dir"
        start=$SECONDS
        # In the old tree, so its own .cargo/config.toml (SQLite build flags) applies.
        (cd "$src" && CARGO_TARGET_DIR="$cache/target" "$cargo" build --locked --bin fazt)
        cp "$cache/target/debug/fazt" "$bin.tmp"
        mv "$bin.tmp" "$bin"
        echo "tests/old-releases.sh: built ${c:0:7} in $((SECONDS - start)) s" >&2
    fi
    "$bin" --version >/dev/null
    bins+=("$bin")
done

old_bins=$(
    IFS=:
    echo "${bins[*]}"
)
FAZT_OLD_BINS="$old_bins" exec "$cargo" test --locked --test old_releases "$@"
