// The example program under examples/nginx-balance: another Pulumi project
// that uses this package by path, deployed for real and destroyed.
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { listeningNow } from "../../lib/ports";
import { processesWithEnv } from "../../lib/procfs";

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
        // 100 clients: the gevent app holds them all; the 2 x 25 pool holds 50; nginx gives each app half.
        assert.deepEqual(out.limitRps, { "via-nginx": 200, "gevent-direct": 200, "threaded-direct": 100 });
        assert.match(out.servers.threaded, /2 workers x 25 threads/);

        // nginx balances across both apps.
        const conf = fs.readFileSync(path.join(EXAMPLE, ".lab", "e2e-example", "nginx", "nginx.conf"), "utf8");
        assert.equal((conf.match(/^\s+server 127\.0\.0\.1:\d+;$/gm) ?? []).length, 2);

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
