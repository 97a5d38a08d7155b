// End to end through the Automation API and the real engine: every scenario
// is deployed as real processes, load-tested, checked, destroyed, and checked
// again for anything left running.
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as path from "path";
import { Stack } from "@pulumi/pulumi/automation";
import { listeningNow } from "../../lib/ports";
import { groupProcesses } from "../../lib/procfs";
import { listScenarios, readStackConfig } from "../../lib/stacks";
import { which } from "../../platforms/localTools";
import { removeStack, ROOT, testStack } from "./stack";
import { httpGet } from "../httpGet";
/** A small, quick load for every scenario, after a short warm-up. */
const SMALL_LOAD = { loadRequests: "20", loadConcurrency: "10", loadDelay: "0.2", loadWarmupSeconds: "1" };

interface Service { name: string; pid: number; port: number }

const get = httpGet;

function e2eStack(scenario: string, overrides: Record<string, string> = {}, stackName = `e2e-${scenario}`): Promise<Stack> {
    return testStack(stackName, scenario, { ...SMALL_LOAD, ...overrides });
}

/** The services the stack's state says are running. */
async function services(stack: Stack): Promise<Service[]> {
    const state = await stack.exportStack();
    return (state.deployment.resources ?? [])
        .filter((r: any) => r.type === "pulumi-nodejs:dynamic/local:Process")
        .map((r: any) => ({ name: r.outputs.spec.name, pid: r.outputs.pid, port: r.outputs.spec.port }));
}

/** The threads of a process group now, counted by ps (not by the lab's /proc reader). */
function threadsByPs(pgid: number): number {
    return execFileSync("ps", ["-e", "-L", "-o", "pgid=,lwp="], { encoding: "utf8" })
        .split("\n").filter((line) => Number(line.trim().split(/\s+/)[0]) === pgid).length;
}

/**
 * The threads the load counted are the app's, checked where an idle count is fixed: the threaded dev server runs a
 * thread per request and nothing else, so idle after the load (ps) it has what it had idle before it (the load's
 * count), and 10 clients held for 0.2 s each put several threads beside those. Other servers' idle counts move on
 * their own after a load (nginx-uwsgi's went from 8 to 5; gevent's resolver pool starts threads late).
 */
function assertDevServerThreads(out: Record<string, any>, running: Service[]): void {
    const app = running.find((s) => s.name === "flask-app")!;
    const now = threadsByPs(app.pid);
    assert.ok(Math.abs(now - out.threadsBefore) <= 1,
        `the app's threads: ps counts ${now} now, the load counted ${out.threadsBefore} before and ${out.threadsPeak} at its peak`);
    assert.ok(out.threadsPeak >= out.threadsBefore + 5, `threads ${out.threadsBefore} -> ${out.threadsPeak} for 10 clients`);
}

function assertGone(before: Service[]): void {
    assert.ok(before.length > 0);
    const ports = listeningNow();
    for (const s of before) {
        assert.deepEqual(groupProcesses(s.pid).map((p) => p.pid), [], `${s.name}: processes of group ${s.pid} still alive`);
        assert.ok(!ports.has(s.port), `${s.name}: port ${s.port} still bound`);
    }
}

async function upAndCheck(stack: Stack, expectInBody: RegExp) {
    const up = await stack.up();
    const out = Object.fromEntries(Object.entries(up.outputs).map(([k, v]) => [k, v.value]));
    const requested = Number(SMALL_LOAD.loadRequests);
    assert.equal(out.completeRequests, requested, "every request completed");
    assert.equal(out.failedRequests, 0);
    assert.ok(out.requestsPerSecond > 0);
    assert.ok(Math.abs(out.requestsPerSecond - requested / out.timeTakenSeconds) <= 0.02 * out.requestsPerSecond + 0.02,
        `req/s ${out.requestsPerSecond} = complete / time taken ${requested}/${out.timeTakenSeconds}`);
    // The lab's own count: every request reached the slow API once and was answered there, none more (the warm-up is not counted).
    assert.deepEqual(out.result.upstream, { arrived: requested, served: requested, dropped: 0 });
    assert.ok(out.result.warmup.requests > 0, `the warm-up ran: ${JSON.stringify(out.result.warmup)}`);
    assert.ok(out.threadsBefore >= 1 && out.threadsPeak >= 1, `threads ${out.threadsBefore} -> ${out.threadsPeak}`);
    assert.ok(out.efficiency > 0 && out.efficiency <= 1.05, `efficiency ${out.efficiency}`);
    assert.ok(out.summary.split("\n").length <= 15 && out.summary.includes(`${out.requestsPerSecond} (one run`), out.summary);
    const answer = await get(out.url);
    assert.equal(answer.status, 200);
    assert.match(answer.body, expectInBody);
    return out;
}

describe("every scenario, deployed for real (Automation API)", function () {
    // A user's stack, up on the ports the lab used to default to, throughout: nothing here may collide with it.
    let bystander: Stack;
    before(async () => {
        bystander = await e2eStack("uwsgi-gevent", { appPort: "3000", apiPort: "4000", baseline: "false" }, "e2e-bystander");
        await upAndCheck(bystander, /slow api response/);
    });
    after(async () => {
        const answer = await get((await bystander.outputs()).url.value);
        await removeStack(bystander);
        assert.equal(answer.status, 200, "the bystander stack still served after every scenario ran beside it");
    });

    for (const scenario of listScenarios(ROOT)) {
        it(`${scenario}: up, load, a real request, destroy, nothing left`, async () => {
            const stack = await e2eStack(scenario);
            try {
                const database = readStackConfig(ROOT, scenario).database === "true";
                const out = await upAndCheck(stack, database
                    ? /^Hi there! slow api response \(datetime\.datetime\(/
                    : /^Hi there! slow api response$/);
                const running = await services(stack);
                if (scenario === "devserver-threaded") assertDevServerThreads(out, running);
                await stack.destroy();
                assertGone(running);
            } finally {
                await removeStack(stack);
            }
        });
    }
});

describe("the lifecycle of a stack (Automation API)", function () {
    let stack: Stack;
    before(async () => {
        stack = await e2eStack("uwsgi-gevent", { baseline: "false" });
    });
    after(async () => {
        await removeStack(stack);
    });

    it("changes nothing on a second up: the same processes serve", async () => {
        await upAndCheck(stack, /slow api response/);
        const first = await services(stack);
        const again = await stack.up();
        assert.deepEqual(Object.keys(again.summary.resourceChanges ?? {}), ["same"]);
        assert.deepEqual(await services(stack), first);
        // Beside the Scenario, the platform: one component, the stack's process scope its child.
        const resources = (await stack.exportStack()).deployment.resources ?? [];
        const root = resources.filter((r: { parent?: string }) => r.parent?.includes("::pulumi:pulumi:Stack::")).map((r: { type: string }) => r.type).sort();
        assert.deepEqual(root, ["flask-gevent-lab:components:Scenario", "flask-gevent-lab:platforms:Local"]);
        const scope = resources.find((r: { type: string }) => r.type === "pulumi-nodejs:dynamic/local:Scope");
        assert.match(scope?.parent ?? "", /::flask-gevent-lab:platforms:Local::/);
    });

    it("starts again a service that died since the last up", async () => {
        const app = (await services(stack)).find((s) => s.name === "flask-app")!;
        process.kill(-app.pid, "SIGKILL");
        await new Promise((r) => setTimeout(r, 500));
        await upAndCheck(stack, /slow api response/);
        const restarted = (await services(stack)).find((s) => s.name === "flask-app")!;
        assert.notEqual(restarted.pid, app.pid);
    });

    it("switches the server mode in place, replacing only the app", async () => {
        const before = await services(stack);
        await stack.setConfig("serverMode", { value: "gunicorn-gevent" });
        const out = await upAndCheck(stack, /slow api response/);
        assert.equal(out.serverMode, "gunicorn-gevent");
        const after = await services(stack);
        assert.equal(after.find((s) => s.name === "slow-api")!.pid, before.find((s) => s.name === "slow-api")!.pid);
        assert.notEqual(after.find((s) => s.name === "flask-app")!.pid, before.find((s) => s.name === "flask-app")!.pid);
    });

    it("redeploys exactly the service whose code changed, and measures it again", async () => {
        const before = await services(stack);
        const firstRun = (await stack.outputs()).result.value.startedAt;
        const source = path.join(ROOT, "python-apps", "flask_app", "app.py");
        const original = fs.readFileSync(source, "utf8");
        fs.writeFileSync(source, original + "# an edit: e2e code-change probe\n");
        try {
            const up = await stack.up();
            assert.notEqual(up.outputs.result.value.startedAt, firstRun, "the load ran again");
            const after = await services(stack);
            const pid = (list: Service[], name: string) => list.find((s) => s.name === name)!.pid;
            assert.notEqual(pid(after, "flask-app"), pid(before, "flask-app"), "the app was replaced");
            assert.equal(pid(after, "slow-api"), pid(before, "slow-api"), "the slow API, whose code did not change, was not");
        } finally {
            fs.writeFileSync(source, original);
        }
        await stack.up(); // back to the committed code
    });

    it("re-runs the load on demand with loadRunId, nothing else changed", async () => {
        const before = await services(stack);
        const first = (await stack.outputs()).result.value.startedAt;
        await stack.setConfig("loadRunId", { value: "again" });
        const up = await stack.up();
        assert.notEqual(up.outputs.result.value.startedAt, first);
        assert.deepEqual(await services(stack), before);
    });
});

describe("bad input is refused before anything starts (Automation API)", function () {
    async function refused(overrides: Record<string, string>, message: RegExp, occupy?: number) {
        const stack = await e2eStack("dev", overrides);
        const blocker = occupy ? http.createServer().listen(occupy, "127.0.0.1") : undefined;
        try {
            await assert.rejects(stack.up(), (e: Error) => {
                assert.match(e.message, message);
                return true;
            });
            assert.deepEqual(await services(stack), [], "nothing was started");
        } finally {
            blocker?.close();
            await removeStack(stack);
        }
    }

    it("an unknown server mode, listing the valid ones", () =>
        refused({ serverMode: "uwsgi-turbo" }, /unknown server mode "uwsgi-turbo"; valid: devserver, devserver-threaded/));
    it("a negative worker count", () =>
        refused({ serverMode: "gunicorn-sync", workers: "-4" }, /workers: "-4" is not a whole number >= 1/));
    it("an impossible combination", () =>
        refused({ protocol: "uwsgi" }, /protocol: "uwsgi" .* pulumi config set ingress nginx/));
    it("a busy port", () =>
        refused({ appPort: "3999" }, /ports already in use by another program:\s+- 3999 \(flask-app\).*appPort/, 3999));
    it("a missing tool", function () {
        if (which("k6")) this.skip(); // k6 is installed here: nothing is missing
        return refused({ loadDriver: "k6" }, /k6 for loadDriver: k6/);
    });
});
