// Slow clients on real stacks (the tutorial's point at its sharpest): a head
// trickled a line a second holds a thread of a thread pool until it ends, so as
// many slow clients as threads starve Gunicorn's thread pool of the main load,
// while a gevent worker gives each a greenlet and serves the load as before.
import { strict as assert } from "assert";
import { Stack } from "@pulumi/pulumi/automation";
import { removeStack, testStack, upOutputs } from "./stack";

// Short requests and timeouts: a starved run is its requests timing out, 3 s each, 4 at a time.
const LOAD = {
    loadRequests: "16", loadConcurrency: "4", loadDelay: "0.2", loadDriver: "oha", loadTimeoutSeconds: "3",
    loadWarmupSeconds: "1", baseline: "false", slowClients: "4",
};

describe("slow clients (real engine, oha, the lab's own slow clients)", function () {
    let stack: Stack | undefined;
    afterEach(async () => {
        if (stack) await removeStack(stack);
        stack = undefined;
    });

    it("4 slow clients starve a 1 x 2 Gunicorn thread pool: the main load's req/s falls to near nothing, its requests time out", async () => {
        stack = await testStack("e2e-slow-threads", "gunicorn-sync", { ...LOAD, workers: "1", threads: "2" });
        const { result, summary } = await upOutputs(stack);
        const effect = result.slowClients;
        assert.equal(effect.clients, 4);
        // Without them, 2 threads at 0.2 s a request: near 10 req/s.
        assert.ok(effect.answeredPerSecond.without > 5, `without slow clients: ${effect.answeredPerSecond.without} answered/s`);
        assert.equal(effect.failed.without, 0);
        assert.ok(effect.answeredPerSecond.with <= 0.2 * effect.answeredPerSecond.without, `with them, ${effect.answeredPerSecond.with} answered/s`);
        assert.ok(effect.failed.with >= 0.8 * 16, `with them, ${effect.failed.with} of 16 failed`);
        assert.match(summary, /slow +4 held open/);
    });

    it("the same 4 slow clients cost a gevent worker nothing it needs: the main load is answered as without them", async () => {
        stack = await testStack("e2e-slow-gevent", "gunicorn-gevent", LOAD);
        const { result } = await upOutputs(stack);
        const effect = result.slowClients;
        assert.equal(effect.failed.with, 0);
        assert.equal(result.failed, 0);
        // Both near 4 / 0.2 s = 20 req/s; a busy machine may slow either run, not by half.
        assert.ok(effect.answeredPerSecond.with >= 0.5 * effect.answeredPerSecond.without,
            `answered/s ${effect.answeredPerSecond.without} without, ${effect.answeredPerSecond.with} with`);
    });
});
