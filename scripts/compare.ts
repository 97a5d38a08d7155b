// ./lab compare: how each scenario's figures changed between two runs, marked
// better / worse / within noise (Welch's t-test over the runs at 5 %).
//
//   ./lab compare <results folder A> <results folder B> [--fail-on-regression]
//   ./lab compare <results folder> <scenario A> <scenario B>       (two scenarios of one run)
//
// A folder is a matrix or capacity run's (its results.json). Two runs also give a page,
// <folder B>/compare-<A>.html: B in full and the changes from A. --fail-on-regression exits 1
// when a scenario got worse beyond its noise.
import * as path from "path";
import { compareResults, Measured, renderChanges } from "../lib/decide";
import { variantOf } from "../lib/htmlReport";
import { measuredRows } from "../lib/report";
import { Run } from "../lib/runs";
import { findRuns, writeHtmlReport } from "./report";

function load(folder: string): Run {
    const { runs } = findRuns(folder);
    if (runs.length !== 1) throw new Error(`${folder}: a folder of ${runs.length} runs; name one run's folder (results/matrix-<time>/)`);
    return runs[0];
}

function main(): void {
    const args = process.argv.slice(2);
    const failOnRegression = args.includes("--fail-on-regression");
    const [first, second, third, ...extra] = args.filter((a) => a !== "--fail-on-regression");
    if (!first || !second || extra.length || args.some((a) => a.startsWith("--") && a !== "--fail-on-regression")) {
        throw new Error("usage: ./lab compare <folder A> <folder B> [--fail-on-regression], or ./lab compare <folder> <scenario A> <scenario B>");
    }
    let a: Measured[];
    let b: Measured[];
    let names: [string, string];
    let runs: [Run, Run] | undefined;
    if (third !== undefined) {
        // Two scenarios of one run: each renamed to one name, so they compare as one scenario.
        const rows = measuredRows(load(first).results);
        const pick = (s: string) => {
            const row = rows.find((r) => r.scenario === s);
            if (!row) throw new Error(`${first}: no scenario ${s} ran (it has ${rows.map((r) => r.scenario).join(", ")})`);
            return [{ scenario: `${second} -> ${third}`, result: row.result }];
        };
        [a, b, names] = [pick(second), pick(third), [second, third]];
    } else {
        runs = [load(first), load(second)];
        [a, b, names] = [measuredRows(runs[0].results), measuredRows(runs[1].results), [runs[0].name, runs[1].name]];
    }
    const changes = compareResults(a, b);
    const only = (x: Measured[], y: Measured[]) => x.map((m) => m.scenario).filter((s) => !y.some((m) => m.scenario === s));
    for (const [name, scenarios] of [[names[0], only(a, b)], [names[1], only(b, a)]] as const) {
        if (scenarios.length) console.log(`only in ${name}: ${scenarios.join(", ")}`);
    }
    for (const m of a) {
        const other = b.find((x) => x.scenario === m.scenario);
        const [va, vb] = [variantOf(m.result), other && variantOf(other.result)];
        if (vb && va.key !== vb.key) console.log(`not the same load for ${m.scenario}: ${va.words} in ${names[0]}, ${vb.words} in ${names[1]}`);
    }
    if (!changes.length) throw new Error("nothing to compare: no scenario ran in both");
    console.log(renderChanges(changes, names[0], names[1]));
    if (runs) {
        const page = writeHtmlReport(runs, path.join(path.dirname(runs[1].file), `compare-${runs[0].name}.html`));
        console.log(`\n${path.relative(process.cwd(), page)}: ${runs[1].name} in full, and the changes from ${runs[0].name}`);
    }
    const worse = changes.filter((c) => c.verdict === "worse");
    if (failOnRegression && worse.length) {
        console.error(`worse beyond the noise: ${worse.map((c) => `${c.scenario} ${c.metric}`).join(", ")}`);
        process.exitCode = 1;
    }
}

try {
    main();
} catch (e) {
    console.error(`compare: ${(e as Error).message}`);
    process.exitCode = 2;
}
