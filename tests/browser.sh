#!/usr/bin/env bash
# The dashboard in a real browser: installs Debian's chromium and chromium-driver and
# Selenium (PyPI, into a virtualenv under the target directory) when missing, then runs
# tests/browser/dashboard.py against a fazt binary (default: a debug build made here).
# Screenshots and the server's log go to <target>/screenshots/ (CI output, not committed).
#   bash tests/browser.sh [FAZT_BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
[[ "$target" == /* ]] || target="$PWD/$target"
venv="$target/test-tools/browser-venv"

need=()
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
command -v zip >/dev/null || need+=(zip)
python3 -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
    echo "tests/browser.sh: installing ${need[*]} (Debian packages)" >&2
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c 'import selenium' 2>/dev/null; then
    echo "tests/browser.sh: installing selenium into $venv (PyPI)" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "selenium>=4.10,<5"
fi
bin="${1:-}"
if [[ -z "$bin" ]]; then
    cargo build --locked --bin fazt
    bin="$target/debug/fazt"
fi
# Selenium finds Debian's chromedriver on PATH (no download).
export SE_AVOID_STATS=true
"$venv/bin/python" tests/browser/dashboard.py "$(realpath "$bin")" "$target/screenshots"
