#!/usr/bin/env bash
# The test command: installs what the integration tests use when it is missing (Info-ZIP and
# Python to build real ZIPs, curl, and Let's Encrypt's test CA `pebble` for the HTTPS tests;
# Debian packages, needs root or sudo), then runs `cargo test` with any arguments given
# (e.g. `bash tests/run.sh --no-default-features`), for the whole workspace (fazt and its kernel).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for tool in zip unzip python3 curl pebble; do
    command -v "$tool" >/dev/null || need+=("$tool")
done
if [ ${#need[@]} -gt 0 ]; then
    echo "tests/run.sh: installing ${need[*]} (Debian packages)" >&2
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq && $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
exec cargo test --workspace "$@"
