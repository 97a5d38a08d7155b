import { strict as assert } from "assert";
import { CpuUsage } from "../../lib/load/cpu";
import { LoadResult } from "../../lib/load/result";
import { cpuCell, MatrixResults, renderReport, renderTerminalTable, tableRows, verdictCell } from "../../lib/report";

const CPU: CpuUsage = {
    cores: 2, seconds: 11,
    roles: {
        driver: { avgCores: 0.1, peakCores: 0.123, usableCores: 2, peakProcessCores: 0.123, processCores: 1 },
        upstream: { avgCores: 0.2, peakCores: 0.3, usableCores: 2, peakProcessCores: 0.3, processCores: 1 },
        app: { avgCores: 0.5, peakCores: 0.75, usableCores: 2, peakProcessCores: 0.5, processCores: 1 },
        ingress: null,
    },
    machine: { avgBusyCores: 0.9, peakBusyCores: 1.2, minIdle: 0.4, othersAvgCores: 0.1 },
};

const result = (rps: number, limit: number): LoadResult => ({
    driver: "ab", driverVersion: "2.3", url: "http://127.0.0.1:3000/?delay=1", requests: 2000, concurrency: 200, delaySeconds: 1,
    complete: 2000, failed: 0, timeTakenSeconds: 2000 / rps, requestsPerSecond: rps,
    latencyMs: { p50: 1010, p90: 1100, p95: 1150, p99: 1300, p999: null, max: 1500 },
    limitRps: limit, efficiency: rps / limit, driverCeilingRps: 181.82, threadsBefore: 5, threadsPeak: 205,
    cpu: CPU, bottleneck: { verdict: "none", rule: "latency-bound: no role at >= 90 % of its cores, machine 40 % idle at its busiest (>= 5 %)" },
    cpuAffinity: {}, startedAt: "t",
});

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

describe("matrix report", () => {
    it("puts our figure next to the tutorial's, the limit and the efficiency", () => {
        const [row] = tableRows(RESULTS);
        assert.deepEqual(row, ["gunicorn-sync", "gunicorn: 4 workers x 50 threads", "ab 2.3", "150", "148.95", "200", "75.0%", "0",
            "13.333", "1150", "5 / 205", "175", "181.82", "latency-bound", "driver 0.12, upstream 0.3, app 0.75, ingress -; machine 1.2/2 (others 0.1 avg)"]);
    });

    it("shows a missing tutorial figure as such, and a failed scenario as FAILED", () => {
        const rows = tableRows(RESULTS);
        assert.equal(rows[1][4], "not published");
        assert.match(rows[1][1], /behind nginx/);
        assert.deepEqual(rows[2].slice(2, 7), ["-", "FAILED", "157.67", "-", "-"]);
        assert.deepEqual(rows[2].slice(-2), ["-", "-"]);
    });

    it("renders report.md with the table, the failure's cause, the chart and the environment", () => {
        const md = renderReport(RESULTS, { rps: "rps.svg", latency: "latency.svg" });
        assert.match(md, /\| scenario \| server \| driver \| req\/s \| tutorial \| limit \| efficiency \|/);
        assert.match(md, /\| gunicorn-sync \| gunicorn: 4 workers x 50 threads \| ab 2\.3 \| 150 \| 148\.95 \| 200 \| 75\.0% \|/);
        assert.match(md, /### uwsgi-sync\n\n```\nflask-app exited before it was ready/);
        assert.match(md, /!\[requests per second\]\(rps\.svg\)/);
        assert.match(md, /!\[latency percentiles\]\(latency\.svg\)/);
        assert.match(md, /## Who ran out first\n\n- gunicorn-sync: latency-bound: no role at >= 90 % of its cores/);
        assert.match(md, /- machine: 2 cores/);
        assert.doesNotMatch(md, /Concurrency sweep/);
    });

    it("lines up the terminal table", () => {
        const lines = renderTerminalTable(RESULTS).split("\n");
        assert.equal(lines.length, 4);
        assert.equal(lines[1].indexOf("150"), lines[0].indexOf("req/s"));
    });

    it("renders the sweep with each level's split, verdict and failed level's cause", () => {
        const md = renderReport({ ...RESULTS, sweep: [
            { scenario: "gunicorn-sync", concurrency: 50, requests: 250, status: "ok", result: result(45, 50), baseline: null, error: null, split: "" },
            { scenario: "gunicorn-sync", concurrency: 50, requests: 250, status: "ok", result: result(48, 50), baseline: null, error: null,
                split: "driver=0 app=1" },
            { scenario: "gunicorn-sync", concurrency: 2000, requests: 10000, status: "failed", result: null, baseline: null,
                error: "ab exited with 1:\napr_socket_recv: Connection reset by peer (104)", split: "" },
        ] }, { sweep: "sweep.svg" });
        assert.match(md, /## Concurrency sweep/);
        assert.match(md, /\| gunicorn-sync \| none \| ab \| 50 \| 250 \| 45 \| 50 \| 90\.0% \|.*\| latency-bound \|/);
        assert.match(md, /\| gunicorn-sync \| driver=0 app=1 \| ab \| 50 \| 250 \| 48 \|/);
        assert.match(md, /\| gunicorn-sync \| none \| - \| 2000 \| 10000 \| FAILED \| - \| - \| - \| - \| - \| - \| - \| - \| ab exited with 1: \|/);
        assert.match(md, /- sweep gunicorn-sync, 50 clients, split driver=0 app=1: latency-bound/);
        assert.match(md, /!\[concurrency sweep\]\(sweep\.svg\)/);
    });

    it("names the bottleneck: a role, the machine, or latency-bound", () => {
        assert.equal(verdictCell({ verdict: "app", rule: "" }), "app (CPU)");
        assert.equal(verdictCell({ verdict: "machine", rule: "" }), "machine (all cores)");
        assert.equal(verdictCell({ verdict: "none", rule: "" }), "latency-bound");
        assert.equal(verdictCell(null), "-");
        assert.equal(cpuCell(null), "-");
    });
});
