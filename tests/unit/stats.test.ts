import { strict as assert } from "assert";
import { compareSamples, median, spreadOf, studentTCdf, studentTQuantile, tieGroups, welch } from "../../lib/stats";

const near = (actual: number, expected: number, tolerance: number, what = "") =>
    assert.ok(Math.abs(actual - expected) <= tolerance, `${what} ${actual} is not within ${tolerance} of ${expected}`);

describe("statistics of repeated runs", () => {
    it("Student's t quantiles match the published table", () => {
        // Two-sided 95 %: the values in every statistics textbook's t table.
        for (const [df, t] of [[1, 12.706], [2, 4.303], [4, 2.776], [10, 2.228], [30, 2.042]] as const) {
            near(studentTQuantile(0.975, df), t, 0.001, `df ${df}`);
        }
        near(studentTQuantile(0.975, 1e6), 1.96, 0.001, "df -> infinity: the normal's");
        near(studentTCdf(0, 3), 0.5, 1e-12);
        near(studentTCdf(-2.776, 4) + studentTCdf(2.776, 4), 1, 1e-9, "symmetric");
    });

    it("the spread of three repeats: median, range, a t-interval of the mean, the CV", () => {
        const s = spreadOf([160, 170, 165]);
        assert.deepEqual([s.n, s.median, s.mean, s.min, s.max], [3, 165, 165, 160, 170]);
        // sd 5, so the half-width is 4.303 x 5 / sqrt(3) = 12.42.
        near(s.ci95![0], 152.58, 0.01);
        near(s.ci95![1], 177.42, 0.01);
        near(s.cv!, 5 / 165, 1e-9);
        const one = spreadOf([42]);
        assert.deepEqual([one.median, one.ci95, one.cv], [42, null, null], "one run has no spread");
        assert.equal(median([4, 1, 3, 2]), 2.5);
    });

    it("Welch's test gives SciPy's figures", () => {
        // scipy.stats.ttest_ind([1, 2, 3], [4, 5, 6], equal_var=False): t = -3.6742, df = 4, p = 0.021312
        const w = welch([1, 2, 3], [4, 5, 6])!;
        near(w.t, -3.6742, 1e-4);
        near(w.df, 4, 1e-9);
        near(w.p, 0.02131, 1e-5);
        // Unequal sizes and variances: scipy gives t = -4.7143, df = 2.4347, p = 0.028402.
        const u = welch([10, 12, 14, 11], [20, 29, 25])!;
        near(u.t, -4.7143, 1e-4);
        near(u.df, 2.4347, 1e-4);
        near(u.p, 0.028402, 1e-5);
        assert.equal(welch([1], [2, 3]), null, "one repeat: nothing to judge the noise by");
    });

    it("identical samples are a tie; clearly separated ones differ; the boundary is the test's 5 %", () => {
        assert.equal(compareSamples([165, 170, 160], [165, 170, 160]).comparison, "tie");
        assert.equal(compareSamples([150, 151, 149], [170, 171, 169]).comparison, "lower");
        assert.equal(compareSamples([170, 171, 169], [150, 151, 149]).comparison, "higher");
        // The README's case: runs 10-20 req/s apart, means 8 apart: within the noise.
        assert.equal(compareSamples([153.9, 133.6, 145.0], [163.5, 155.9, 150.1]).comparison, "tie");
        // Two samples of 3 with sd 1 each: t = d / sqrt(2/3), df = 4, so the 5 % boundary is d = 2.776 x 0.8165 = 2.2666.
        const at = (d: number) => compareSamples([100 + d - 1, 100 + d, 100 + d + 1], [99, 100, 101]);
        assert.equal(at(2.25).comparison, "tie");
        assert.equal(at(2.29).comparison, "higher");
        near(at(2.2666).test!.p, 0.05, 0.0005);
        assert.equal(compareSamples([1], [2]).comparison, "unknown");
        assert.equal(compareSamples([5, 5, 5], [6, 6, 6]).comparison, "lower", "no noise at all: any difference is real");
    });

    it("ranks by groups of ties, not by raw order", () => {
        const groups = tieGroups([
            { name: "a", samples: [170, 172, 168] },
            { name: "b", samples: [165, 175, 160] },
            { name: "c", samples: [120, 121, 119] },
            { name: "d", samples: [118, 125, 122] },
        ], true);
        assert.deepEqual(groups.map((g) => g.map((c) => c.name)), [["a", "b"], ["d", "c"]]);
        const fewest = tieGroups([{ name: "x", samples: [12, 12, 13] }, { name: "y", samples: [201, 201, 201] }], false);
        assert.deepEqual(fewest.map((g) => g.map((c) => c.name)), [["x"], ["y"]], "lower is better: fewest first");
        assert.deepEqual(tieGroups([{ name: "p", samples: [5] }, { name: "q", samples: [9] }], true).map((g) => g.map((c) => c.name)),
            [["q", "p"]], "single runs can't be told apart");
    });
});
