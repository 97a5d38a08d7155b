import { strict as assert } from "assert";
import { LoadResult } from "../../lib/load/result";
import { cpuCell, MatrixResults, MatrixRow, renderReport, renderTerminalTable, tableRows, verdictCell, whatToPick } from "../../lib/report";
import { slowClientsEffect } from "../../lib/load/slowClients";
import { result as fixture, run } from "./fixtures/runs";

/** A result of three runs around `rps` (the second the median), as a matrix row holds it. */
const result = (rps: number, limit: number, spread = 2): LoadResult => {
    const runs = [run(rps - spread), run(rps), run(rps + spread)].map((r) => ({ ...r, limitRps: limit, efficiency: r.requestsPerSecond / limit }));
    return { ...fixture(runs), ...runs[1], repeats: runs };
};

const timings = { deploySeconds: 3, loadSeconds: 11, destroySeconds: 2 };
const RESULTS: MatrixResults = {
    startedAt: "2026-11-25T00:00:00Z", wallSeconds: 300, environment: { machine: "2 cores" }, loadOverrides: {},
    rows: [
        { scenario: "gunicorn-sync", status: "ok", serverMode: "gunicorn-sync", server: "gunicorn: 4 workers x 50 threads",
            ingress: "none", result: result(150, 200), baseline: result(175, 200), tutorialRps: 148.95, error: null, timings },
        { scenario: "nginx-uwsgi", status: "ok", serverMode: "uwsgi-gevent", server: "uwsgi --gevent: 1 worker(s) x 2000 async cores",
            ingress: "nginx", result: result(160, 200), baseline: result(175, 200), tutorialRps: null, error: null, timings },
        { scenario: "uwsgi-sync", status: "failed", serverMode: "uwsgi-sync", server: "", ingress: "none", result: null,
            baseline: null, tutorialRps: 157.67, error: "flask-app exited before it was ready\nboom", timings },
    ],
    sweep: [],
};
// As the matrix's JSON holds a scenario beyond the tutorial: no tutorialRps key at all.
const beyond: MatrixRow = JSON.parse(JSON.stringify({ ...RESULTS.rows[0], scenario: "granian", tutorialRps: undefined }));

describe("matrix report", () => {
    it("puts our figure, with its interval and tie group, next to the tutorial's, the limit and the efficiency", () => {
        const [row] = tableRows(RESULTS);
        // Runs 148, 150, 152: mean 150, sd 2, so +-4.303 x 2 / sqrt(3) = 4.97.
        assert.deepEqual(row, ["gunicorn-sync", "gunicorn: 4 workers x 50 threads", "ab 2.3", "3", "150 [145-155]", "2", "148.95", "200", "75.0%", "0",
            "13.333", "1150", "5 / 205", "175", "181.82", "latency-bound", "driver 0.12, upstream 0.3, app 0.75, ingress -; machine 1.2/2 (others 0.1 avg)"]);
    });

    it("opens with what to pick: the groups of ties at each load, with their evidence", () => {
        const text = whatToPick(RESULTS).join("\n");
        assert.match(text, /\*\*Most req\/s at the tutorial's load\.\*\* Median \[95 % t-interval of the mean\] over 3 runs each/);
        assert.match(text, /- at 2000 requests, 200 clients, 1 s delay, ab:\n {2}1\. \*\*nginx-uwsgi\*\*: nginx-uwsgi 160 \[155-165\]\n {2}2\. gunicorn-sync: gunicorn-sync 150 \[145-155\]; below nginx-uwsgi \(p = 0\.\d+\)/);
        assert.match(text, /\*\*Highest capacity at the objective\.\*\* Not searched in this run/);
        assert.match(text, /\*\*Fewest threads for the same load\.\*\*[^]*1\. \*\*gunicorn-sync, nginx-uwsgi\*\*: .*\(tied within the noise\)/);
        assert.match(text, /\*\*Cheapest in CPU per request\.\*\*/);
    });

    it("shows a missing tutorial figure as such, and a failed scenario as FAILED", () => {
        const rows = tableRows(RESULTS);
        assert.equal(rows[1][6], "not published");
        assert.equal(tableRows({ ...RESULTS, rows: [beyond] })[0][6], "beyond the tutorial");
        assert.match(rows[1][1], /behind nginx/);
        assert.deepEqual(rows[2].slice(2, 9), ["-", "-", "FAILED", "-", "157.67", "-", "-"]);
        assert.deepEqual(rows[2].slice(-2), ["-", "-"]);
    });

    it("renders report.md with the table, the failure's cause, the link to the charts' page and the environment", () => {
        const md = renderReport(RESULTS);
        assert.match(md, /\| scenario \| server \| driver \| runs \| req\/s \[95 % interval\] \| rank \| tutorial \| limit \| efficiency \|/);
        assert.match(md, /\| gunicorn-sync \| gunicorn: 4 workers x 50 threads \| ab 2\.3 \| 3 \| 150 \[145-155\] \| 2 \| 148\.95 \| 200 \| 75\.0% \|/);
        assert.ok(md.indexOf("## What to pick") < md.indexOf("## Every scenario"), "the answer first");
        assert.match(md, /## The harness's own noise\n\n.*\n\n- 2000 requests, 200 clients, 1 s, ab: 175 req\/s over 3 run\(s\) \(95 % interval 170-180, CV 1\.1 %, min 173, max 177\)/);
        assert.match(md, /### uwsgi-sync\n\n```\nflask-app exited before it was ready/);
        assert.match(md, /\[report\.html\]\(report\.html\)/);
        assert.match(md, /## Who ran out first\n\n- gunicorn-sync: \*\*latency-bound: near its limit\*\*\. latency-bound: 90 %/);
        assert.match(md, /- machine: 2 cores/);
        assert.doesNotMatch(md, /Concurrency sweep/);
    });

    it("marks a keep-alive load in the driver's cell, and shows what slow clients did to each scenario's answered requests", () => {
        const fed = [run(9.7, { complete: 16, timeTakenSeconds: 1.65 }), run(9.9, { complete: 16, timeTakenSeconds: 1.62 })];
        const starved = run(1.33, { complete: 16, failed: 16, timeTakenSeconds: 12 });
        const slowClients = slowClientsEffect({ clients: 4, connected: 4, opened: 5, reopened: 1 }, fed, [starved, starved]);
        const rows = [
            { ...RESULTS.rows[0], result: { ...result(150, 200), keepAlive: true, slowClients } },
            RESULTS.rows[1],
        ];
        const results = { ...RESULTS, rows };
        assert.equal(tableRows(results)[0][2], "ab 2.3, keep-alive");
        assert.equal(tableRows(results)[1][2], "ab 2.3");
        const text = renderReport(results);
        assert.match(text, /## Slow clients\n/);
        assert.match(text, /\| gunicorn-sync \| 4 \(4\) \| 9\.79 -> 0 \(-100 %\) \| 1150 -> 1150 \(\+0 %, within noise\) \| 0 -> 32 \| 1 \|/);
        assert.ok(!/\| nginx-uwsgi \| \d+ \(/.test(text), "a scenario without slow clients has no row there");
        assert.ok(!renderReport(RESULTS).includes("## Slow clients"), "no section where none were held");
    });

    it("lines up the terminal table", () => {
        const lines = renderTerminalTable(RESULTS).split("\n");
        assert.equal(lines.length, 4);
        assert.equal(lines[1].indexOf("150 ["), lines[0].indexOf("req/s"));
    });

    it("renders the sweep with each level's split, verdict and failed level's cause", () => {
        const md = renderReport({ ...RESULTS, sweep: [
            { scenario: "gunicorn-sync", concurrency: 50, requests: 250, status: "ok", result: result(45, 50), baseline: null, error: null, split: "" },
            { scenario: "gunicorn-sync", concurrency: 50, requests: 250, status: "ok", result: result(48, 50), baseline: null, error: null,
                split: "driver=0 app=1" },
            { scenario: "gunicorn-sync", concurrency: 2000, requests: 10000, status: "failed", result: null, baseline: null,
                error: "ab exited with 1:\napr_socket_recv: Connection reset by peer (104)", split: "" },
        ] });
        assert.match(md, /## Concurrency sweep/);
        assert.match(md, /\| gunicorn-sync \| none \| ab \| 50 \| 250 \| 45 \| 50 \| 90\.0% \|.*\| latency-bound \|/);
        assert.match(md, /\| gunicorn-sync \| driver=0 app=1 \| ab \| 50 \| 250 \| 48 \|/);
        assert.match(md, /\| gunicorn-sync \| none \| - \| 2000 \| 10000 \| FAILED \| - \| - \| - \| - \| - \| - \| - \| - \| ab exited with 1: \|/);
        assert.match(md, /- sweep gunicorn-sync, 50 clients, split driver=0 app=1: \*\*latency-bound/);
    });

    it("names the bottleneck: a role's CPU, the machine, or what else held the run back", () => {
        assert.equal(verdictCell({ verdict: "app", words: "", rule: "" }), "app (CPU)");
        assert.equal(verdictCell({ verdict: "machine", words: "", rule: "" }), "machine (all cores)");
        assert.equal(verdictCell({ verdict: "concurrency", words: "", rule: "" }), "concurrency");
        assert.equal(verdictCell(null), "-");
        assert.equal(cpuCell(null), "-");
    });
});
