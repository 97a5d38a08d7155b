// Small-sample statistics for repeated runs: a figure's spread, and whether two
// figures differ beyond their noise. Pure.
//
// Why these methods: a lab run gives 3-5 repeats. A distribution-free interval
// for a median needs at least 6 (with 3, [min, max] covers the median only 75 %
// of the time), and Mann-Whitney over 3 vs 3 can never reach p < 0.05 (its
// smallest two-sided p is 0.1). Student's t-interval of the mean and Welch's
// t-test (no equal-variance assumption) are what such small samples allow; both
// are wide with 3 repeats, which is the honest answer.

/** A figure measured in repeats: where it is and how much it moved. */
export interface Spread {
    /** Repeats it was measured in. */
    n: number;
    median: number;
    mean: number;
    min: number;
    max: number;
    /** 95 % Student's t-interval of the mean; null with fewer than 2 repeats. */
    ci95: [number, number] | null;
    /** Coefficient of variation: sample standard deviation / mean; null with fewer than 2 repeats or a zero mean. */
    cv: number | null;
}

export function median(xs: number[]): number {
    if (!xs.length) throw new Error("median of no values");
    const s = [...xs].sort((a, b) => a - b);
    const mid = Math.floor(s.length / 2);
    return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export function mean(xs: number[]): number {
    if (!xs.length) throw new Error("mean of no values");
    return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Sample variance (n - 1); 0 for one value. */
export function variance(xs: number[]): number {
    if (xs.length < 2) return 0;
    const m = mean(xs);
    return xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1);
}

/** ln Γ(x), Lanczos (g = 7, 9 terms): ~15 digits for x > 0. */
function logGamma(x: number): number {
    const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
        12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
    if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
    x -= 1;
    let a = c[0];
    const t = x + 7.5;
    for (let i = 1; i < 9; i++) a += c[i] / (x + i);
    return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Continued fraction of the incomplete beta function (modified Lentz). */
function betaFraction(a: number, b: number, x: number): number {
    const tiny = 1e-300;
    let c = 1;
    let d = 1 - ((a + b) * x) / (a + 1);
    d = 1 / (Math.abs(d) < tiny ? tiny : d);
    let h = d;
    for (let m = 1; m <= 300; m++) {
        const m2 = 2 * m;
        for (const num of [(m * (b - m) * x) / ((a + m2 - 1) * (a + m2)), (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1))]) {
            d = 1 + num * d;
            d = 1 / (Math.abs(d) < tiny ? tiny : d);
            c = 1 + num / c;
            if (Math.abs(c) < tiny) c = tiny;
            h *= d * c;
        }
        if (Math.abs(d * c - 1) < 1e-15) break;
    }
    return h;
}

/** The regularized incomplete beta function I_x(a, b). */
export function incompleteBeta(x: number, a: number, b: number): number {
    if (x <= 0) return 0;
    if (x >= 1) return 1;
    const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
    return x < (a + 1) / (a + b + 2) ? (front * betaFraction(a, b, x)) / a : 1 - (front * betaFraction(b, a, 1 - x)) / b;
}

/** P(T <= t) for Student's t with `df` degrees of freedom (df may be fractional: Welch's). */
export function studentTCdf(t: number, df: number): number {
    const tail = 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5);
    return t >= 0 ? 1 - tail : tail;
}

/** The t with P(T <= t) = p, by bisection on the CDF. */
export function studentTQuantile(p: number, df: number): number {
    if (!(p > 0 && p < 1)) throw new Error(`quantile of p = ${p}: p must be between 0 and 1`);
    let lo = -1e6;
    let hi = 1e6;
    for (let i = 0; i < 200 && hi - lo > 1e-12 * Math.max(1, Math.abs(hi)); i++) {
        const mid = (lo + hi) / 2;
        if (studentTCdf(mid, df) < p) lo = mid;
        else hi = mid;
    }
    return (lo + hi) / 2;
}

/** Median, mean, range, the 95 % t-interval of the mean and the CV of some repeats. */
export function spreadOf(xs: number[]): Spread {
    const n = xs.length;
    const m = mean(xs);
    const sd = Math.sqrt(variance(xs));
    const half = n >= 2 ? studentTQuantile(0.975, n - 1) * sd / Math.sqrt(n) : null;
    return {
        n,
        median: median(xs),
        mean: m,
        min: Math.min(...xs),
        max: Math.max(...xs),
        ci95: half === null ? null : [m - half, m + half],
        cv: n >= 2 && m !== 0 ? sd / Math.abs(m) : null,
    };
}

/** Welch's two-sided t-test of equal means. */
export interface WelchTest {
    t: number;
    df: number;
    /** Two-sided p-value. */
    p: number;
}

/** Welch's t-test of a against b; null when either has fewer than 2 values (no spread to judge by). */
export function welch(a: number[], b: number[]): WelchTest | null {
    if (a.length < 2 || b.length < 2) return null;
    const va = variance(a) / a.length;
    const vb = variance(b) / b.length;
    const diff = mean(a) - mean(b);
    if (va + vb === 0) {
        // No noise in either: equal values are a tie, different ones differ beyond any doubt.
        return diff === 0 ? { t: 0, df: Infinity, p: 1 } : { t: Math.sign(diff) * Infinity, df: Infinity, p: 0 };
    }
    const t = diff / Math.sqrt(va + vb);
    const df = (va + vb) ** 2 / (va ** 2 / (a.length - 1) + vb ** 2 / (b.length - 1));
    return { t, df, p: 2 * (1 - studentTCdf(Math.abs(t), df)) };
}

/** The level at which the lab calls two figures different. */
export const ALPHA = 0.05;

/** How a compares with b: "higher"/"lower" beyond the noise at ALPHA, "tie" within it, "unknown" without repeats to tell. */
export type Comparison = "higher" | "lower" | "tie" | "unknown";

export function compareSamples(a: number[], b: number[], alpha = ALPHA): { comparison: Comparison; test: WelchTest | null } {
    const test = welch(a, b);
    if (!test) return { comparison: "unknown", test };
    if (test.p >= alpha) return { comparison: "tie", test };
    return { comparison: test.t > 0 ? "higher" : "lower", test };
}

/** One contender of a ranking: its name and its repeats. */
export interface Contender {
    name: string;
    samples: number[];
}

/**
 * Groups of ties, best first: the first group is the best contender (by median)
 * and every other that it does not beat beyond the noise; then the same with
 * the rest. A contender with one sample can't be told from anyone it is
 * compared with, so it joins the group it is compared against.
 */
export function tieGroups(contenders: Contender[], higherIsBetter: boolean, alpha = ALPHA): Contender[][] {
    const better = (a: Contender, b: Contender) => (higherIsBetter ? 1 : -1) * (median(b.samples) - median(a.samples));
    let rest = contenders.filter((c) => c.samples.length > 0).sort(better);
    const groups: Contender[][] = [];
    while (rest.length) {
        const [best, ...others] = rest;
        const beaten = (c: Contender) => {
            const { comparison } = compareSamples(best.samples, c.samples, alpha);
            return comparison === (higherIsBetter ? "higher" : "lower");
        };
        groups.push([best, ...others.filter((c) => !beaten(c))]);
        rest = others.filter(beaten);
    }
    return groups;
}
