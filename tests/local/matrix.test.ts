// ./lab matrix end to end: two scenarios, a deliberately broken one, and a
// tiny sweep, with a tiny load; after an earlier run was killed in the middle.
import { strict as assert } from "assert";
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { pathToFileURL } from "url";
import { groupProcesses } from "../../lib/procfs";
import { MatrixResults } from "../../lib/report";
import { openPage } from "../../scripts/chromium";
import { ROOT, testStack } from "./stack";

const STATE = path.join(ROOT, ".pulumi-state", ".pulumi", "stacks", "flask-gevent-lab");

/** The processes a stack's state file records, by service name (read while an up runs). */
function recordedProcesses(stack: string): Record<string, number> {
    const file = path.join(STATE, `${stack}.json`);
    if (!fs.existsSync(file)) return {};
    const resources = JSON.parse(fs.readFileSync(file, "utf8")).checkpoint?.latest?.resources ?? [];
    return Object.fromEntries(resources.filter((r: any) => r.type === "pulumi-nodejs:dynamic/local:Process")
        .map((r: any) => [r.outputs.spec.name, r.outputs.pid]));
}

/**
 * What an interrupted ./lab matrix leaves: its stack, killed (SIGKILL, as by a closed terminal) once the
 * app is up, so its servers run on and its lock stays; returns the recorded process groups.
 */
async function interruptedMatrixStack(name: string, scenario: string): Promise<number[]> {
    await testStack(name, scenario, { scenario, loadRequests: "20", loadConcurrency: "10", loadDelay: "0.5", baseline: "false" });
    const cli = spawn("pulumi", ["up", "--yes", "--skip-preview", "--non-interactive", "-s", name], { cwd: ROOT, stdio: "ignore" });
    const deadline = Date.now() + 120_000;
    while (!recordedProcesses(name)["flask-app"]) {
        assert.ok(cli.exitCode === null && Date.now() < deadline, "the up recorded the app before it ended");
        await new Promise((r) => setTimeout(r, 100));
    }
    cli.kill("SIGKILL");
    await new Promise((r) => cli.once("exit", r));
    return Object.values(recordedProcesses(name));
}

describe("the matrix command (real engine)", function () {
    let run: ReturnType<typeof spawnSync>;
    let dir: string;
    let results: MatrixResults;
    let leftover: number[];
    let busy: net.Server;
    after(() => busy?.close());

    before(async () => {
        leftover = await interruptedMatrixStack("matrix-gunicorn-gevent", "gunicorn-gevent");
        // A stack file whose stack is gone.
        fs.copyFileSync(path.join(ROOT, "Pulumi.dev.yaml"), path.join(ROOT, "Pulumi.sweep-gone.yaml"));
        const before = new Set(fs.existsSync(path.join(ROOT, "results")) ? fs.readdirSync(path.join(ROOT, "results")) : []);
        // uwsgi-sync's app port held by another program: that scenario fails when it starts, the others run.
        busy = net.createServer().listen(0, "127.0.0.1");
        await new Promise((r) => busy.once("listening", r));
        const busyPort = (busy.address() as net.AddressInfo).port;
        run = spawnSync("npx", ["ts-node", "--transpile-only", "scripts/matrix.ts",
            "--scenarios", "devserver-threaded,uwsgi-sync,gunicorn-gevent", "--set", `uwsgi-sync:appPort=${busyPort}`,
            "--requests", "20", "--concurrency", "10", "--delay", "0.2", "--repeats", "2", "--warmup", "1",
            "--sweep", "gunicorn-sync", "--levels", "2,8", "--waves", "2"], { cwd: ROOT, encoding: "utf8" });
        // One new matrix folder: the run's (its stacks' records inside it, no results/matrix-<scenario>/ beside it).
        const created = fs.readdirSync(path.join(ROOT, "results")).filter((d) => d.startsWith("matrix-") && !before.has(d));
        assert.deepEqual(created.map((d) => d.startsWith("matrix-20")), [true], `one new results folder; matrix printed:\n${run.stdout}\n${run.stderr}`);
        dir = path.join(ROOT, "results", created[0]);
        results = JSON.parse(fs.readFileSync(path.join(dir, "results.json"), "utf8"));
    });

    it("first stops and removes what an interrupted run left: its stacks, their processes, stray stack files", () => {
        assert.ok(leftover.length >= 2, "the interrupted up had started the slow API and the app");
        assert.match(String(run.stderr), /removing the stack matrix-gunicorn-gevent, left by an earlier run/);
        for (const pgid of leftover) assert.deepEqual(groupProcesses(pgid).map((p) => p.pid), [], `process group ${pgid} still runs`);
        assert.ok(!fs.existsSync(path.join(ROOT, "Pulumi.sweep-gone.yaml")));
    });

    it("exits non-zero because one scenario failed, after running the others", () => {
        assert.equal(run.status, 1, String(run.stderr));
        assert.deepEqual(results.rows.map((r) => [r.scenario, r.status]),
            [["devserver-threaded", "ok"], ["uwsgi-sync", "failed"], ["gunicorn-gevent", "ok"]]);
        assert.match(results.rows[1].error!, /ports already in use by another program/);
        // Every scenario and sweep level a step; plain lines off a terminal. (No estimate until one finished,
        // unless an earlier run in this clone did the same work.)
        assert.match(String(run.stderr), /^\[matrix 1\/5(, [^\]]+ left, from the last run)?\] devserver-threaded: up \+ load$/m);
        assert.match(String(run.stderr), /^\[matrix 1\/5, (<1|~\d+) min left\] devserver-threaded: [\d.]+ req\/s/m);
        assert.match(String(run.stderr), /^\[matrix 5\/5\] sweep gunicorn-sync: 8 clients: [\d.]+ req\/s/m);
        assert.doesNotMatch(String(run.stderr), /\r/);
    });

    it("records the numbers the stacks produced", () => {
        for (const row of results.rows.filter((r) => r.status === "ok")) {
            // Inside the run's own folder, not in a results/matrix-<scenario>/ beside it.
            const runs = path.join(dir, "stacks", row.scenario);
            const latest = fs.readdirSync(runs).filter((f) => f.endsWith(".json")).sort().pop()!;
            assert.deepEqual(row.result, JSON.parse(fs.readFileSync(path.join(runs, latest), "utf8")));
            // Two runs of 20 each, after a warm-up, every figure with its spread.
            assert.deepEqual(row.result!.repeats.map((r) => r.complete), [20, 20]);
            assert.equal(row.result!.complete, 40);
            assert.equal(row.result!.concurrency, 10);
            assert.equal(row.result!.failed, 0);
            assert.equal(row.result!.spread!.requestsPerSecond.n, 2);
            assert.equal(row.result!.warmup!.seconds, 1);
            assert.ok(row.timings.deploySeconds > 0 && row.timings.loadSeconds > 0 && row.timings.destroySeconds > 0);
        }
        // Measured once per distinct load, shared by every row with that load.
        assert.ok(fs.readdirSync(path.join(dir, "stacks", "devserver-threaded", "baseline")).some((f) => f.endsWith(".json")));
        assert.notEqual(results.rows[0].baseline!.url, results.rows[0].result!.url, "the baseline loads the slow API, not the app");
        assert.deepEqual(results.rows[2].baseline, results.rows[0].baseline);
        assert.match(results.environment.python, /^Python 3/);
        // Every pinned package, as the virtualenv has it.
        assert.match(results.environment["python packages"], /Flask 3\.0\.3, .*granian 2\.8\.9, waitress 3\.0\.2, /);
        assert.match(results.environment.pulumi, /^v3\.248\.0$/);
    });

    it("sweeps concurrency levels", () => {
        assert.deepEqual(results.sweep.map((p) => [p.concurrency, p.requests, p.status]), [[2, 4, "ok"], [8, 16, "ok"]]);
        assert.equal(fs.readdirSync(path.join(dir, "stacks", "sweep-gunicorn-sync")).filter((f) => f.endsWith(".json")).length, 2);
        assert.equal(results.sweep[1].result!.limitRps, 40);
    });

    it("writes report.md and report.html, one row per scenario, what to pick first", () => {
        const md = fs.readFileSync(path.join(dir, "report.md"), "utf8");
        assert.match(md, /## What to pick\n\n\*\*Most req\/s at the tutorial's load\.\*\* Median \[95 % t-interval of the mean\] over 2 runs each/);
        assert.match(md, /- at 20 requests, 10 clients, 0\.2 s delay, ab:\n {2}1\. \*\*/);
        assert.match(md, /## The harness's own noise\n[^]*- 20 requests, 10 clients, 0\.2 s, ab: [\d.]+ req\/s over 2 run\(s\)/);
        assert.match(String(run.stdout), /What to pick/, "the answer on the terminal too");
        for (const s of ["devserver-threaded", "uwsgi-sync", "gunicorn-gevent"]) assert.match(md, new RegExp(`^\\| ${s} \\|`, "m"));
        assert.match(md, /^\| uwsgi-sync \|[^\n]* \| FAILED \|/m);
        assert.match(md, /## Concurrency sweep/);
        assert.match(String(run.stdout), /: results\.json, report\.md, report\.html \(\d+ s\)/);
    });

    it("report.html opens from disk in Chromium: no console error, every chart drawn with marks, every scenario in its table", async function () {
        this.timeout(120_000);
        const file = path.join(dir, "report.html");
        const page = await openPage(file);
        try {
            await page.evaluate("window.reportReady.then(() => true)");
            assert.deepEqual(page.errors, []);
            assert.deepEqual(page.requests, [pathToFileURL(file).href], "the page alone: no script, style or font fetched");
            const charts = await page.evaluate<[string, string | undefined, number][]>(`[...document.querySelectorAll("[data-chart]")]
                .map((el) => [el.dataset.chart, el.dataset.drawn, el.querySelectorAll("svg .role-mark [role=graphics-symbol]").length])`);
            assert.deepEqual(charts.map(([id]) => id), ["rps", "latency", "cpu", "threads", "sweep"]);
            for (const [id, drawn, marks] of charts) assert.ok(drawn === "true" && marks > 0, `${id}: drawn ${drawn}, ${marks} marks`);
            const table = await page.evaluate<string[][]>(`[...document.querySelectorAll("#scenarios tbody tr")].map((tr) => [...tr.cells].map((td) => td.textContent))`);
            assert.deepEqual(table.map((r) => r[0]), ["devserver-threaded", "uwsgi-sync", "gunicorn-gevent"]);
            assert.equal(table[1][4], "FAILED");
            assert.match(await page.evaluate<string>(`document.querySelector("#failures pre").textContent`), /ports already in use by another program[^]*--- last lines of /);
            // The link to the raw figures resolves beside the page.
            const link = await page.evaluate<string>(`document.querySelector("#run a").href`);
            assert.ok(fs.existsSync(new URL(link)), link);
            // A header click sorts the table by that column (rank), the failed row's "-" last.
            await page.evaluate(`document.querySelectorAll("#scenarios th")[5].click()`);
            const sorted = await page.evaluate<string[]>(`[...document.querySelectorAll("#scenarios tbody tr")].map((tr) => tr.cells[0].textContent)`);
            assert.equal(sorted[2], "uwsgi-sync");
            await page.screenshot(path.join(dir, "report.png"), { fullPage: true });
        } finally {
            await page.close();
        }
        const png = fs.readFileSync(path.join(dir, "report.png"));
        assert.equal(png.subarray(1, 4).toString(), "PNG");
        assert.ok(png.length > 50_000, `a screenshot with something in it: ${png.length} bytes`);
    });

    it("./lab report over two runs: each scenario's req/s over time and the changes, drawn in Chromium, its screenshot beside it", async function () {
        this.timeout(180_000);
        // A second run: this one's figures an hour later (a real run's, so the page draws what a real one holds).
        const later = `${dir}-later`;
        fs.mkdirSync(later);
        const shifted = { ...results, startedAt: new Date(Date.parse(results.startedAt) + 3600_000).toISOString() };
        fs.writeFileSync(path.join(later, "results.json"), JSON.stringify(shifted));
        const out = path.join(later, "both.html");
        try {
            const report = spawnSync(path.join(ROOT, "lab"), ["report", dir, later, "--out", out, "--screenshot"], { cwd: os.tmpdir(), encoding: "utf8" });
            assert.equal(report.status, 0, report.stderr);
            assert.match(report.stdout, /both\.html: 2 run\(s\)\n.*both\.png\n$/);
            assert.ok(fs.statSync(path.join(later, "both.png")).size > 50_000);
            const page = await openPage(out);
            try {
                await page.evaluate("window.reportReady.then(() => true)");
                assert.deepEqual(page.errors, []);
                const drawn = await page.evaluate<[string, number][]>(`[...document.querySelectorAll("#over-time [data-chart]")]
                    .map((el) => [el.dataset.drawn, el.querySelectorAll("svg .role-mark [role=graphics-symbol]").length])`);
                assert.deepEqual(drawn.map(([d, marks]) => d === "true" && marks > 0), [true], JSON.stringify(drawn));
                const changes = await page.evaluate<string[]>(`[...document.querySelectorAll("#changes tbody tr")].map((tr) => tr.className + " " + tr.cells[0].textContent)`);
                assert.ok(changes.includes("within-noise devserver-threaded"), changes.join(", "));
            } finally {
                await page.close();
            }
        } finally {
            fs.rmSync(later, { recursive: true, force: true });
        }
    });

    it("compares two runs in the terminal and in a page: a run against itself is within noise everywhere", async function () {
        this.timeout(120_000);
        const compare = spawnSync("npx", ["ts-node", "--transpile-only", "scripts/compare.ts", dir, dir, "--fail-on-regression"], { cwd: ROOT, encoding: "utf8" });
        assert.equal(compare.status, 0, compare.stderr);
        const lines = compare.stdout.split("\n").filter((l) => /^(devserver-threaded|gunicorn-gevent) /.test(l));
        assert.ok(lines.length >= 4, compare.stdout);
        for (const line of lines) assert.match(line, /\+0\.0 % +within noise \(p = 1\.000\)$/);
        const html = path.join(dir, `compare-${path.basename(dir)}.html`);
        const page = await openPage(html);
        try {
            await page.evaluate("window.reportReady.then(() => true)");
            assert.deepEqual(page.errors, []);
            const verdicts = await page.evaluate<string[]>(`[...document.querySelectorAll("#changes tbody tr")].map((tr) => tr.className)`);
            assert.ok(verdicts.length >= 4 && verdicts.every((v) => v === "within-noise"), verdicts.join(", "));
        } finally {
            await page.close();
        }
    });

    it("refuses bad options before anything starts, naming the key and the fix", () => {
        const refused = (args: string[]) => spawnSync("npx", ["ts-node", "--transpile-only", "scripts/matrix.ts", "--scenarios", "dev-none", ...args],
            { cwd: ROOT, encoding: "utf8" });
        const zero = spawnSync("npx", ["ts-node", "--transpile-only", "scripts/matrix.ts", "--repeats", "0"], { cwd: ROOT, encoding: "utf8" });
        assert.equal(zero.status, 2);
        assert.match(zero.stderr, /--repeats 0: each scenario needs at least one measured run \(fix: --repeats 3\)/);
        const k6 = spawnSync("npx", ["ts-node", "--transpile-only", "scripts/matrix.ts", "--scenarios", "gunicorn-sync", "--capacity", "--driver", "k6"],
            { cwd: ROOT, encoding: "utf8" });
        assert.equal(k6.status, 2);
        assert.match(k6.stderr, /gunicorn-sync: invalid stack configuration:\n\s+- capacitySearch: probes run oha/);
        assert.match(refused([]).stderr, /unknown scenario "dev-none"/);
        assert.deepEqual(fs.readdirSync(ROOT).filter((f) => /^Pulumi\.(matrix|sweep)-/.test(f)), [], "no stack was made");
    });

    it("leaves no stack behind", () => {
        assert.deepEqual(fs.readdirSync(ROOT).filter((f) => /^Pulumi\.(matrix|sweep)-/.test(f)), []);
    });
});
