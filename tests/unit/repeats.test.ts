import { strict as assert } from "assert";
import { combineRuns, representativeRun, spreadNote } from "../../lib/load/repeats";
import { spreadOf } from "../../lib/stats";
import { CPU, run } from "./fixtures/runs";

describe("a load in repeats", () => {
    it("heads the result with the medians, sums the counts, keeps the most threads, and takes the details of the median run", () => {
        const runs = [run(150, { failed: 1, threadsPeak: 190 }), run(170, { threadsPeak: 230, startedAt: "b" }), run(160, { failed: 2, startedAt: "c" })];
        runs[2].latencyMs = { ...runs[2].latencyMs, p95: 1400 };
        const r = combineRuns(runs);
        assert.equal(r.requestsPerSecond, 160);
        assert.equal(representativeRun(runs), 2);
        assert.deepEqual([r.complete, r.failed, r.threadsPeak, r.startedAt], [6000, 3, 230, "2026-11-30T00:00:00.000Z"]);
        assert.equal(r.latencyMs.p95, 1150, "each percentile its own median");
        assert.equal(r.efficiency, 0.8);
        assert.deepEqual(r.upstream, { arrived: 6000, served: 6000, dropped: 0 });
        assert.equal(r.spread!.requestsPerSecond.n, 3);
        assert.deepEqual([r.spread!.requestsPerSecond.min, r.spread!.requestsPerSecond.max], [150, 170]);
        assert.equal(r.spread!.p50Ms!.cv, 0, "identical runs: no spread");
        assert.equal(r.spread!.peakCores.app!.median, 0.75);
    });

    it("one run has no spread", () => {
        const r = combineRuns([run(163)]);
        assert.deepEqual([r.requestsPerSecond, r.spread, r.spreadNote], [163, null, null]);
    });

    it("says when the runs disagree, naming what was measured: other programs' CPU, a slow first run", () => {
        const busy = { ...CPU, machine: { ...CPU.machine, othersAvgCores: 0.8 } };
        const noisy = [run(150), run(170, { cpu: busy }), run(168)];
        assert.match(spreadNote(noisy, spreadOf([150, 170, 168]))!, /CV 6\.8 % \(> 5 %\); likely cause: other programs used 0\.8 cores in run 2; run 1 was the slowest, 11 % below the others' median/);
        assert.match(spreadNote([run(170), run(150), run(171)], spreadOf([170, 150, 171]))!, /no cause was measured/);
        assert.equal(spreadNote([run(170), run(168), run(171)], spreadOf([170, 168, 171])), null, "CV 0.9 %: they agree");
    });
});
