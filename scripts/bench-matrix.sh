#!/usr/bin/env bash
# Benchmark, not a test: runs the full default matrix (./lab matrix, plus any
# options given) and prints its wall time and each scenario's deploy, load and
# destroy times. The goal on a 2-core machine: the whole default matrix in
# under 6 minutes.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/lab" setup >/dev/null
start=$(date +%s.%N)
"$root/lab" matrix "$@" >/dev/null
status=$?
end=$(date +%s.%N)
dir=$(ls -d "$root"/results/matrix-20* | sort | tail -1)
node - "$dir/results.json" "$start" "$end" <<'JS'
const [file, start, end] = process.argv.slice(2);
const r = require(file);
const pad = (s, n) => String(s).padEnd(n);
console.log(pad("scenario", 22) + pad("deploy s", 10) + pad("load s", 10) + pad("destroy s", 11) + "status");
for (const row of r.rows) {
  const t = row.timings;
  console.log(pad(row.scenario, 22) + pad(t.deploySeconds.toFixed(1), 10) + pad(t.loadSeconds.toFixed(1), 10) +
    pad(t.destroySeconds.toFixed(1), 11) + row.status);
}
const wall = Number(end) - Number(start);
console.log(`\nwall time: ${wall.toFixed(1)} s for ${r.rows.length} scenarios (goal: under 360 s) -> ${wall < 360 ? "met" : "NOT met"}`);
console.log(`results: ${require("path").dirname(file)}`);
JS
exit $status
