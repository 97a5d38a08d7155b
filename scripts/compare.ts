// ./lab compare: how each scenario's figures changed between two runs, marked
// better / worse / within noise (Welch's t-test over the runs at 5 %).
//
//   ./lab compare <results folder A> <results folder B> [--fail-on-regression]
//   ./lab compare <results folder> <scenario A> <scenario B>       (two scenarios of one run)
//
// A folder is a matrix or capacity run's (its results.json). --fail-on-regression exits 1 when a
// scenario got worse beyond its noise.
import * as fs from "fs";
import * as path from "path";
import { compareResults, Measured, renderChanges } from "../lib/decide";
import { MatrixResults, measuredRows } from "../lib/report";

function load(folder: string): Measured[] {
    const file = path.join(folder, "results.json");
    if (!fs.existsSync(file)) throw new Error(`${folder}: no results.json (a folder of ./lab matrix or ./lab capacity, under results/)`);
    return measuredRows(JSON.parse(fs.readFileSync(file, "utf8")) as MatrixResults);
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
    if (third !== undefined) {
        // Two scenarios of one run: each renamed to one name, so they compare as one scenario.
        const rows = load(first);
        const pick = (s: string) => {
            const row = rows.find((r) => r.scenario === s);
            if (!row) throw new Error(`${first}: no scenario ${s} (it has ${rows.map((r) => r.scenario).join(", ")})`);
            return [{ scenario: `${second} -> ${third}`, result: row.result }];
        };
        [a, b, names] = [pick(second), pick(third), [second, third]];
    } else {
        [a, b, names] = [load(first), load(second), [path.basename(path.resolve(first)), path.basename(path.resolve(second))]];
    }
    const changes = compareResults(a, b);
    if (!changes.length) throw new Error("nothing to compare: no scenario ran in both");
    console.log(renderChanges(changes, names[0], names[1]));
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
