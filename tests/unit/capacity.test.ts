import { strict as assert } from "assert";
import { CapacitySearch, capacityOf, defaultSearch, judgeProbe, mostProbes, nextRate, OHA_MAX_RPS, Probe, probedAgain, searchProblems } from "../../lib/load/capacity";
import { ConfigError, resolveSettings } from "../../lib/settings";

/**
 * A server model to search: a pool of `threads`, each request `delay` s, plus a CPU cost that saturates at
 * `cpuRps`; p99 stays near the delay below both limits and grows past either. The search knows none of it.
 */
function server(threads: number, delay: number, cpuRps = Infinity) {
    const capacity = Math.min(threads / delay, cpuRps);
    return (rate: number) => {
        const load = rate / capacity;
        const p99 = load < 0.9 ? delay * 1000 * (1 + 0.2 * load) : delay * 1000 * (1 + 10 * (load - 0.8));
        return { askedRps: rate, reachedRps: rate, requests: Math.round(rate * 10), failed: 0, latencyMs: { p50: delay * 1000, p90: null, p99, max: null } };
    };
}

/**
 * Runs the search against a model: every probe judged as the provider judges it; a miss is the model's limit
 * (concurrency), but the probes numbered in `stalls` stall: they miss and nothing explains it.
 */
function searchModel(search: CapacitySearch, model: ReturnType<typeof server>, stalls: number[] = []): ReturnType<typeof capacityOf> {
    const probes: Probe[] = [];
    for (let rate = nextRate(search, probes); rate !== null; rate = nextRate(search, probes)) {
        assert.ok(probes.length < 20, "the search ends");
        const stalled = stalls.includes(probes.length);
        const figures = model(rate);
        if (stalled) figures.latencyMs.p99 = 10 * search.sloP99Ms;
        const judged = judgeProbe(figures, search.sloP99Ms);
        probes.push({
            ...figures, ...judged, cpu: null, held: null, listen: null, upstream: null,
            bottleneck: { verdict: judged.passed ? "latency-bound" : stalled ? "unexplained" : "concurrency", words: "", rule: "" }, startedAt: "",
        });
    }
    return capacityOf(search, probes);
}

describe("capacity search", () => {
    it("finds the knee of a thread pool to within the precision: 4 x 50 threads at 1 s carry ~200 req/s at most", () => {
        const search = { ...defaultSearch(200, 1), precision: 0.05 };
        const c = searchModel(search, server(200, 1));
        assert.equal(c.bound, "found");
        // The model misses its 1.5 s p99 from 0.9 x 200 = 180 req/s on.
        assert.ok(c.capacityRps! < 180 && c.capacityRps! >= 180 * 0.95, `capacity ${c.capacityRps}`);
        assert.ok(c.knee!.askedRps > c.capacityRps! && c.knee!.askedRps <= c.capacityRps! * 1.05 + 1, `knee ${c.knee!.askedRps}`);
        assert.deepEqual(c.probes.slice(0, 3).map((p) => p.askedRps), [50, 100, 200], "ramp: doubles from a quarter of the limit");
    });

    it("bounds a gevent server by its CPU, far above any pool's thread count", () => {
        const c = searchModel({ ...defaultSearch(4000, 1), precision: 0.05 }, server(4000, 1, 420));
        assert.ok(c.capacityRps! > 300 && c.capacityRps! <= 420, `capacity ${c.capacityRps}`);
    });

    it("probes a miss that nothing explains once more, and lets the second probe decide its rate", () => {
        const search = { ...defaultSearch(200, 1), precision: 0.05 };
        const clean = searchModel(search, server(200, 1));
        // The second probe, 100 req/s, stalls; its recheck passes, so the search ends as it would have without the stall.
        const stalled = searchModel(search, server(200, 1), [1]);
        assert.deepEqual(stalled.probes.slice(0, 3).map((p) => [p.askedRps, p.passed]), [[50, true], [100, false], [100, true]]);
        assert.deepEqual([stalled.capacityRps, stalled.knee!.askedRps], [clean.capacityRps, clean.knee!.askedRps]);
        assert.equal(stalled.probes.length, clean.probes.length + 1);
        assert.deepEqual([probedAgain(stalled.probes, 1), probedAgain(stalled.probes, 2)], [true, false]);
        // A miss explained by a limit is not probed again; a second stall at the same rate stands.
        assert.equal(new Set(clean.probes.map((p) => p.askedRps)).size, clean.probes.length);
        const twice = searchModel(search, server(200, 1), [1, 2]);
        assert.deepEqual([twice.probes.slice(0, 4).map((p) => p.askedRps), twice.knee!.askedRps], [[50, 100, 100, 75], 100]);
    });

    it("runs no more probes than mostProbes, every probe missing with nothing to explain it", () => {
        for (const search of [{ ...defaultSearch(200, 1), precision: 0.05 }, { sloP99Ms: 150, probeSeconds: 3, startRps: 1, maxRps: 16000, precision: 0.05 }]) {
            // Every probe on the ramp passes but the last rate's; every probe after stalls: each miss is probed again.
            const stalls = Array.from({ length: 60 }, (_, i) => i);
            for (const model of [server(10 ** 9, 0.1), server(1, 0.1)]) {
                const c = searchModel(search, model, stalls);
                assert.ok(c.probes.length <= mostProbes(search), `${c.probes.length} probes, at most ${mostProbes(search)}`);
            }
            const clean = searchModel(search, server(search.maxRps / 3, search.sloP99Ms / 1500));
            assert.ok(clean.probes.length <= mostProbes(search));
        }
        assert.equal(mostProbes({ startRps: 50, maxRps: 400, precision: 0.05 }), 4 + 2 * 6 + 1);
    });

    it("reports a first probe that already misses as capacity below it, with that probe, not as 0 or an error", () => {
        const c = searchModel({ sloP99Ms: 1500, probeSeconds: 10, startRps: 50, maxRps: 400, precision: 0.05 }, server(10, 1));
        assert.deepEqual([c.bound, c.capacityRps, c.probes.length, c.knee!.askedRps], ["below-first-probe", null, 1, 50]);
        assert.match(c.knee!.why, /^missed: p99 \d+ ms > 1500 ms/);
    });

    it("stops at its ceiling when every probe meets the objective", () => {
        const c = searchModel({ sloP99Ms: 1500, probeSeconds: 10, startRps: 10, maxRps: 60, precision: 0.05 }, server(1000, 1));
        assert.deepEqual([c.bound, c.capacityRps, c.knee], ["at-least-max", 60, null]);
        assert.deepEqual(c.probes.map((p) => p.askedRps), [10, 20, 40, 60]);
    });

    it("misses a probe for any failed request, for too slow a p99, or for a rate the driver did not reach", () => {
        const ok = { askedRps: 100, reachedRps: 99, requests: 990, failed: 0, latencyMs: { p50: 1000, p90: 1100, p99: 1400, max: 1500 } };
        assert.equal(judgeProbe(ok, 1500).passed, true);
        assert.match(judgeProbe({ ...ok, failed: 3 }, 1500).why, /3 of 990 requests failed/);
        assert.match(judgeProbe({ ...ok, latencyMs: { ...ok.latencyMs, p99: 1501 } }, 1500).why, /p99 1501 ms > 1500 ms/);
        assert.match(judgeProbe({ ...ok, reachedRps: 80 }, 1500).why, /reached 80 of 100 req\/s/);
    });

    it("defaults from the tutorial: p99 objective 1.5 x the delay, 10 s probes, no rate above what oha sends here", () => {
        assert.deepEqual(defaultSearch(200, 1), { sloP99Ms: 1500, probeSeconds: 10, startRps: 50, maxRps: 400, precision: 0.05 });
        assert.deepEqual(defaultSearch(1, 1), { sloP99Ms: 1500, probeSeconds: 10, startRps: 0.25, maxRps: 2, precision: 0.05 });
        assert.equal(defaultSearch(Infinity, 0.1).maxRps, OHA_MAX_RPS);
    });

    it("refuses a search that can't mean anything, naming the field", () => {
        const problems = searchProblems({ sloP99Ms: 1000, probeSeconds: 1, startRps: 500, maxRps: OHA_MAX_RPS + 1 }, 1);
        assert.deepEqual(problems.map((p) => p.field), ["sloP99Ms", "probeSeconds", "maxRps"]);
        assert.match(problems[0].message, /1000 ms is not above the 1000 ms every request sleeps/);
        assert.deepEqual(searchProblems({ sloP99Ms: 1500, probeSeconds: 10, startRps: 500, maxRps: 400 }, 1).map((p) => p.field), ["startRps"]);
    });

    it("is refused in a stack's settings before anything starts: the objective, the rate, the driver, the platform", () => {
        const problems = (config: Record<string, string>) => {
            try {
                resolveSettings((k) => config[k]);
            } catch (e) {
                return (e as ConfigError).problems.join("\n");
            }
            return "";
        };
        assert.match(problems({ capacitySearch: "true", sloP99Ms: "900" }), /sloP99Ms: 900 ms is not above the 1000 ms .*fix: pulumi config set sloP99Ms 1500/);
        assert.match(problems({ capacitySearch: "true", capacityMaxRps: "100000" }), /capacityMaxRps: 100000 req\/s is more than oha sends on this machine/);
        assert.match(problems({ capacitySearch: "true", loadDriver: "k6" }), /capacitySearch: probes run oha .*fix: pulumi config set loadDriver oha/);
        assert.match(problems({ capacitySearch: "true", platform: "kubernetes" }), /capacitySearch: on Kubernetes its probes run oha in the load pods.*fix: pulumi config set loadDriver oha/);
        assert.equal(problems({ capacitySearch: "true", platform: "kubernetes", loadDriver: "oha" }), "");
        assert.match(problems({ sloP99Ms: "1500" }), /sloP99Ms: set, but there is no capacity search/);
        assert.equal(problems({ capacitySearch: "true" }), "");
        assert.deepEqual(resolveSettings((k) => ({ capacitySearch: "true", serverMode: "gunicorn-sync" } as Record<string, string>)[k]).capacity,
            { sloP99Ms: 1500, probeSeconds: 10, startRps: 50, maxRps: 400 });
    });
});
