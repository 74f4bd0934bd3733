#!/usr/bin/env bash
# Signs fazt binaries as a release that `fazt upgrade` verifies and installs.
#
#   cross/release.sh --key SECRET.sec --out DIR [--version V] [--target T] [--no-latest] BINARY...
#
# For each BINARY (normally target/dist/fazt-<target>, the target taken from the name
# unless --target is given) it writes, under DIR/<version>/:
#   fazt-<target>                    the binary, copied
#   fazt-<target>.manifest           product, version, target, file, size, sha256
#   fazt-<target>.manifest.sig       signify (Ed25519) signature of the manifest
# and DIR/latest (the version, one line) unless --no-latest. Upload DIR as it is to the
# release server (any static HTTPS host, or a fazt site), or point --release-source at it.
#
# --version defaults to the version in Cargo.toml. The key is a signify-openbsd secret key:
#   signify-openbsd -G -p fazt-release.pub -s fazt-release.sec      (README: Upgrading)
# Keep the secret key offline; it is never in the repository. SIGNIFY (default
# signify-openbsd) names the tool; the script installs Debian's signify-openbsd if missing.
set -euo pipefail

die() { echo "release.sh: $*" >&2; exit 1; }

key="" out="" version="" target="" latest=1 bins=()
while (($#)); do
    case "$1" in
    --key) key="${2:?--key needs a file}"; shift 2 ;;
    --out) out="${2:?--out needs a directory}"; shift 2 ;;
    --version) version="${2:?--version needs a value}"; shift 2 ;;
    --target) target="${2:?--target needs a value}"; shift 2 ;;
    --no-latest) latest=0; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) bins+=("$1"); shift ;;
    esac
done
[[ -n "$key" && -n "$out" ]] || die "--key and --out are required (see --help)"
((${#bins[@]})) || die "no binary given"
[[ -f "$key" ]] || die "no secret key at $key"
if [[ -z "$version" ]]; then
    version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$(dirname "${BASH_SOURCE[0]}")/../Cargo.toml" | head -1)"
fi
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]] || die "'$version' is not a version"

signify="${SIGNIFY:-signify-openbsd}"
if ! command -v "$signify" >/dev/null 2>&1; then
    sudo_=""; [[ $(id -u) == 0 ]] || sudo_="sudo"
    $sudo_ apt-get install -y -q --no-install-recommends signify-openbsd >/dev/null ||
        { $sudo_ apt-get update -q >/dev/null && $sudo_ apt-get install -y -q --no-install-recommends signify-openbsd >/dev/null; }
fi

mkdir -p "$out/$version"
for bin in "${bins[@]}"; do
    [[ -f "$bin" ]] || die "no binary at $bin"
    t="$target"
    if [[ -z "$t" ]]; then
        name="$(basename "$bin")"
        [[ "$name" == fazt-* ]] || die "cannot tell the target of $bin: name it fazt-<target> or give --target"
        t="${name#fazt-}"
    fi
    [[ "$t" =~ ^[A-Za-z0-9._-]+$ ]] || die "bad target '$t'"
    file="fazt-$t"
    cp "$bin" "$out/$version/$file.tmp" && chmod 0755 "$out/$version/$file.tmp"
    mv "$out/$version/$file.tmp" "$out/$version/$file"
    size="$(stat -c %s "$out/$version/$file")"
    sum="$(sha256sum "$out/$version/$file" | cut -d' ' -f1)"
    printf 'product fazt\nversion %s\ntarget %s\nfile %s\nsize %s\nsha256 %s\n' \
        "$version" "$t" "$file" "$size" "$sum" >"$out/$version/$file.manifest"
    rm -f "$out/$version/$file.manifest.sig"
    "$signify" -S -s "$key" -m "$out/$version/$file.manifest" -x "$out/$version/$file.manifest.sig"
    echo "signed $out/$version/$file ($t, $size bytes)"
done
if ((latest)); then
    echo "$version" >"$out/latest.tmp" && mv "$out/latest.tmp" "$out/latest"
fi
