// The example program under examples/nginx-balance: another Pulumi project
// that uses this package by path, deployed for real and destroyed.
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { listeningNow } from "../../lib/ports";
import { processesWithEnv } from "../../lib/procfs";
import { httpGet } from "../httpGet";

const ROOT = path.join(__dirname, "..", "..");
const EXAMPLE = path.join(ROOT, "examples", "nginx-balance");

describe("the example program: nginx balancing two server modes (real engine)", function () {
    let stack: Stack;
    before(async () => {
        // The package by path (file:../..): a link to this clone, with its compiled entry module.
        execFileSync("npm", ["ci", "--no-audit", "--no-fund", "--ignore-scripts"], { cwd: EXAMPLE, stdio: "pipe" });
        execFileSync("npx", ["tsc", "-p", "tsconfig.build.json"], { cwd: ROOT, stdio: "pipe" });
        stack = await LocalWorkspace.createOrSelectStack({ stackName: "e2e-example", workDir: EXAMPLE });
        await stack.setAllConfig({ requests: { value: "200" }, concurrency: { value: "100" }, delaySeconds: { value: "0.5" } });
    });
    after(async () => {
        await stack.destroy();
        await stack.workspace.removeStack(stack.name);
        fs.rmSync(path.join(EXAMPLE, `Pulumi.${stack.name}.yaml`), { force: true });
    });

    it("type-checks against the package's declarations", () => {
        execFileSync("npx", ["tsc", "-p", EXAMPLE], { cwd: ROOT, stdio: "pipe" });
    });

    it("deploys, balances across both apps, measures each way, and destroys to nothing", async () => {
        const out = await upOutputsOf(stack);
        assert.deepEqual(Object.keys(out.requestsPerSecond).sort(), ["gevent-direct", "threaded-direct", "via-nginx"]);
        for (const run of Object.keys(out.requestsPerSecond)) {
            assert.equal(out.failedRequests[run], 0, run);
            assert.ok(out.requestsPerSecond[run] > 0, run);
            // Checked against the slow API's own count: every request of every load reached it and was answered there.
            assert.deepEqual(out.upstream[run], { arrived: 200, served: 200, dropped: 0 }, run);
        }
        assert.match(out.servers.threaded, /2 workers x 25 threads/);
        // 100 clients, 0.5 s each: the 2 x 25 pool holds 50 at once, so at most 100 req/s; the gevent app holds them all.
        const rps = out.requestsPerSecond;
        assert.ok(rps["threaded-direct"] <= 1.05 * 100, `the pool: ${rps["threaded-direct"]} req/s`);
        assert.ok(rps["gevent-direct"] >= 1.2 * rps["threaded-direct"], `gevent ${rps["gevent-direct"]} vs the pool ${rps["threaded-direct"]} req/s`);

        // nginx balances across both apps: each answers its share, as each app's X-Served-By says.
        const servedBy = new Map<string, number>();
        for (let i = 0; i < 40; i++) {
            const answer = await httpGet(`${out.url}?delay=0`);
            assert.equal(answer.status, 200);
            const app = String(answer.headers["x-served-by"]);
            servedBy.set(app, (servedBy.get(app) ?? 0) + 1);
        }
        assert.equal(servedBy.size, 2, `the apps that answered 40 requests: ${JSON.stringify([...servedBy])}`);
        assert.ok([...servedBy.values()].every((n) => n >= 10), `each app's share of 40: ${JSON.stringify([...servedBy])}`);

        const scope = path.join(EXAMPLE, ".lab", "e2e-example");
        const running = processesWithEnv("FGL_SCOPE", scope);
        assert.ok(running.length >= 4, "slow API, two apps and nginx run, marked with the stack's scope");
        const state = await stack.exportStack();
        const ports = (state.deployment.resources ?? [])
            .filter((r: any) => r.type === "pulumi-nodejs:dynamic/local:PortLease").map((r: any) => r.outputs.port as number);
        assert.equal(ports.length, 4);
        await stack.destroy();
        assert.deepEqual(processesWithEnv("FGL_SCOPE", scope).map((p) => p.pid), []);
        const bound = listeningNow();
        for (const port of ports) assert.ok(!bound.has(port), `port ${port} still bound`);
    });
});

describe("the package packed with npm pack, installed into an empty folder outside the clone (real engine)", function () {
    let work: string;
    let stack: Stack;
    before(async () => {
        work = fs.mkdtempSync(path.join(os.tmpdir(), "fgl-packed-"));
        const tarball = execFileSync("npm", ["pack", "--pack-destination", work, "--loglevel=error"], { cwd: ROOT, encoding: "utf8" }).trim().split("\n").pop()!;
        const app = path.join(work, "app");
        fs.mkdirSync(app);
        for (const file of ["index.ts", "Pulumi.yaml", "tsconfig.json"]) fs.copyFileSync(path.join(EXAMPLE, file), path.join(app, file));
        fs.writeFileSync(path.join(app, "package.json"), JSON.stringify({ name: "packed-app", private: true, dependencies: { "flask-gevent-lab": `file:../${tarball}` } }));
        execFileSync("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: app, stdio: "pipe" });
        // Nothing of the clone but its virtualenv, named by the package's documented setting.
        stack = await LocalWorkspace.createOrSelectStack({ stackName: "e2e-packed", workDir: app },
            { envVars: { FGL_VENV: fs.realpathSync(path.join(ROOT, ".lab", "venv")) } });
        await stack.setAllConfig({ requests: { value: "100" }, concurrency: { value: "50" }, delaySeconds: { value: "0.2" } });
    });
    after(async () => {
        await stack.destroy();
        await stack.workspace.removeStack(stack.name);
        fs.rmSync(work, { recursive: true, force: true });
    });

    it("deploys the example from the installed package, its apps running the package's own python-apps, and destroys to nothing", async () => {
        const out = await upOutputsOf(stack);
        for (const run of ["via-nginx", "gevent-direct", "threaded-direct"]) {
            assert.deepEqual(out.upstream[run], { arrived: 100, served: 100, dropped: 0 }, run);
        }
        const installed = fs.realpathSync(path.join(work, "app", "node_modules", "flask-gevent-lab"));
        assert.ok(!installed.startsWith(ROOT), `installed as a copy, not a link to the clone: ${installed}`);
        const resources = (await stack.exportStack()).deployment.resources ?? [];
        const apps = resources.filter((r: any) => r.type === "pulumi-nodejs:dynamic/local:Process" && r.outputs.spec.name.startsWith("app-"));
        assert.equal(apps.length, 2);
        for (const app of apps) {
            assert.equal(fs.readlinkSync(`/proc/${app.outputs.pid}/cwd`), path.join(installed, "python-apps", "flask_app"), app.outputs.spec.name);
        }
        const scope = path.join(work, "app", ".lab", "e2e-packed");
        assert.ok(processesWithEnv("FGL_SCOPE", scope).length >= 4, "slow API, two apps and nginx, marked with the stack's scope");
        await stack.destroy();
        assert.deepEqual(processesWithEnv("FGL_SCOPE", scope).map((p) => p.pid), []);
    });
});

async function upOutputsOf(stack: Stack): Promise<Record<string, any>> {
    const up = await stack.up();
    return Object.fromEntries(Object.entries(up.outputs).map(([k, v]) => [k, v.value]));
}
