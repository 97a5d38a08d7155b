// The example program under examples/nginx-balance: another Pulumi project
// that uses this package by path, deployed for real and destroyed.
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
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
        const up = await stack.up();
        const out = Object.fromEntries(Object.entries(up.outputs).map(([k, v]) => [k, v.value]));
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
