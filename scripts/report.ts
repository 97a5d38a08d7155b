// ./lab report: one self-contained report.html (it opens from disk, with no network) of one run or of many.
//
//   ./lab report [results folder or file ...] [--out FILE] [--screenshot]
//
// A folder of one run (its results.json; a matrix, capacity or sweep run) gives <folder>/report.html; a
// folder of runs (results/, the default) gives <folder>/report.html of them all: each scenario's req/s over
// time, the changes from the run before the latest, the latest in full. A harness file
// (results/harness-<time>.json) gives the .html beside it. --screenshot writes a PNG of the page beside it
// with Chromium (apt-get install chromium).
import * as fs from "fs";
import * as path from "path";
import { InlineScript, renderHtmlReport } from "../lib/htmlReport";
import { parseRun, Run } from "../lib/runs";
import { PACKAGE_ROOT } from "../lib/packageRoot";
import { readFlags } from "./flags";

/** The chart library, inlined into every page: Vega-Lite compiles the specs, Vega draws them. */
function chartScripts(): InlineScript[] {
    return [["vega", "build/vega.min.js"], ["vega-lite", "build/vega-lite.min.js"]].map(([name, file]) => {
        const dir = path.join(PACKAGE_ROOT, "node_modules", name);
        const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"));
        return { name, version: pkg.version, license: pkg.license, code: fs.readFileSync(path.join(dir, file), "utf8") };
    });
}

const isRunFile = (f: string) => path.basename(f) === "results.json" || /^harness-.*\.json$/.test(path.basename(f));

function readRun(file: string): Run {
    const name = path.basename(file) === "results.json" ? path.basename(path.dirname(file)) : path.basename(file, ".json");
    return { name, file, results: parseRun(fs.readFileSync(file, "utf8"), file) };
}

/**
 * The runs a path names: a run's folder or file (refused with its cause when unreadable), or a folder of
 * runs (the unreadable ones skipped, each with its cause in `skipped`).
 */
export function findRuns(target: string): { runs: Run[]; skipped: string[] } {
    if (!fs.existsSync(target)) throw new Error(`${target}: no such file or folder`);
    if (fs.statSync(target).isFile()) {
        if (!isRunFile(target)) throw new Error(`${target}: not a results file (a results.json of ./lab matrix or ./lab capacity, or a results/harness-<time>.json)`);
        return { runs: [readRun(target)], skipped: [] };
    }
    if (fs.existsSync(path.join(target, "results.json"))) return { runs: [readRun(path.join(target, "results.json"))], skipped: [] };
    const candidates = fs.readdirSync(target).map((f) => path.join(target, f))
        .flatMap((f) => (fs.statSync(f).isDirectory() ? [path.join(f, "results.json")] : [f]))
        .filter((f) => isRunFile(f) && fs.existsSync(f));
    if (!candidates.length) {
        throw new Error(`${target}: not a results folder: no results.json in it or in its folders ` +
            "(a folder of ./lab matrix or ./lab capacity, e.g. results/matrix-<time>/, or results/ for all of them)");
    }
    const runs: Run[] = [];
    const skipped: string[] = [];
    for (const file of candidates) {
        try {
            runs.push(readRun(file));
        } catch (e) {
            skipped.push((e as Error).message);
        }
    }
    return { runs, skipped };
}

/** Where a report of these paths goes by default: beside the one run, or in the folder holding them. */
export function defaultOut(targets: string[]): string {
    if (targets.length === 1) {
        const t = targets[0];
        if (fs.statSync(t).isFile()) return path.basename(t) === "results.json" ? path.join(path.dirname(t), "report.html") : t.replace(/\.json$/, ".html");
        return path.join(t, "report.html");
    }
    const parts = targets.map((t) => path.resolve(t).split(path.sep));
    let shared = 0;
    while (shared < parts[0].length && parts.every((p) => p[shared] === parts[0][shared])) shared++;
    return path.join(parts[0].slice(0, shared).join(path.sep) || path.sep, "report.html");
}

/** A file as the user should read its name: relative within the project's folder, where the command runs; else absolute. */
export function shown(file: string): string {
    const relative = path.relative(process.cwd(), file);
    return relative.startsWith("..") ? path.resolve(file) : relative;
}

/** Writes the page of `runs` (the last in full, the changes from the one before it) to `out`; returns its path. */
export function writeHtmlReport(runs: Run[], out: string): string {
    const link = (run: Run) => path.relative(path.dirname(path.resolve(out)), path.resolve(run.file)).split(path.sep).join("/");
    fs.writeFileSync(out, renderHtmlReport(runs, chartScripts(), link));
    return out;
}

/** A PNG of the page beside it (report.png for report.html), drawn by Chromium; returns its path. Throws where the page shows an error. */
export async function screenshot(page: string): Promise<string> {
    const { openPage } = await import("./chromium");
    const png = page.replace(/(\.html?)?$/, ".png");
    const browser = await openPage(page, { width: 1280, height: 900 });
    try {
        await browser.evaluate("window.reportReady.then(() => true)");
        if (browser.errors.length) throw new Error(`${page} shows errors in Chromium: ${browser.errors.join("; ")}`);
        await browser.screenshot(png, { fullPage: true });
    } finally {
        await browser.close();
    }
    return png;
}

async function main(): Promise<void> {
    const targets: string[] = [];
    let out: string | undefined;
    let shot = false;
    readFlags(process.argv.slice(2), "scripts/report.ts", (flag, value) => {
        if (flag === "--out") out = value();
        else if (flag === "--screenshot") shot = true;
        else if (!flag.startsWith("--")) targets.push(flag);
        else return false;
        return true;
    });
    if (!targets.length) targets.push(path.join(PACKAGE_ROOT, "results"));
    const found = targets.map(findRuns);
    for (const s of found.flatMap((f) => f.skipped)) console.error(`report: skipped ${s}`);
    const runs = found.flatMap((f) => f.runs).sort((a, b) => a.results.startedAt.localeCompare(b.results.startedAt));
    if (!runs.length) throw new Error(`no run could be read in ${targets.join(", ")} (see the skipped files above)`);
    const page = writeHtmlReport(runs, out ?? defaultOut(targets));
    console.log(`${shown(page)}: ${runs.length} run(s)`);
    if (shot) console.log(shown(await screenshot(page)));
}

if (require.main === module) {
    main().catch((e) => {
        console.error(`report: ${(e as Error).message}`);
        process.exitCode = 2;
    });
}
