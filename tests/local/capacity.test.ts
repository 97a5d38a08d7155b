// Capacity at a latency objective, searched on real stacks at a constant
// arrival rate (oha, latency counted from when each request should have been
// sent), with a short delay: the physics each server must show. Margins are
// wide: the machine is small and shared.
import { strict as assert } from "assert";
import { CapacityResult } from "../../lib/load/capacity";
import { CPU_ROLES } from "../../lib/load/cpu";
import { removeStack, testStack, upOutputs } from "./stack";

const DELAY = 0.1;

/** A scenario with a capacity search of 3 s probes at p99 <= 1.5 x the delay, after a small closed load. */
async function search(scenario: string, config: Record<string, string> = {}): Promise<CapacityResult> {
    const stack = await testStack(`e2e-cap-${scenario}`, scenario, {
        baseline: "false", loadRequests: "20", loadConcurrency: "5", loadDelay: String(DELAY), loadWarmupSeconds: "0",
        capacitySearch: "true", capacityProbeSeconds: "3", ...config,
    });
    try {
        const out = await upOutputs(stack);
        const c: CapacityResult = out.result.capacity;
        assert.equal(out.capacityRps, c.capacityRps, "exported as a stack output");
        console.log(`      ${scenario}: capacity ${c.capacityRps} req/s (${c.bound}); probes ${c.probes.map((p) => `${p.askedRps}${p.passed ? "+" : "-"}`).join(" ")}; ` +
            `knee: ${c.knee ? `${c.knee.askedRps} req/s, ${c.knee.why}; ${c.knee.bottleneck.words}` : "none"}`);
        return c;
    } finally {
        await removeStack(stack);
    }
}

describe("capacity at a latency objective, open model (real engine, oha)", function () {
    it("a pool of 2 x 5 threads carries no more than 10 / delay, holds no more than 10 at any rate, and says so where it missed", async () => {
        // Ramp 40, 80, 160: its top lands well past the pool's limit of 100.
        const c = await search("gunicorn-sync", { workers: "2", threads: "5", capacityStartRps: "40" });
        const pool = 10 / DELAY;
        assert.equal(c.bound, "found");
        assert.ok(c.capacityRps! <= 1.1 * pool && c.capacityRps! >= 0.3 * pool, `capacity ${c.capacityRps} for a pool limit of ${pool}`);
        for (const p of c.probes) assert.ok(p.held!.upstream!.peak <= 12, `at ${p.askedRps} req/s the slow API held ${p.held!.upstream!.peak} at once`);
        const top = c.probes.filter((p) => !p.passed).sort((a, b) => b.askedRps - a.askedRps)[0];
        assert.equal(top.bottleneck.verdict, "concurrency", `at ${top.askedRps} req/s: ${top.bottleneck.rule}`);
    });

    it("the single-threaded dev server carries no more than 1 / delay", async () => {
        const c = await search("devserver");
        assert.ok(c.capacityRps === null || c.capacityRps <= 1.1 / DELAY, `capacity ${c.capacityRps} for a limit of ${1 / DELAY}`);
        assert.ok(c.capacityRps === null || c.capacityRps >= 0.3 / DELAY, `capacity ${c.capacityRps}: the dev server is slow, not broken`);
        const top = c.probes.filter((p) => !p.passed).sort((a, b) => b.askedRps - a.askedRps)[0];
        assert.equal(top.bottleneck.verdict, "concurrency", `at ${top.askedRps} req/s: ${top.bottleneck.rule}`);
    });

    it("one gevent worker is bounded by CPU, not threads: well above a 10-thread pool, and a CPU ran out at the top", async () => {
        const c = await search("gunicorn-gevent");
        assert.ok(c.capacityRps !== null && c.capacityRps >= 1.5 * (10 / DELAY), `capacity ${c.capacityRps}`);
        const top = c.probes.filter((p) => !p.passed).sort((a, b) => b.askedRps - a.askedRps)[0];
        assert.ok(top, "some rate missed the objective");
        assert.ok([...CPU_ROLES, "machine"].includes(top.bottleneck.verdict as string), `at ${top.askedRps} req/s: ${top.bottleneck.rule}`);
        assert.ok(top.held!.upstream!.peak > 12, `a gevent worker holds more than a small pool: ${top.held!.upstream!.peak}`);
    });
});
