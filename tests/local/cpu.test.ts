// Who ran out first, for real: CPU attribution and the verdict on stacks
// deployed through the Automation API, and oha (built by scripts/oha.sh when it
// never was) with a CPU split against the bare slow API.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Stack } from "@pulumi/pulumi/automation";
import { CpuAffinity } from "../../lib/load/cpu";
import { LoadResult } from "../../lib/load/result";
import { processTable } from "../../lib/procfs";
import { findDriver } from "../../platforms/localTools";
import { measure } from "../../providers/loadRun";
import { startSlowApi, stop } from "../../scripts/harness";
import { removeStack, testStack, upOutputs } from "./stack";

function cpuStack(name: string, scenario: string, config: Record<string, string>): Promise<Stack> {
    return testStack(`e2e-cpu-${name}`, scenario, { scenario, baseline: "false", ...config });
}

/** Up, its outputs, and the stack removed with everything it ran. */
async function upOnce(stack: Stack): Promise<Record<string, any>> {
    try {
        return await upOutputs(stack);
    } finally {
        await removeStack(stack);
    }
}

describe("CPU attribution on deployed stacks (Automation API)", function () {
    it("a dev-server run (10 requests, 5 clients, 1 s) is latency-bound at its limit of one request at once, with every role's CPU", async () => {
        const out = await upOnce(await cpuStack("devserver", "devserver", {}));
        const r: LoadResult = out.result;
        assert.deepEqual([out.bottleneck, out.cpu, out.held], [r.bottleneck, r.cpu, r.held], "exported as stack outputs");
        assert.equal(r.bottleneck.verdict, "latency-bound", r.bottleneck.rule);
        assert.match(r.bottleneck.words, /at its limit/);
        // The one thread serializes: the slow API never held two of its requests at once, and held one most of the run.
        assert.equal(r.held!.upstream!.peak, 1, JSON.stringify(r.held));
        assert.ok(r.held!.upstream!.avg >= 0.7, `one request held most of the time: ${r.held!.upstream!.avg}`);
        const cpu = r.cpu!;
        for (const role of ["driver", "upstream", "app"] as const) {
            assert.ok(cpu.roles[role], `${role} measured: ${JSON.stringify(cpu)}`);
        }
        assert.ok(cpu.seconds >= 8, `sampled over the whole run (~10 s): ${cpu.seconds}`);
        // The app's process served 10 requests, a few ms of CPU each, and otherwise waited.
        const app = cpu.roles.app!;
        assert.ok(app.avgCores > 0 && app.peakCores < 0.5, `the dev server computes a little and waits: ${JSON.stringify(app)}`);
        // The parts are within the whole: the roles' CPU is at most what the machine was busy with.
        const roles = Object.values(cpu.roles).reduce((sum, role) => sum + (role?.avgCores ?? 0), 0);
        assert.ok(roles <= cpu.machine.avgBusyCores + 0.05, `roles ${roles} cores, the machine busy ${cpu.machine.avgBusyCores}`);
    });

    it("uWSGI + gevent at 1000 clients overflows uWSGI's default listen backlog of 100, and not one of 4096", async () => {
        const load = { loadConcurrency: "1000", loadRequests: "5000", loadDelay: "1", loadWarmupSeconds: "0" };
        const { result: small } = await upOnce(await cpuStack("backlog", "uwsgi-gevent", load));
        const { result: large } = await upOnce(await cpuStack("backlog", "uwsgi-gevent", { ...load, listen: "4096" }));
        console.log(`      listen 100: ${small.requestsPerSecond} req/s, ${small.listen.overflows} overflows, ${small.bottleneck.words}`);
        console.log(`      listen 4096: ${large.requestsPerSecond} req/s, ${large.listen.overflows} overflows, ${large.bottleneck.words}`);
        assert.deepEqual([small.complete, large.complete], [5000, 5000]);
        // A thousand connections at once into a queue of 100: the kernel turns many away (15,251 in one run here).
        assert.ok(small.listen.overflows >= 0.01 * 5000, `listen 100: ${small.listen.overflows} overflows`);
        assert.ok(large.listen.overflows < 0.01 * 5000, `listen 4096: ${large.listen.overflows} overflows`);
        // Explained, whichever rule came first (a CPU, the machine, what was held, the backlog), and the overflows counted.
        assert.notEqual(small.bottleneck.verdict, "unexplained", small.bottleneck.rule);
    });

    it("loadDriver: oha deploys, builds or finds oha, and loads the app", async () => {
        const { result: r } = await upOnce(await cpuStack("oha", "uwsgi-gevent", {
            loadDriver: "oha", loadConcurrency: "50", loadRequests: "200", loadDelay: "0.2", loadRepeats: "2",
        }));
        assert.equal(r.driver, "oha");
        assert.equal(r.driverVersion, "1.16.0");
        // Two runs after oha's own warm-up: counts over both, each run's kept, the spread over them.
        assert.deepEqual([r.complete, r.failed, r.statusCodes], [400, 0, { "200": 400 }]);
        assert.deepEqual(r.repeats.map((run: { complete: number }) => run.complete), [200, 200]);
        assert.equal(r.spread!.requestsPerSecond.n, 2);
        assert.ok(r.warmup!.requests! > 0, `the warm-up ran: ${JSON.stringify(r.warmup)}`);
        assert.equal(r.driverCeilingRps, 250); // all 50 clients at once: 4 waves of 0.2 s
        assert.ok(r.cpu?.roles.app && r.cpu.roles.driver);
    });
});

/** The CPUs each running driver child of this process may use, sampled while `work` runs. */
async function driverCpus<T>(names: string[], work: () => Promise<T>): Promise<{ value: T; seen: Set<string> }> {
    const seen = new Set<string>();
    const timer = setInterval(() => {
        for (const p of processTable().filter((q) => q.ppid === process.pid)) {
            try {
                const status = fs.readFileSync(`/proc/${p.pid}/status`, "utf8");
                if (names.includes(status.match(/^Name:\s+(\S+)/m)?.[1] ?? "")) seen.add(status.match(/^Cpus_allowed_list:\s+(\S+)/m)![1]);
            } catch { /* exited */ }
        }
    }, 50);
    try {
        return { value: await work(), seen };
    } finally {
        clearInterval(timer);
    }
}

describe("oha and a CPU split on the bare slow API", function () {
    const log = path.join(os.tmpdir(), `e2e-cpu-slow-api-${process.pid}.log`);
    const split: CpuAffinity = os.cpus().length > 1 ? { driver: "0", upstream: "1" } : {};
    let api: Awaited<ReturnType<typeof startSlowApi>>;
    before(async () => {
        api = await startSlowApi(split, log);
    });
    after(() => {
        stop(api.child);
        fs.rmSync(log, { force: true });
    });

    const load = (driver: ReturnType<typeof findDriver>, requests: number, concurrency: number, delaySeconds: number) => measure({
        url: `${api.url}?delay=${delaySeconds}`, expectBody: "slow api response",
        driver: driver.name, driverPath: driver.path, driverVersion: driver.version, k6Script: "",
        requests, concurrency, delaySeconds, timeoutSeconds: 30, capacity: -1, repeats: 1, warmupSeconds: 0, upstreamUrl: api.url,
        threads: { kind: "group", pgid: api.child.pid! }, roles: { upstream: { kind: "group", pgid: api.child.pid! } },
        roleProcessCores: { upstream: 1 }, cpuAffinity: split, maxFailedRequests: -1, resultsDir: "", target: "", runId: "",
    });

    it("oha: a small load parsed into the normalized result, the driver pinned as the split says", async () => {
        const { value: r, seen } = await driverCpus(["oha"], () => load(findDriver("oha"), 400, 100, 0.5));
        assert.deepEqual([r.complete, r.failed, r.statusCodes, r.errors, r.timeouts], [400, 0, { "200": 400 }, {}, 0]);
        assert.equal(r.driverCeilingRps, 200); // 4 waves of 0.5 s
        assert.ok(r.requestsPerSecond > 0.5 * 200 && r.requestsPerSecond <= 1.02 * 200, `${r.requestsPerSecond} req/s`);
        assert.ok(r.latencyMs.p50! >= 500 && r.latencyMs.p999! >= r.latencyMs.p99!, JSON.stringify(r.latencyMs));
        assert.deepEqual(r.cpuAffinity, split);
        assert.equal(r.cpu!.roles.upstream!.processCores, 1);
        if (split.driver) {
            assert.deepEqual([...seen], [split.driver], "oha ran only on its CPU");
            assert.deepEqual([r.cpu!.roles.driver!.usableCores, r.cpu!.roles.upstream!.usableCores], [1, 1]);
        }
    });

    it("ab: pinned as the split says, one core is all its one process can use", async () => {
        const { value: r, seen } = await driverCpus(["ab"], () => load(findDriver("ab"), 2000, 500, 0.5));
        assert.deepEqual([r.complete, r.failed], [2000, 0]);
        assert.equal(r.driverCeilingRps, 800); // one request first, then 4 waves of 500: 2.5 s
        assert.equal(r.cpu!.roles.driver!.processCores, 1);
        if (split.driver) assert.deepEqual([...seen], [split.driver]);
        console.log(`      ab at 500 clients: ${r.requestsPerSecond} req/s; ${r.bottleneck!.rule}`);
    });
});
