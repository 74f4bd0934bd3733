#!/usr/bin/env bash
# Builds fazt for each target × feature set and prints a markdown table of
# binary sizes, then checks the size budget.
#
#   cross/sizes.sh [--budget-only] [--stable-std] [--no-setup] [TARGET...]
#
# Feature sets: all features (the defaults: js, acme, analytics), none
# (--no-default-features), js only, acme only, analytics only.
# Budget (aarch64-unknown-linux-musl): all features <= 4 MiB, none <= 2 MiB;
# the script exits 1 when a budget is exceeded (after printing the table).
#   --budget-only   build just the two budgeted aarch64 variants
#   --stable-std    pass --stable-std to build.sh (rustup's prebuilt std where
#                   there is one, instead of std rebuilt for size)
# Output: the table on stdout and in <dist>/sizes.md; build logs on stderr.
set -euo pipefail

# shellcheck source=cross/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

readonly BUDGET_TARGET=aarch64-unknown-linux-musl
readonly BUDGET_ALL=$((4 * 1024 * 1024))
readonly BUDGET_NONE=$((2 * 1024 * 1024))

# name|label|cargo feature arguments
variants=(
    "all|all features|"
    "none|none|--no-default-features"
    "js|js only|--no-default-features --features js"
    "acme|acme only|--no-default-features --features acme"
    "analytics|analytics only|--no-default-features --features analytics"
)

build_args=()
targets=()
budget_only=0
while (($#)); do
    case "$1" in
    --budget-only)
        budget_only=1
        shift
        ;;
    --stable-std | --std-size | --no-setup)
        build_args+=("$1")
        shift
        ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    -*) die "unknown option $1" ;;
    *)
        targets+=("$1")
        shift
        ;;
    esac
done
if ((budget_only)); then
    targets=("$BUDGET_TARGET")
    variants=("${variants[@]:0:2}")
fi
((${#targets[@]})) || targets=("${FAZT_ALL_TARGETS[@]}")
for t in "${targets[@]}"; do is_known_target "$t" || die "unknown target $t"; done

dist_root="$(fazt_dist_dir)/sizes"
mkdir -p "$dist_root"

# Builds are grouped by variant so cargo reuses one dependency build per
# feature set across targets' LTO links as far as it can.
declare -A size secs
for v in "${variants[@]}"; do
    IFS='|' read -r name _label fargs <<<"$v"
    # shellcheck disable=SC2206 # word splitting of the feature arguments is intended
    fa=($fargs)
    for t in "${targets[@]}"; do
        start=$(date +%s)
        "$here/build.sh" "${build_args[@]}" "${fa[@]}" --dist "$dist_root/$name" "$t" >&2
        secs[$name/$t]=$(($(date +%s) - start))
        size[$name/$t]=$(file_size "$dist_root/$name/fazt-$t")
    done
done

human() { # BYTES -> "3,996,232 (3.81 MiB)"
    LC_ALL=C awk -v b="$1" 'BEGIN {
        s = sprintf("%d", b); out = "";
        while (length(s) > 3) { out = "," substr(s, length(s) - 2) out; s = substr(s, 1, length(s) - 3) }
        printf "%s%s (%.2f MiB)", s, out, b / 1048576 }'
}

table="$(fazt_dist_dir)/sizes.md"
{
    std_note="std rebuilt for size on $FAZT_NIGHTLY, C without unwind tables, panics without locations"
    for a in "${build_args[@]}"; do [[ "$a" == --stable-std ]] && std_note="rustup's std (armv7: rebuilt), C without unwind tables"; done
    echo "Release binaries (static musl, \`opt-level=\"z\"\`, fat LTO, stripped, panic=unwind; $std_note), bytes:"
    echo
    header="| target |"
    rule="|---|"
    for v in "${variants[@]}"; do
        IFS='|' read -r _name label _fargs <<<"$v"
        header+=" $label |"
        rule+="---:|"
    done
    echo "$header"
    echo "$rule"
    for t in "${targets[@]}"; do
        row="| $t |"
        for v in "${variants[@]}"; do
            IFS='|' read -r name _label _fargs <<<"$v"
            row+=" $(human "${size[$name/$t]}") |"
        done
        echo "$row"
    done
} | tee "$table"

over=0
check_budget() { # VARIANT LIMIT
    local key="$1/$BUDGET_TARGET"
    [[ -n "${size[$key]:-}" ]] || return 0
    if ((size[$key] > $2)); then
        echo "OVER BUDGET: $BUDGET_TARGET $1: $(human "${size[$key]}") > $(human "$2")" | tee -a "$table" >&2
        over=1
    else
        log "budget ok: $BUDGET_TARGET $1: $(human "${size[$key]}") <= $(human "$2")"
    fi
}
check_budget all "$BUDGET_ALL"
check_budget none "$BUDGET_NONE"
for k in "${!secs[@]}"; do log "build time $k: ${secs[$k]}s"; done
log "table written to $table"
exit "$over"
