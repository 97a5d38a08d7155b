// ./lab matrix end to end: two scenarios, a deliberately broken one, and a
// tiny sweep, with a tiny load.
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { MatrixResults } from "../../lib/report";

const ROOT = path.join(__dirname, "..", "..");

describe("the matrix command (real engine)", function () {
    let run: ReturnType<typeof spawnSync>;
    let dir: string;
    let results: MatrixResults;

    before(() => {
        const before = new Set(fs.existsSync(path.join(ROOT, "results")) ? fs.readdirSync(path.join(ROOT, "results")) : []);
        run = spawnSync("npx", ["ts-node", "--transpile-only", "scripts/matrix.ts",
            "--scenarios", "devserver-threaded,uwsgi-sync,gunicorn-gevent", "--set", "uwsgi-sync:serverMode=uwsgi-turbo",
            "--requests", "20", "--concurrency", "10", "--delay", "0.2",
            "--sweep", "gunicorn-sync", "--levels", "2,8", "--waves", "2"], { cwd: ROOT, encoding: "utf8" });
        const created = fs.readdirSync(path.join(ROOT, "results")).filter((d) => d.startsWith("matrix-20") && !before.has(d));
        assert.equal(created.length, 1, `one new results folder; matrix printed:\n${run.stdout}\n${run.stderr}`);
        dir = path.join(ROOT, "results", created[0]);
        results = JSON.parse(fs.readFileSync(path.join(dir, "results.json"), "utf8"));
    });

    it("exits non-zero because one scenario failed, after running the others", () => {
        assert.equal(run.status, 1, String(run.stderr));
        assert.deepEqual(results.rows.map((r) => [r.scenario, r.status]),
            [["devserver-threaded", "ok"], ["uwsgi-sync", "failed"], ["gunicorn-gevent", "ok"]]);
        assert.match(results.rows[1].error!, /unknown server mode "uwsgi-turbo"/);
        assert.match(String(run.stderr), /\[matrix 1\/4, 3 left\] devserver-threaded: up \+ load/);
    });

    it("records the numbers the stacks produced", () => {
        for (const row of results.rows.filter((r) => r.status === "ok")) {
            const runs = path.join(ROOT, "results", `matrix-${row.scenario}`);
            const latest = fs.readdirSync(runs).filter((f) => f.endsWith(".json")).sort().pop()!;
            assert.deepEqual(row.result, JSON.parse(fs.readFileSync(path.join(runs, latest), "utf8")));
            assert.equal(row.result!.complete, 20);
            assert.equal(row.result!.concurrency, 10);
            assert.equal(row.result!.failed, 0);
            assert.ok(row.timings.deploySeconds > 0 && row.timings.loadSeconds > 0 && row.timings.destroySeconds > 0);
        }
        // Measured once per distinct load, shared by every row with that load.
        assert.ok(results.rows[0].baseline && results.rows[0].baseline.url.includes(":4000/"));
        assert.deepEqual(results.rows[2].baseline, results.rows[0].baseline);
        assert.match(results.environment.python, /^Python 3/);
        assert.match(results.environment.pulumi, /^v3\.248\.0$/);
    });

    it("sweeps concurrency levels", () => {
        assert.deepEqual(results.sweep.map((p) => [p.concurrency, p.requests, p.status]), [[2, 4, "ok"], [8, 16, "ok"]]);
        assert.equal(results.sweep[1].result!.limitRps, 40);
    });

    it("writes report.md and the charts, one row per scenario", () => {
        const md = fs.readFileSync(path.join(dir, "report.md"), "utf8");
        for (const s of ["devserver-threaded", "uwsgi-sync", "gunicorn-gevent"]) assert.match(md, new RegExp(`^\\| ${s} \\|`, "m"));
        assert.match(md, /\| uwsgi-sync \| [^|]* \| FAILED \|/);
        assert.match(md, /## Concurrency sweep/);
        for (const f of ["rps.svg", "rps.png", "sweep.svg", "sweep.png"]) assert.ok(fs.statSync(path.join(dir, f)).size > 1000, f);
        assert.match(fs.readFileSync(path.join(dir, "rps.svg"), "utf8"), /<svg/);
    });

    it("leaves no stack behind", () => {
        assert.deepEqual(fs.readdirSync(ROOT).filter((f) => /^Pulumi\.(matrix|sweep)-/.test(f)), []);
    });
});
