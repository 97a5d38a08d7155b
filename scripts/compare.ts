// ./lab compare: how each scenario's figures changed between two runs, marked
// better / worse / within noise (Welch's t-test over the runs at 5 %).
//
//   ./lab compare <results folder A> <results folder B> [--fail-on-regression]
//   ./lab compare <results folder> <scenario A> <scenario B>       (two scenarios of one run)
//
// A folder is a matrix or capacity run's (its results.json). Two runs also give a page,
// <folder B>/compare-<A>.html: B in full and the changes from A. --fail-on-regression exits 1
// when a scenario failed in B or got worse beyond its noise at the same load.
import * as path from "path";
import { compareRuns, comparisonNotes, Outcome, regressions, renderChanges } from "../lib/decide";
import { outcomesOf } from "../lib/report";
import { Run } from "../lib/runs";
import { findRuns, shown, writeHtmlReport } from "./report";

function load(folder: string): Run {
    const { runs, skipped } = findRuns(folder);
    if (runs.length !== 1) {
        throw new Error(`${folder}: ${runs.length ? `a folder of ${runs.length} runs` : "no run could be read"}; name one run's folder (results/matrix-<time>/)` +
            skipped.map((s) => `\n  skipped ${s}`).join(""));
    }
    if (!runs[0].results.rows.length) throw new Error(`${folder}: a harness run has no scenarios to compare (a folder of ./lab matrix or ./lab capacity)`);
    return runs[0];
}

function main(): void {
    const args = process.argv.slice(2);
    const failOnRegression = args.includes("--fail-on-regression");
    const [first, second, third, ...extra] = args.filter((a) => a !== "--fail-on-regression");
    if (!first || !second || extra.length || args.some((a) => a.startsWith("--") && a !== "--fail-on-regression")) {
        throw new Error("usage: ./lab compare <folder A> <folder B> [--fail-on-regression], or ./lab compare <folder> <scenario A> <scenario B>");
    }
    let a: Outcome[];
    let b: Outcome[];
    let names: [string, string];
    let runs: [Run, Run] | undefined;
    if (third !== undefined) {
        // Two scenarios of one run: each renamed to one name, so they compare as one scenario.
        const rows = outcomesOf(load(first).results);
        const pick = (s: string) => {
            const row = rows.find((r) => r.scenario === s);
            if (!row) throw new Error(`${first}: no scenario ${s} (it has ${rows.map((r) => r.scenario).join(", ")})`);
            return [{ scenario: `${second} -> ${third}`, result: row.result }];
        };
        [a, b, names] = [pick(second), pick(third), [second, third]];
    } else {
        runs = [load(first), load(second)];
        [a, b, names] = [outcomesOf(runs[0].results), outcomesOf(runs[1].results), [runs[0].name, runs[1].name]];
    }
    const comparison = compareRuns(a, b);
    for (const note of comparisonNotes(comparison, names[0], names[1])) console.log(note);
    if (!comparison.changes.length) throw new Error("nothing to compare: no scenario ran in both");
    console.log(renderChanges(comparison.changes, names[0], names[1]));
    if (runs) {
        const page = writeHtmlReport(runs, path.join(path.dirname(runs[1].file), `compare-${runs[0].name}.html`));
        console.log(`\n${shown(page)}: ${runs[1].name} in full, and the changes from ${runs[0].name}`);
    }
    const worse = regressions(comparison);
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
