// The tutorial's findings, each on a real stack with a short delay: a lost
// monkey-patch or psycogreen patch, or a server that stops queueing the way
// it should, fails here. Wide margins, ratios rather than absolute times: the
// machine is shared and small.
import { strict as assert } from "assert";
import * as os from "os";
import { Stack } from "@pulumi/pulumi/automation";
import { LoadResult } from "../../lib/load/result";
import { removeStack, testStack, upOutputs } from "./stack";

/** A finding's stack: a committed scenario's config, a load, no baseline (not needed for a ratio). */
async function findingStack(scenario: string, load: { n: number; c: number; delay: number }): Promise<Stack> {
    return testStack(`e2e-find-${scenario}`, scenario, {
        baseline: "false",
        loadRequests: String(load.n), loadConcurrency: String(load.c), loadDelay: String(load.delay),
    });
}

/** Cores the machine spent on work outside the stack during its load (other tests, other users); 0 unknown. */
function busyElsewhere(result: LoadResult): number {
    return result.cpu?.machine.othersAvgCores ?? 0;
}

/**
 * Up, for a finding about throughput: a load that shared the CPU with other work measured that work
 * too, so it runs again (twice at most) while other work took more than half a core.
 */
async function upUncontended(stack: Stack): Promise<Record<string, any>> {
    let out = await upOutputs(stack);
    for (let retry = 1; retry <= 2 && busyElsewhere(out.result) > 0.5; retry++) {
        console.log(`      (other work took ${busyElsewhere(out.result).toFixed(2)} cores of the machine: loading again)`);
        await stack.setConfig("loadRunId", { value: `uncontended-${retry}` });
        out = await upOutputs(stack);
    }
    return out;
}

/** Every request answered: a finding about speed means nothing over failed requests. */
function allServed(out: Record<string, any>, n: number): void {
    assert.equal(out.completeRequests, n);
    assert.equal(out.failedRequests, 0);
}

describe("the tutorial's findings, measured (real engine)", function () {
    let stack: Stack | undefined;
    afterEach(async () => {
        if (stack) await removeStack(stack);
        stack = undefined;
    });

    it("psycogreen lets PostgreSQL's waits overlap, and psycopg 3 does by itself: each >= 1.7x psycopg2-blocking", async () => {
        // Half of each request's delay is pg_sleep. Unpatched, each one blocks the gevent hub: at least
        // n x delay / 2 = 8 s in all, long enough to sample PostgreSQL's one query ~30 times. Patched, the 10 clients
        // overlap: about 5 x delay = 2 s.
        const load = { n: 40, c: 10, delay: 0.4 };
        stack = await findingStack("psycopg2-blocking", load);
        const blocking = await upOutputs(stack);
        allServed(blocking, load.n);
        // The same stack as psycopg2-psycogreen: only the app is replaced, PostgreSQL stays.
        await stack.setAllConfig({ psycogreen: { value: "true" } });
        const green = await upOutputs(stack);
        allServed(green, load.n);
        assert.ok(green.requestsPerSecond >= 1.7 * blocking.requestsPerSecond,
            `psycogreen ${green.requestsPerSecond} req/s, blocking ${blocking.requestsPerSecond} req/s`);
        // Why, measured in PostgreSQL: unpatched, the hub runs one query at a time; patched, the 10 clients' overlap.
        assert.equal(blocking.held.postgres.peak, 1, JSON.stringify(blocking.held));
        assert.equal(blocking.bottleneck.verdict, "concurrency", blocking.bottleneck.rule);
        assert.match(blocking.bottleneck.words, /at most 1 query at once in PostgreSQL .*it serializes them/);
        assert.ok(green.held.postgres.peak >= 3, `psycogreen ran ${green.held.postgres.peak} queries at once`);
        // psycopg 3 in the same stack, with no psycogreen: it waits through gevent's hub by itself.
        await stack.setAllConfig({ psycogreen: { value: "false" }, databaseDriver: { value: "psycopg3" } });
        const three = await upOutputs(stack);
        allServed(three, load.n);
        assert.ok(three.requestsPerSecond >= 1.7 * blocking.requestsPerSecond,
            `psycopg 3 ${three.requestsPerSecond} req/s, psycopg2 blocking ${blocking.requestsPerSecond} req/s`);
        assert.ok(three.held.postgres.peak >= 3, `psycopg 3 ran ${three.held.postgres.peak} queries at once`);
    });

    it("the single-threaded dev server serializes: n requests take at least n x delay", async () => {
        const load = { n: 8, c: 4, delay: 0.25 };
        stack = await findingStack("devserver", load);
        const out = await upOutputs(stack);
        allServed(out, load.n);
        // A server taking 4 at a time would need about 3 x delay = 0.75 s.
        assert.ok(out.timeTakenSeconds >= (load.n * load.delay) / 1.1, `${out.timeTakenSeconds} s for ${load.n} requests`);
    });

    it("one gevent worker (gunicorn-gevent) holds 100 clients near their limit, on a dozen threads", async () => {
        // ApacheBench's own best here is n / (delay x (1 + ceil((n-1)/c))) = 1000 / 11 s, 91 % of 100 / delay. Its
        // waves arrive together: ~3.5 ms of CPU a request in one process delays each wave ~0.2 s more, so 75-78 %
        // of the limit is what this machine shows. Serialized it would be 1 %; a 20-connection cap gave 19 %.
        const load = { n: 1000, c: 100, delay: 1 };
        stack = await findingStack("gunicorn-gevent", load);
        const out = await upUncontended(stack);
        allServed(out, load.n);
        const limit = load.c / load.delay;
        assert.ok(out.requestsPerSecond >= 0.65 * limit,
            `${out.requestsPerSecond} req/s; limit ${limit}; other work took ${busyElsewhere(out.result).toFixed(2)} cores`);
        // Greenlets, not threads: a thread per client would add 100; yet the slow API held all 100 at once.
        assert.ok(out.threadsPeak - out.threadsBefore <= 20, `threads ${out.threadsBefore} -> ${out.threadsPeak}`);
        assert.ok(out.held.upstream.peak >= 90, `held ${out.held.upstream.peak} at once`);
    });

    it("CPU per request bounds one gevent worker near 1000 / appCpuMs and names its process; a second worker scales it", async () => {
        // 20 ms of CPU in every request's handler: one process runs one handler at a time (its GIL), so at most 50 req/s,
        // however many greenlets wait; 100 clients and a 0.1 s delay alone would allow 100 / 0.12 = 833.
        const load = { n: 400, c: 100, delay: 0.1 };
        stack = await findingStack("uwsgi-gevent", load);
        await stack.setAllConfig({ appCpuMs: { value: "20" }, workers: { value: "1" } });
        const one = await upUncontended(stack);
        allServed(one, load.n);
        console.log(`      1 worker: ${one.requestsPerSecond} req/s (CPU limit ${one.result.cpuLimitRps}); ${one.bottleneck.words}`);
        assert.equal(one.result.cpuLimitRps, 50);
        assert.equal(one.result.appCpuMs, 20);
        assert.ok(one.requestsPerSecond <= 1.05 * 50, `${one.requestsPerSecond} req/s from one process burning 20 ms a request`);
        assert.equal(one.bottleneck.verdict, "app", one.bottleneck.rule);
        await stack.setAllConfig({ workers: { value: "2" } });
        const two = await upUncontended(stack);
        allServed(two, load.n);
        console.log(`      2 workers: ${two.requestsPerSecond} req/s (CPU limit ${two.result.cpuLimitRps}); ${two.bottleneck.words}`);
        // Two processes need two free cores: where other work kept one busy through every retry, the verdict must say so.
        if (busyElsewhere(two.result) > 0.5) {
            assert.equal(two.bottleneck.verdict, "machine", two.bottleneck.rule);
        } else if (os.cpus().length >= 2) {
            assert.ok(two.requestsPerSecond >= 1.3 * one.requestsPerSecond, `2 workers ${two.requestsPerSecond} req/s, 1 worker ${one.requestsPerSecond}: no scaling over the cores`);
        }
    });

    it("a 4 x 50 thread pool (gunicorn-sync) saturates at its 200, however many clients wait", async () => {
        // 400 clients, twice the pool. What shows the pool is how many requests the server holds at once, which the
        // slow API counts: up to 200 and no more (a thread per request or gevent would let 400 through, a 4 x 25 pool 100).
        // Req/s can't show it here: every Python server tops out near 200 / delay on this CPU at c=400 (gevent and
        // a thread per request measured 198 and 204, the pool 114: it queues half the clients a whole delay).
        const load = { n: 1200, c: 400, delay: 1 };
        stack = await findingStack("gunicorn-sync", load);
        // Other work on the machine only adds to the wait: no need to load again.
        const out = await upOutputs(stack);
        allServed(out, load.n);
        const pool = 4 * 50;
        // What the pool held at once, counted where its requests wait: in the slow API.
        const held = out.held.upstream.peak;
        console.log(`      ${held} requests held at once, ${out.requestsPerSecond} req/s, median ${out.p50Ms} ms, p95 ${out.p95Ms} ms; ${out.bottleneck.words}`);
        assert.ok(held <= pool, `${held} requests at once for ${load.c} clients: more than the pool's ${pool}`);
        assert.ok(held >= 0.75 * pool, `${held} requests at once for ${load.c} clients: the pool never filled`);
        assert.equal(out.bottleneck.verdict, "concurrency", out.bottleneck.rule);
        assert.ok(out.requestsPerSecond <= (1.1 * pool) / load.delay, `${out.requestsPerSecond} req/s above the pool's ${pool / load.delay}`);
        // Queued: with twice the pool's clients, requests wait for a thread a whole delay and more. The median is
        // no measure of it (1.5 to 2.2 s measured: 4 workers accept unevenly); the slowest twentieth is (3.9 to 4.1 s).
        assert.ok(out.p95Ms >= 2 * load.delay * 1000, `p95 ${out.p95Ms} ms: requests did not queue for the pool`);
    });
});
