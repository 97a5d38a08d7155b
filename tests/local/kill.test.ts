// An interrupted up leaves nothing behind: the real `pulumi` CLI is killed with
// SIGKILL before the engine records a server (then up and destroy, or destroy
// alone), after it records one, and during the load. Within seconds no plugin
// it started runs and its lock on the stack is released; the next commands
// leave no process of the stack and none of its ports bound.
// Also: `pulumi refresh` reports a killed service as gone, and the next up brings it back.
import { strict as assert } from "assert";
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { Stack } from "@pulumi/pulumi/automation";
import { listeningNow } from "../../lib/ports";
import { isAlive, processesWithEnv } from "../../lib/procfs";
import { PROJECT, stackLocks } from "../../lib/stacks";
import { MARKERS, stopScope } from "../../providers/processScope";
import { ROOT, testStack } from "./stack";

/** The file backend `./lab env` points PULUMI_BACKEND_URL at. */
const STATE_DIR = path.join(ROOT, ".pulumi-state");
const PROCESS_TYPE = "pulumi-nodejs:dynamic/local:Process";
const LOAD_TYPE = "pulumi-nodejs:dynamic/load:Run";
/** A load of about 2 s: 20 requests, 10 clients, 1 s each. */
const SMALL_LOAD = { baseline: "false", loadRequests: "20", loadConcurrency: "10", loadDelay: "1" };
/** How long the engine's plugins may outlive it. */
const PLUGINS_GONE_MS = 10_000;

function sleep(ms: number): Promise<void> {
    return new Promise((r) => setTimeout(r, ms));
}

/** Polls until `cond` holds; returns how long that took. */
async function waitFor(what: () => string, cond: () => boolean, ms: number): Promise<number> {
    const started = Date.now();
    while (!cond()) {
        if (Date.now() - started > ms) assert.fail(`not within ${ms / 1000} s: ${what()}`);
        await sleep(20);
    }
    return Date.now() - started;
}

function comm(pid: number): string {
    try { return fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim(); } catch { return ""; }
}

/** The resources the state file records now, and its pending operations (the file backend writes it whole). */
function stateFile(stack: string): { resources: any[]; pending: any[] } {
    try {
        const latest = JSON.parse(fs.readFileSync(path.join(STATE_DIR, ".pulumi", "stacks", PROJECT, `${stack}.json`), "utf8")).checkpoint.latest ?? {};
        return { resources: latest.resources ?? [], pending: latest.pending_operations ?? [] };
    } catch {
        return { resources: [], pending: [] };
    }
}

function recordedServices(stack: string): { name: string; pid: number; startTime: number }[] {
    return stateFile(stack).resources.filter((r) => r.type === PROCESS_TYPE)
        .map((r) => ({ name: r.outputs.spec.name, pid: r.outputs.pid, startTime: r.outputs.startTime }));
}

/** One run of the real CLI, its environment marked so that whatever it starts can be found. */
class Cli {
    readonly child: ChildProcess;
    readonly mark = `kill-test-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    output = "";
    readonly exited: Promise<number | null>;

    constructor(private readonly args: string[]) {
        this.child = spawn("pulumi", [...args, "--non-interactive"], {
            cwd: ROOT, env: { ...process.env, FGL_KILL_TEST: this.mark }, stdio: ["ignore", "pipe", "pipe"],
        });
        this.child.stdout!.on("data", (d) => (this.output += d));
        this.child.stderr!.on("data", (d) => (this.output += d));
        this.exited = new Promise((resolve) => this.child.once("exit", (code) => resolve(code)));
    }

    /** What it started that still runs: language host, dynamic provider, program, load driver. */
    started(): string[] {
        return processesWithEnv("FGL_KILL_TEST", this.mark).map((p) => `${p.pid} ${comm(p.pid)}`);
    }

    /** SIGKILL the CLI as soon as `cond` holds; then its plugins, which must have been running, exit within seconds. */
    async killWhen(what: string, cond: () => boolean): Promise<void> {
        let exited = false;
        void this.exited.then(() => (exited = true));
        const deadline = Date.now() + 180_000;
        let running: string[] = [];
        for (;;) {
            running = this.started().map((p) => p.split(" ")[1]);
            if (cond()) break;
            if (exited) assert.fail(`pulumi ended before ${what}:\n${this.output}`);
            if (Date.now() > deadline) assert.fail(`never saw ${what}:\n${this.output}`);
            await sleep(10);
        }
        this.child.kill("SIGKILL");
        await this.exited;
        assert.ok(running.includes("pulumi-language") && running.filter((c) => c === "node").length >= 2,
            `the language host, the program and the dynamic provider ran at the kill: ${running.join(", ")}`);
        const took = await waitFor(() => `the killed CLI's plugins exit; still running: ${this.started().join(", ")}`,
            () => this.started().length === 0, PLUGINS_GONE_MS);
        console.log(`      plugins gone ${took} ms after the kill`);
        const stack = this.args[this.args.indexOf("-s") + 1];
        assert.deepEqual(stackLocks(STATE_DIR, stack), [], "the dead CLI's lock on the stack was released");
    }
}

/** Runs the CLI to its end; returns its output, failing on a non-zero exit. */
async function pulumi(...args: string[]): Promise<string> {
    const cli = new Cli(args);
    const code = await cli.exited;
    assert.equal(code, 0, `pulumi ${args.join(" ")} failed:\n${cli.output}`);
    return cli.output;
}

/** What the engine says about the interrupted run, for the test's log. */
function logNotes(command: string, output: string): void {
    const lines = new Set(output.split("\n").filter((l) => /pending operations from|, interrupted while|lock/i.test(l)).map((l) => l.trim()));
    for (const line of lines) console.log(`      ${command}: ${line}`);
}

function pendingNames(stack: string): string {
    return JSON.stringify(stateFile(stack).pending.map((p) => `${p.type} ${p.resource.urn.split("::").pop()}`));
}

describe("an interrupted up leaves nothing behind (the real CLI, killed with SIGKILL)", function () {
    /** Stack e2e-kill-<n> on ports 31n0, 31n1: an up of it is killed and `run` checks the aftermath. */
    async function killCase(n: number, run: (ctx: { stack: string; scope: string; cli: Cli }) => Promise<void>, load = SMALL_LOAD) {
        const stack = `e2e-kill-${n}`;
        const scope = path.join(ROOT, ".lab", stack);
        const ports = [3100 + 10 * n, 3101 + 10 * n];
        const ws = await testStack(stack, "uwsgi-gevent", { ...load, appPort: String(ports[0]), apiPort: String(ports[1]) });
        const cli = new Cli(["up", "--yes", "--skip-preview", "-s", stack]);
        try {
            await run({ stack, scope, cli });
            assert.deepEqual(stateFile(stack).resources, [], "the state records nothing");
            console.log(`      pending operations left in the state: ${stateFile(stack).pending.length}`);
            assert.deepEqual(processesWithEnv(MARKERS.scope, scope).map((p) => `${p.pid} ${comm(p.pid)}`), [], "no process of the stack");
            const bound = ports.filter((p) => listeningNow().has(p));
            assert.deepEqual(bound, [], "none of the stack's ports bound");
        } finally {
            cli.child.kill("SIGKILL");
            await cleanUp(ws, scope);
        }
    }

    /** Kills the up as soon as a server of the stack exists, before the state records it; returns that server. */
    async function killBeforeRecord(stack: string, scope: string, cli: Cli) {
        await cli.killWhen("a server process of the stack", () => processesWithEnv(MARKERS.scope, scope).length > 0);
        const orphan = processesWithEnv(MARKERS.scope, scope)[0];
        const service = path.basename(orphan.env.get(MARKERS.service)!);
        assert.deepEqual(recordedServices(stack).filter((s) => s.name === service), [], `the state does not record ${service}`);
        console.log(`      killed with ${service} (pid ${orphan.pid}) started, unrecorded; pending: ${pendingNames(stack)}`);
        assert.ok(isAlive(orphan.pid, orphan.startTime), "the unrecorded server outlived the CLI");
        return orphan;
    }

    it("(a) before the record, then up: the up stops the unrecorded server and starts its own; destroy leaves nothing", () =>
        killCase(1, async ({ stack, scope, cli }) => {
            const orphan = await killBeforeRecord(stack, scope, cli);
            const up = await pulumi("up", "--yes", "--skip-preview", "-s", stack);
            logNotes("up", up);
            assert.ok(!isAlive(orphan.pid, orphan.startTime), "the next up stopped the unrecorded server");
            const now = recordedServices(stack);
            assert.deepEqual(now.map((s) => s.name).sort(), ["flask-app", "slow-api"]);
            for (const s of now) assert.ok(isAlive(s.pid, s.startTime), `${s.name} runs as recorded`);
            // The engine keeps an interrupted create pending (and warns at every up) until a refresh clears it;
            // non-interactively that takes --clear-pending-creates, and read keeps what really runs.
            assert.match(up, /1 pending operations from previous deployment/);
            assert.equal(stateFile(stack).pending.length, 1);
            await pulumi("refresh", "--yes", "--skip-preview", "--clear-pending-creates", "-s", stack);
            assert.deepEqual(stateFile(stack).pending, [], "the refresh cleared the pending create");
            assert.deepEqual(recordedServices(stack), now, "and kept the services that run");
            await pulumi("destroy", "--yes", "--skip-preview", "-s", stack);
        }));

    it("(b) before the record, then destroy: it stops the server the state never recorded", () =>
        killCase(2, async ({ stack, scope, cli }) => {
            const orphan = await killBeforeRecord(stack, scope, cli);
            const destroy = await pulumi("destroy", "--yes", "--skip-preview", "-s", stack);
            logNotes("destroy", destroy);
            assert.ok(!isAlive(orphan.pid, orphan.startTime), "destroy stopped the unrecorded server");
        }));

    it("(c) after the record: destroy stops what the state recorded", () =>
        killCase(3, async ({ stack, cli }) => {
            await cli.killWhen("the app recorded in the state", () => recordedServices(stack).some((s) => s.name === "flask-app"));
            const recorded = recordedServices(stack);
            for (const s of recorded) assert.ok(isAlive(s.pid, s.startTime), `${s.name} still runs after the kill`);
            const destroy = await pulumi("destroy", "--yes", "--skip-preview", "-s", stack);
            logNotes("destroy", destroy);
            for (const s of recorded) assert.ok(!isAlive(s.pid, s.startTime), `${s.name} stopped`);
        }));

    it("(d) during the load: the driver dies with the provider; destroy leaves nothing", () =>
        killCase(4, async ({ stack, cli }) => {
            let driver = 0;
            // The load's driver carries FGL_LOAD (the program runs `ab -V` too, for its version).
            await cli.killWhen("ab running the load", () => {
                driver = processesWithEnv("FGL_KILL_TEST", cli.mark).find((p) => comm(p.pid) === "ab" && p.env.has(MARKERS.load))?.pid ?? 0;
                return driver > 0;
            });
            console.log(`      killed during the load (ab pid ${driver}); pending: ${pendingNames(stack)}`);
            assert.ok(!stateFile(stack).resources.some((r) => r.type === LOAD_TYPE), "the interrupted load is not recorded");
            const destroy = await pulumi("destroy", "--yes", "--skip-preview", "-s", stack);
            logNotes("destroy", destroy);
        }, { ...SMALL_LOAD, loadRequests: "60" })); // about 7 s of load: killed well inside it, on a busy machine too
});

describe("refresh tells the truth (Automation API)", function () {
    it("reports a killed service and its load as gone, and the next up brings both back", async () => {
        const stackName = "e2e-kill-refresh";
        const scope = path.join(ROOT, ".lab", stackName);
        const stack = await testStack(stackName, "uwsgi-gevent", { ...SMALL_LOAD, appPort: "3190", apiPort: "3191" });
        try {
            await stack.up();
            const before = recordedServices(stackName);
            const app = before.find((s) => s.name === "flask-app")!;
            const api = before.find((s) => s.name === "slow-api")!;
            process.kill(-app.pid, "SIGKILL");
            await waitFor(() => "the app dead", () => !isAlive(app.pid, app.startTime), 5000);

            const refresh = await stack.refresh();
            console.log(`      refresh: ${JSON.stringify(refresh.summary.resourceChanges)}`);
            const afterRefresh = stateFile(stackName).resources;
            assert.deepEqual(recordedServices(stackName), [api], "only the live slow API stays recorded");
            assert.ok(!afterRefresh.some((r) => r.type === LOAD_TYPE), "the load that measured the dead app is gone");

            const up = await stack.up();
            console.log(`      next up: ${JSON.stringify(up.summary.resourceChanges)}`);
            assert.equal(up.summary.resourceChanges?.create, 2, "the app and its load, created again");
            const app2 = recordedServices(stackName).find((s) => s.name === "flask-app")!;
            assert.ok(isAlive(app2.pid, app2.startTime) && app2.pid !== app.pid, "a new app runs");
            assert.ok(stateFile(stackName).resources.some((r) => r.type === LOAD_TYPE), "and was measured again");
            assert.equal(up.outputs.completeRequests.value, 20);
        } finally {
            await cleanUp(stack, scope);
        }
    });
});

/** Destroy and remove the stack; whatever a failed test left running is stopped by its marker. */
async function cleanUp(stack: Stack, scope: string): Promise<void> {
    try {
        await stack.destroy();
    } finally {
        await stopScope(scope);
        await stack.workspace.removeStack(stack.name, { force: true });
        fs.rmSync(path.join(ROOT, `Pulumi.${stack.name}.yaml`), { force: true });
    }
}
