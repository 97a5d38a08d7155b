#!/usr/bin/env bash
# Benchmark, not a test: runs the full default matrix twice, one run per
# scenario (./lab matrix --repeats 1) and then as it runs by default (3 runs
# each, every figure with its interval), plus any options given to both, and
# prints each one's wall time, each scenario's deploy, load and destroy times,
# and the ratio of the two. The goal on a 2-core machine: the repeated matrix
# at most 3.3 x the single-run one (the deploys and destroys are not repeated).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/lab" setup >/dev/null

# Runs the matrix with the given options; prints its wall time in seconds on the last line.
timed() {
  local start end status dir
  start=$(date +%s.%N)
  "$root/lab" matrix "$@" >/dev/null
  status=$?
  end=$(date +%s.%N)
  dir=$(ls -d "$root"/results/matrix-20* | sort | tail -1)
  node - "$dir/results.json" "$start" "$end" "$status" <<'JS'
const [file, start, end, status] = process.argv.slice(2);
const r = require(file);
const pad = (s, n) => String(s).padEnd(n);
console.log(pad("scenario", 22) + pad("runs", 6) + pad("deploy s", 10) + pad("load s", 10) + pad("destroy s", 11) + "status");
for (const row of r.rows) {
  const t = row.timings;
  console.log(pad(row.scenario, 22) + pad(row.result?.repeats.length ?? "-", 6) + pad(t.deploySeconds.toFixed(1), 10) +
    pad(t.loadSeconds.toFixed(1), 10) + pad(t.destroySeconds.toFixed(1), 11) + row.status);
}
console.log(`results: ${require("path").dirname(file)} (exit ${status})`);
console.log((Number(end) - Number(start)).toFixed(1));
JS
}

echo "== one run per scenario"
single=$(timed --repeats 1 "$@")
echo "$single" | sed '$d'
echo "== three runs per scenario (the default)"
repeated=$(timed "$@")
echo "$repeated" | sed '$d'
node -e '
const [one, three] = process.argv.slice(1).map(Number);
const ratio = three / one;
console.log(`\nwall time: ${one.toFixed(0)} s with one run, ${three.toFixed(0)} s with three: ${ratio.toFixed(2)} x (goal: <= 3.3 x) -> ${ratio <= 3.3 ? "met" : "NOT met"}`);
' "$(echo "$single" | tail -1)" "$(echo "$repeated" | tail -1)"
