#!/usr/bin/env bash
# Quick small-file comparison: fazt vs the may_minihttp hello-world vs nginx
# serving the same 1 KiB file (requests/s, p99, idle and loaded RSS).
# Same as `bench/run.sh --quick`; results in bench/results/quick.{md,svg,json}.
exec "$(dirname "${BASH_SOURCE[0]}")/run.sh" --quick "$@"
