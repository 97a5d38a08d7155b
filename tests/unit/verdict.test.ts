// The verdict on hand-built figures far from every threshold, and on samples recorded on this machine.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { CpuSnapshot, CpuUsage, summarizeCpu } from "../../lib/load/cpu";
import { judgeRun, reachedShare } from "../../lib/load/result";
import { verdictOf, VerdictInput } from "../../lib/load/verdict";

/** Usage with only the figures the verdict reads. */
function usage(roles: CpuUsage["roles"], minIdle: number): CpuUsage {
    return { cores: 2, seconds: 10, roles, machine: { avgBusyCores: 1, peakBusyCores: 2 * (1 - minIdle), minIdle, othersAvgCores: 0.25 } };
}

const role = (peakCores: number, usable: number, peakProcessCores = peakCores, processCores: number | null = null, burstProcessCores = peakProcessCores) =>
    ({ avgCores: peakCores * 0.8, peakCores, usableCores: usable, peakProcessCores, burstProcessCores, processCores });

/** A run of 2000 requests at 200 clients, 1 s delay, with nothing remarkable unless the test says so. */
const run = (over: Partial<VerdictInput>): VerdictInput => ({
    reached: 0.7, cpu: usage({ app: role(0.3, 2, 0.3, 1) }, 0.4), offered: 200, capacity: Infinity, requestsPerSecond: 140, delaySeconds: 1,
    held: { upstream: { peak: 200, avg: 140 }, postgres: null }, listen: { overflows: 0, drops: 0, namespace: "this machine's" }, requests: 2000,
    ...over,
});

describe("bottleneck verdict", () => {
    it("names slow clients where they left the server fewer threads than the load's clients, and only there", () => {
        // 4 x 50 threads, 100 slow clients: 100 left for 200 clients, and the run far below its limit.
        const starved = verdictOf(run({ capacity: 200, slowClients: 100, reached: 0.23, held: { upstream: { peak: 60, avg: 34 }, postgres: null } }));
        assert.equal(starved.verdict, "slow-clients");
        assert.match(starved.words, /^slow clients: 100 connections that never end their request each hold one of the 200 requests the server holds at once \(a thread or a connection slot\); at most 100 were left for 200 clients$/);
        assert.match(verdictOf(run({ capacity: 2, slowClients: 4, reached: 0.1, offered: 4 })).words, /none was left where they spread evenly: requests waited for one until they timed out/);
        // A gevent worker's 1000 greenlets: 900 left for 200 clients, so whatever slowed it was something else.
        assert.notEqual(verdictOf(run({ capacity: 1000, slowClients: 100, reached: 0.5 })).verdict, "slow-clients");
        // A pool that kept up in spite of them (Waitress reads requests in its event loop): the limit explains the run.
        assert.equal(verdictOf(run({ capacity: 200, slowClients: 100, reached: 0.97 })).verdict, "latency-bound");
        assert.notEqual(verdictOf(run({ capacity: 200, reached: 0.23 })).verdict, "slow-clients", "none held");
    });

    it("when the app burns CPU per request, its CPU sets the limit and at that limit the app is named, not latency", () => {
        const figures = { complete: 400, failed: 0, timeTakenSeconds: 8.2, requestsPerSecond: 48.8, latencyMs: { p50: 2000, p90: 2100, p95: 2150, p99: 2200, p999: null, max: 2300 } };
        const ctx = { requests: 400, concurrency: 100, delaySeconds: 0.1, capacity: 1000, ceilingRps: null, threadsBefore: 5, threadsPeak: 9,
            cpu: null, held: null, listen: null, upstream: null, startedAt: "2026-11-30T00:00:00Z" };
        // 1 process x 1000 / 20 ms = 50 req/s, far below Little's 100 clients / (0.1 + 0.02) s = 833.
        const cpuBound = judgeRun(figures, { ...ctx, appCpuMs: 20, cpuLimitRps: 50 });
        assert.deepEqual([cpuBound.limitRps, cpuBound.cpuLimitRps, cpuBound.bottleneck.verdict], [50, 50, "app"]);
        assert.match(cpuBound.bottleneck.words, /at its CPU limit .*GIL/);
        // No CPU burned: Little's law alone, over the delay.
        const plain = judgeRun({ ...figures, requestsPerSecond: 990 }, { ...ctx, appCpuMs: 0, cpuLimitRps: Infinity });
        assert.deepEqual([plain.limitRps, plain.cpuLimitRps, plain.bottleneck.verdict], [1000, null, "latency-bound"]);
        // The burned CPU lengthens each request: Little's law over delay + appCpuMs, where that is the lower limit.
        const slow = judgeRun(figures, { ...ctx, delaySeconds: 1, appCpuMs: 250, cpuLimitRps: 800 });
        assert.equal(slow.limitRps, 80);
    });

    it("names the role at >= 90 % of the cores it can use, the most saturated first", () => {
        const b = verdictOf(run({ cpu: usage({ driver: role(0.97, 1), app: role(1.85, 2), upstream: role(0.3, 1) }, 0.01) }));
        assert.equal(b.verdict, "driver");
        assert.match(b.rule, /^driver at 97 % of the 1 core\(s\) it can use/);
        assert.match(b.words, /^driver ran out of CPU first/);
        assert.equal(verdictOf(run({ cpu: usage({ app: role(0.99, 1), driver: role(0.5, 1) }, 0.3), reached: null })).verdict, "app");
    });

    it("names a role one of whose processes used all one process can (a GIL-bound worker, ab)", () => {
        const b = verdictOf(run({ cpu: usage({ app: role(1.02, 2, 0.99, 1), driver: role(0.3, 2, 0.3, 1) }, 0.2) }));
        assert.equal(b.verdict, "app");
        assert.match(b.rule, /^app at 99 % of the 1 core\(s\) one of its processes can use \(peak 0\.99\)/);
        assert.notEqual(verdictOf(run({ cpu: usage({ app: role(1.02, 2, 0.99, null) }, 0.2) })).verdict, "app", "a process may use every core");
    });

    it("a role at half its cores is not the bottleneck, even pinned to one", () => {
        assert.notEqual(verdictOf(run({ cpu: usage({ app: role(0.5, 1) }, 0.3) })).verdict, "app");
    });

    it("names what the server held at once when it held far fewer than the clients: a blocking driver serializes", () => {
        // psycopg2 without psycogreen at 5 clients: one query at a time, busy most of the run.
        const b = verdictOf(run({
            reached: 0.45, offered: 5, requestsPerSecond: 1.5, requests: 10,
            held: { upstream: { peak: 5, avg: 0.8 }, postgres: { peak: 1, avg: 0.75 } },
        }));
        assert.equal(b.verdict, "concurrency");
        assert.match(b.words, /at most 1 query at once in PostgreSQL for 5 offered: it serializes them/);
    });

    it("names a thread pool holding its size of twice as many clients: the rest queued", () => {
        const b = verdictOf(run({ offered: 400, requestsPerSecond: 160, held: { upstream: { peak: 200, avg: 160 }, postgres: null }, reached: 0.45 }));
        assert.equal(b.verdict, "concurrency");
        assert.match(b.words, /held at most 200 requests at once in the slow API for 400 offered: the rest queued/);
    });

    it("at a constant rate, a pool whose threads were all busy at the peak queued requests for one", () => {
        // The knee of a 10-thread pool at a 0.1 s delay: 6 offered on average, all 10 busy at the peak.
        const b = verdictOf(run({ reached: null, offered: 5.9, capacity: 10, requestsPerSecond: 59, held: { upstream: { peak: 10, avg: 5.9 }, postgres: null } }));
        assert.equal(b.verdict, "concurrency");
        assert.match(b.words, /the server's 10 threads were all busy at the peak/);
        assert.notEqual(verdictOf(run({ reached: null, offered: 5.9, capacity: 10, held: { upstream: { peak: 5, avg: 3 }, postgres: null } })).verdict,
            "concurrency", "half the pool was idle at the peak");
        assert.notEqual(verdictOf(run({ reached: 0.9, offered: 200, capacity: 200, held: { upstream: { peak: 200, avg: 180 }, postgres: null } })).verdict,
            "concurrency", "as many clients as threads: the clients are the limit as much as the pool");
    });

    it("a stage at its peak only for a moment is no limit", () => {
        assert.notEqual(verdictOf(run({ held: { upstream: { peak: 100, avg: 10 }, postgres: null }, reached: 0.5 })).verdict, "concurrency");
    });

    it("names the listen backlog when connections overflowed it for a good share of the requests, far below the limit", () => {
        const overflowed = (overflows: number) => ({ listen: { overflows, drops: overflows, namespace: "this machine's" } });
        const b = verdictOf(run({ ...overflowed(15251), reached: 0.3 }));
        assert.equal(b.verdict, "listen-backlog");
        assert.match(b.rule, /15251 ListenOverflows/);
        assert.notEqual(verdictOf(run({ ...overflowed(2), reached: 0.5 })).verdict, "listen-backlog", "two overflows in 2000 requests are noise");
        // Near the limit there is little to explain: latency-bound, the overflows noted.
        const near = verdictOf(run({ ...overflowed(36), reached: 0.91 }));
        assert.equal(near.verdict, "latency-bound");
        assert.match(near.words, /near its limit .*; the listen queue overflowed 36 times$/);
    });

    it("names a GIL-bound process busy in bursts a second's average hides, only where nothing else explains the run", () => {
        // gevent-pywsgi at the tutorial's load: one process, ~2 ms of CPU per request, each wave of 200 clients served in a row.
        const bursty = usage({ app: role(0.5, 2, 0.5, 1, 0.98), upstream: role(0.12, 2, 0.12, 1, 0.3) }, 0.4);
        const b = verdictOf(run({ cpu: bursty, reached: 0.8 }));
        assert.equal(b.verdict, "app");
        assert.match(b.words, /^app ran out of CPU in bursts: one of its processes used 98 % of its core over a quarter second \(50 % over its busiest second\)/);
        assert.equal(verdictOf(run({ cpu: bursty, reached: 0.9 })).verdict, "latency-bound", "near the limit: nothing to explain");
        assert.equal(verdictOf(run({ cpu: usage({ app: role(0.5, 2, 0.5, null, 0.98) }, 0.4), reached: 0.8 })).verdict, "unexplained",
            "a process that may use every core is not held to one");
    });

    it("names the machine when no role is saturated but less than 5 % is idle", () => {
        const b = verdictOf(run({ cpu: usage({ app: role(0.5, 1), upstream: role(0.5, 1), driver: role(0.4, 1) }, 0.01) }));
        assert.equal(b.verdict, "machine");
        assert.match(b.rule, /machine 1 % idle at its busiest \(< 5 %\).*outside the run's roles used 0\.25 core\(s\)/);
    });

    it("says latency-bound at the limit, whatever else was busy, and near it when nothing else explains the gap", () => {
        const at = verdictOf(run({ cpu: usage({ app: role(0.99, 1) }, 0.01), reached: reachedShare(197.3, 200, 200) }));
        assert.equal(at.verdict, "latency-bound");
        assert.match(at.rule, /^latency-bound: 99 % of what the limit and the driver allow \(>= 95 %\)/);
        const near = verdictOf(run({ reached: reachedShare(170, 200, 181.82) }));
        assert.equal(near.verdict, "latency-bound");
        assert.match(near.words, /near its limit \(93 %/);
    });

    it("is unexplained, with its figures, far below the limit when no rule fits", () => {
        // gevent-pywsgi's matrix run: 133.64 req/s of ab's 181.82, no role saturated, the slow API held all it was sent.
        const b = verdictOf(run({ reached: reachedShare(133.64, 200, 181.82), requestsPerSecond: 133.64, held: { upstream: { peak: 200, avg: 133.6 }, postgres: null } }));
        assert.equal(b.verdict, "unexplained");
        assert.match(b.rule, /74 % of what the limit and the driver allow/);
        assert.match(b.rule, /each request spent 0\.5 s on average outside the slow API/);
        assert.equal(verdictOf(run({ reached: null, cpu: null, held: null, listen: null })).verdict, "unexplained", "nothing measured: nothing said");
    });

    it("measures what was reached against the lower of the limit and the driver's ceiling", () => {
        assert.equal(reachedShare(175, 200, 181.82)!.toFixed(3), "0.962"); // ab at 2000/200: its own ceiling, not the limit
        assert.equal(reachedShare(0.99, 1, 3.33), 0.99); // the one-thread dev server
        assert.equal(reachedShare(100, null, 181.82)!.toFixed(2), "0.55");
        assert.equal(reachedShare(100, null, null), null);
    });
});

describe("bottleneck verdict on recorded samples", () => {
    const fixtures = path.join(__dirname, "fixtures");
    const recorded = (name: string) => JSON.parse(fs.readFileSync(path.join(fixtures, name), "utf8")) as {
        cores: number; limits: Parameters<typeof summarizeCpu>[2]; reached: number; snapshots: CpuSnapshot[];
    };

    it("a dev-server run at 10 requests / 5 clients is latency-bound", () => {
        // Recorded while other work kept the machine busy: 0.97 req/s of the 1 possible says latency-bound all the same.
        const r = recorded("cpu-devserver-10x5.json");
        const cpu = summarizeCpu(r.snapshots, r.cores, r.limits)!;
        assert.equal(verdictOf(run({ cpu, reached: r.reached, offered: 5, requests: 10, held: null, listen: null })).verdict, "latency-bound");
        assert.ok(cpu.roles.app!.peakCores < 0.2, `the dev server idles while it waits: ${cpu.roles.app!.peakCores}`);
    });

    it("ab at 1000 clients on the bare slow API while others kept both cores busy: the machine ran out, no role did", () => {
        const r = recorded("cpu-ab-1000-busy-machine.json");
        const cpu = summarizeCpu(r.snapshots, r.cores, r.limits)!;
        assert.equal(verdictOf(run({ cpu, reached: r.reached, offered: 1000, held: null, listen: null })).verdict, "machine");
        assert.ok(cpu.machine.minIdle < 0.05 && cpu.roles.driver!.peakCores < 0.5 && cpu.roles.upstream!.peakCores < 0.9, JSON.stringify(cpu));
        assert.ok(cpu.machine.othersAvgCores > 1, `others held the machine: ${cpu.machine.othersAvgCores}`);
    });
});
