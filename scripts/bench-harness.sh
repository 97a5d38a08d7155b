#!/usr/bin/env bash
# Benchmark, not a test: the harness's own limits. Loads the bare slow API (no
# Flask) with ab and oha at 200, 1000, 2000 and 5000 clients, without and with
# a CPU split (driver on CPU 0, slow API on CPU 1), and prints per level the
# req/s against the limit, the driver's ceiling and who ran out first; every
# result goes to results/harness-<time>.json. About 4 minutes on 2 cores (oha is
# built first if it never was: ~4 more). Options: see scripts/harness.ts.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/lab" setup >/dev/null || echo "bench-harness: ./lab setup reported something missing (see ./lab check)" >&2
cd "$root"
exec npx ts-node --transpile-only scripts/harness.ts "$@"
