import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { capacityChart, cpuChart, renderHtmlReport, rpsCharts, runCharts } from "../../lib/htmlReport";
import { Probe } from "../../lib/load/capacity";
import { LoadResult } from "../../lib/load/result";
import { MatrixResults, renderReport } from "../../lib/report";
import { parseRun, RESULTS_FORMAT, Run } from "../../lib/runs";
import { defaultOut, findRuns } from "../../scripts/report";
import { result as fixture, run } from "./fixtures/runs";

/** Three runs around `rps`, as a matrix row holds them. */
const result = (rps: number, spread = 2, over: Partial<LoadResult> = {}): LoadResult => {
    const runs = [run(rps - spread), run(rps), run(rps + spread)];
    return { ...fixture(runs), ...runs[1], repeats: runs, ...over };
};
const timings = { deploySeconds: 3, loadSeconds: 11, destroySeconds: 2 };
const row = (scenario: string, r: LoadResult | null, tutorialRps: number | null | undefined = null) => ({
    scenario, status: r ? "ok" as const : "failed" as const, serverMode: scenario, server: `${scenario} server`, ingress: "none", result: r, baseline: null,
    tutorialRps, error: r ? null : "flask-app exited before it was ready\n--- last lines of logs/uwsgi-sync.log:\nbind(): Address already in use", timings,
});
const matrix = (startedAt: string, rows: MatrixResults["rows"]): MatrixResults => ({
    format: RESULTS_FORMAT, startedAt, wallSeconds: 300, environment: { machine: "2 cores" }, loadOverrides: { loadRepeats: "3" }, rows, sweep: [],
});
const RUN: Run = {
    name: "matrix-b", file: "/r/matrix-b/results.json",
    results: matrix("2026-11-30T12:00:00Z", [row("gunicorn-sync", result(150), 148.95), row("uwsgi-gevent", result(170)), row("uwsgi-sync", null, 157.67)]),
};
const LIB = [{ name: "vega", version: "6.4.0", license: "BSD-3-Clause", code: "window.vega = {};" }];
const page = (runs: Run[]) => renderHtmlReport(runs, LIB, (r) => `${r.name}/results.json`);

describe("the HTML report", () => {
    it("is one page that needs no network: its scripts inlined, the raw JSON a link beside it", () => {
        const html = page([RUN]);
        assert.match(html, /<script>\/\* vega 6\.4\.0 \(BSD-3-Clause\), inlined so the page needs no network \*\/\nwindow\.vega = \{\};/);
        assert.doesNotMatch(html, /<script[^>]* src=|<link |(?:src|href)="(?:https?:)?\/\//);
        assert.match(html, /<a href="matrix-b\/results\.json">/);
    });

    it("says who ran out first for every scenario and every level of a sweep, as report.md does", () => {
        const judged = (words: string) => ({ ...result(150), bottleneck: { verdict: "app" as const, words, rule: "the rule's figures" } });
        const withSweep = { ...RUN.results, rows: [row("gunicorn-sync", judged("the app ran out of CPU first"))],
            sweep: [{ scenario: "uwsgi-gevent", concurrency: 1000, requests: 5000, status: "ok" as const, result: judged("the machine ran out"), baseline: null, error: null, split: "" }] };
        const html = page([{ ...RUN, results: withSweep }]);
        assert.match(html, /<li><strong>gunicorn-sync<\/strong>: the app ran out of CPU first\. the rule's figures<\/li>/);
        assert.match(html, /<li><strong>sweep uwsgi-gevent, 1000 clients<\/strong>: the machine ran out\. the rule's figures<\/li>/);
        assert.match(renderReport(withSweep), /- sweep uwsgi-gevent, 1000 clients: \*\*the machine ran out\*\*\. the rule's figures/);
    });

    it("tables every scenario, and shows a failed one as failed with its log's tail, not as 0", () => {
        const html = page([RUN]);
        const table = html.slice(html.indexOf('<section id="scenarios">'), html.indexOf("</section>", html.indexOf('<section id="scenarios">')));
        for (const s of ["gunicorn-sync", "uwsgi-gevent", "uwsgi-sync"]) assert.match(table, new RegExp(`<tr><td>${s}</td>`));
        assert.match(table, /<tr><td>uwsgi-sync<\/td>(<td>[^<]*<\/td>){3}<td>FAILED<\/td>/);
        assert.match(html, /<h3>uwsgi-sync: FAILED<\/h3><pre>flask-app exited before it was ready\n--- last lines of logs\/uwsgi-sync\.log:\nbind\(\): Address already in use<\/pre>/);
        const values = (rpsCharts(RUN.results)[0].spec.data as { values: { scenario: string; figure: string }[] }).values;
        assert.deepEqual(values.filter((v) => v.scenario === "uwsgi-sync").map((v) => v.figure), ["failed"]);
    });

    it("draws req/s with each run, the limit, the driver's ceiling and the tutorial's figure, one chart per load", () => {
        const [chart] = rpsCharts(RUN.results);
        const figures = (chart.spec.data as { values: { scenario: string; figure: string; lo?: number | null }[] }).values.filter((v) => v.scenario === "gunicorn-sync");
        assert.deepEqual(figures.map((v) => v.figure), ["measured (median)", "each run", "each run", "each run", "limit", "driver ceiling", "tutorial"]);
        assert.ok(figures[0].lo! < 150, "an error bar below the median");
        assert.equal((chart.spec.encoding as any).x.field, "scenario");
        // Beyond the tutorial, or at another load than its: no tutorial mark.
        assert.ok(!(chart.spec.data as any).values.some((v: any) => v.scenario === "uwsgi-gevent" && v.figure === "tutorial"));
        const small = { ...RUN.results, rows: [row("gunicorn-sync", result(30, 1, { requests: 20, concurrency: 10 }), 148.95)] };
        assert.ok(!(rpsCharts(small)[0].spec.data as any).values.some((v: any) => v.figure === "tutorial"));
        const other = { ...RUN.results, rows: [...RUN.results.rows, row("psycopg2-blocking", result(1.5, 0.1, { requests: 10, concurrency: 5 }))] };
        assert.deepEqual(rpsCharts(other).map((c) => c.title), [
            "Requests per second per scenario, at 2000 requests, 200 clients, 1 s delay, ab",
            "Requests per second per scenario, at 10 requests, 5 clients, 1 s delay, ab",
        ]);
    });

    it("stacks CPU per role, leaving out a role it could not read, with the machine's cores as a line", () => {
        const chart = cpuChart(RUN.results);
        const bars = ((chart.spec.layer as any[])[0].data.values as { scenario: string; role: string }[]).filter((v) => v.scenario === "gunicorn-sync");
        assert.deepEqual(bars.map((b) => b.role), ["driver", "upstream", "app", "others"]);
        assert.deepEqual((chart.spec.layer as any[])[1].data.values, [{ cores: 2 }]);
        assert.deepEqual(chart.table.rows[0].slice(-2), ["0.1", "latency-bound: near its limit"]);
    });

    it("draws a capacity search's probes against the rate asked, the objective as a line, and tables every probe with the knee's cause", () => {
        const probe = (askedRps: number, p99: number, passed: boolean): Probe => ({
            askedRps, reachedRps: askedRps * 0.99, requests: askedRps * 3, failed: 0, latencyMs: { p50: 1000, p90: null, p99, max: null }, passed, why: "",
            cpu: null, held: null, listen: null, upstream: null, startedAt: "",
            bottleneck: { verdict: passed ? "latency-bound" : "app", words: passed ? "latency-bound" : "the app ran out of CPU first", rule: "" },
        });
        const stalled = { ...probe(200, 2500, false), bottleneck: { verdict: "unexplained" as const, words: "unexplained", rule: "" } };
        const probes = [probe(100, 1100, true), stalled, probe(200, 1200, true), probe(400, 4000, false), probe(300, 1400, true)];
        const capacity = { sloP99Ms: 1500, probeSeconds: 3, capacityRps: 300, bound: "found" as const, knee: probe(400, 4000, false), probes };
        const searched = { ...RUN.results, rows: [row("uwsgi-gevent", result(170, 2, { capacity }))] };
        assert.ok(runCharts(searched).some((c) => c.id === "capacity"));
        assert.ok(!runCharts(RUN.results).some((c) => c.id === "capacity"), "no capacity chart without a search");
        const chart = capacityChart(searched);
        const p99Panel = ((chart.spec.hconcat as any[])[1].layer as any[]);
        assert.deepEqual(p99Panel[2].data.values, [{ objective: 1500 }]);
        assert.deepEqual(p99Panel[1].data.values.map((p: any) => p.asked), [200, 400], "the probes that missed, ringed");
        assert.deepEqual(chart.table.rows.map((r) => [r[1], r[4], r[5], r[6]]), [
            ["100", "met", "300", ""], ["200", "missed, probed again", "300", ""], ["200", "met", "300", ""],
            ["400", "missed", "300", "the app ran out of CPU first"], ["300", "met", "300", ""]]);
    });

    it("over many runs: each scenario's req/s over time at each load, and the changes from the run before, ties marked", () => {
        const before: Run = { name: "matrix-a", file: "/r/matrix-a/results.json",
            results: matrix("2026-11-29T12:00:00Z", [row("gunicorn-sync", result(110, 1)), row("uwsgi-gevent", result(170)), row("gevent-pywsgi", result(150))]) };
        const html = page([before, RUN]);
        assert.match(html, /<h2>Changes from matrix-a to matrix-b<\/h2>/);
        assert.match(html, /<tr class="better"><td>gunicorn-sync<\/td><td>req\/s<\/td>/);
        assert.match(html, /<tr class="within-noise"><td>uwsgi-gevent<\/td><td>req\/s<\/td>/);
        assert.match(html, /<p class="warning">only in matrix-a: gevent-pywsgi\.<\/p>/);
        assert.match(html, /<p class="warning">only in matrix-b: uwsgi-sync\.<\/p>/);
        assert.match(html, /<h3>req\/s over time, at 2000 requests, 200 clients, 1 s delay, ab<\/h3><p>2 runs at this load/);
        // Keep-alive is another load: not drawn as the same line, and the change is flagged.
        const keptAlive: Run = { ...RUN, results: { ...RUN.results, rows: RUN.results.rows.map((r) => (r.result ? { ...r, result: { ...r.result, keepAlive: true } } : r)) } };
        const mixed = page([before, keptAlive]);
        assert.doesNotMatch(mixed, /req\/s over time/);
        assert.match(mixed, /not the same load for gunicorn-sync \(its change is the load's as much as the server's\): 2000 requests, 200 clients, 1 s delay, ab in matrix-a, 2000 requests, 200 clients, 1 s delay, ab, keep-alive in matrix-b/);
        // A harness file newer than the runs is in the over-time list, but the run shown in full is the newest of scenarios.
        const harness: Run = { name: "harness-c", file: "/r/harness-c.json", results: { ...matrix("2026-11-30T13:00:00Z", []), sweep: [] } };
        const withHarness = page([before, RUN, harness]);
        assert.match(withHarness, /<h1>flask-gevent-lab: matrix-b<\/h1>/);
        assert.match(withHarness, /<h2>Changes from matrix-a to matrix-b<\/h2>/);
    });

    it("marks a scenario that failed in the newer run as worse, and one that recovered as better", () => {
        const before: Run = { name: "matrix-a", file: "/r/matrix-a/results.json",
            results: matrix("2026-11-29T12:00:00Z", [row("gunicorn-sync", result(150)), row("uwsgi-gevent", result(170)), row("uwsgi-sync", result(160))]) };
        const html = page([before, RUN]);
        assert.match(html, /<tr class="worse"><td>uwsgi-sync<\/td><td>status<\/td><td>160 req\/s<\/td><td>FAILED<\/td><td>-<\/td><td>worse<\/td><\/tr>/);
        const recovered = page([{ ...RUN, name: "matrix-0", results: { ...RUN.results, startedAt: "2026-11-28T00:00:00Z" } }, before]);
        assert.match(recovered, /<tr class="better"><td>uwsgi-sync<\/td><td>status<\/td><td>FAILED<\/td><td>160 req\/s<\/td>/);
    });
});

describe("results files, as the reports read them", () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "fgl-runs-"));
    after(() => fs.rmSync(tmp, { recursive: true, force: true }));
    const write = (rel: string, content: unknown) => {
        fs.mkdirSync(path.dirname(path.join(tmp, rel)), { recursive: true });
        fs.writeFileSync(path.join(tmp, rel), typeof content === "string" ? content : JSON.stringify(content));
        return path.join(tmp, rel);
    };

    it("refuses an older format, another format, and what is not a results file, naming what is missing and what was expected", () => {
        const old = JSON.parse(JSON.stringify(RUN.results));
        delete old.format;
        delete old.rows[0].result.repeats;
        assert.throws(() => parseRun(JSON.stringify(old), "old/results.json"),
            /old\/results\.json: an older format: gunicorn-sync's result has no repeats .*expected the results\.json of \.\/lab matrix or \.\/lab capacity \(format flask-gevent-lab\/results@1\)/);
        assert.throws(() => parseRun(JSON.stringify({ ...RUN.results, format: "flask-gevent-lab/results@9" }), "f"), /format flask-gevent-lab\/results@9, which this version does not read/);
        assert.throws(() => parseRun("{", "f"), /f: not JSON/);
        assert.throws(() => parseRun("{}", "f"), /f: no "rows": not a results file/);
        // Written before the format was recorded, but whole: read.
        const { format, ...unmarked } = RUN.results;
        assert.equal(format, RESULTS_FORMAT);
        assert.equal(parseRun(JSON.stringify(unmarked), "f").rows.length, 3);
    });

    it("reads a harness file as a sweep, one series per driver and split", () => {
        const r = result(180, 2, { concurrency: 200, cpuAffinity: { driver: "0", upstream: "1" } });
        const h = parseRun(JSON.stringify({ options: { levels: [200] }, results: [result(175), r], failures: [] }), "harness.json");
        assert.deepEqual(h.sweep.map((p) => [p.scenario, p.split, p.concurrency]), [["harness ab", "", 200], ["harness ab", "driver=0 upstream=1", 200]]);
        assert.deepEqual(h.rows, []);
    });

    it("finds the runs of a folder, skipping the unreadable with their cause, and refuses a folder without any", () => {
        write("results/matrix-a/results.json", RUN.results);
        write("results/matrix-old/results.json", { rows: [{ scenario: "x", result: { requestsPerSecond: 1 } }], startedAt: "", environment: {} });
        write("results/e2e-stack/2026.json", {});
        const { runs, skipped } = findRuns(path.join(tmp, "results"));
        assert.deepEqual(runs.map((r) => r.name), ["matrix-a"]);
        assert.equal(skipped.length, 1);
        assert.match(skipped[0], /matrix-old\/results\.json: an older format: x's result has no repeats/);
        assert.throws(() => findRuns(path.join(tmp, "results", "e2e-stack")), /e2e-stack: not a results folder: no results\.json in it or in its folders/);
        assert.throws(() => findRuns(path.join(tmp, "nowhere")), /nowhere: no such file or folder/);
        assert.equal(defaultOut([path.join(tmp, "results", "matrix-a")]), path.join(tmp, "results", "matrix-a", "report.html"));
        assert.equal(defaultOut([path.join(tmp, "results", "matrix-a"), path.join(tmp, "results", "matrix-old")]), path.join(tmp, "results", "report.html"));
    });
});
