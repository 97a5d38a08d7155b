// From measured figures to decisions: which scenario wins each question a
// person choosing a server asks, by groups of ties within the noise; and how
// two runs of the same scenarios compare. Pure.
import { CapacityResult } from "./load/capacity";
import { LoadResult, RunResult } from "./load/result";
import { ALPHA, compareSamples, Comparison, Contender, median, spreadOf, tieGroups } from "./stats";

/** A scenario's measured load, as a matrix row or a results file gives it. */
export interface Measured {
    scenario: string;
    result: LoadResult;
}

/** What one figure of a run is, and whether more is better. */
export interface Metric {
    name: string;
    unit: string;
    higherIsBetter: boolean;
    /** Its value in one run; null where that run did not measure it. */
    of: (run: RunResult) => number | null;
}

/** The roles that are the server, not the harness: what a request costs the deployment. */
const SERVER_ROLES = ["app", "ingress", "postgres"] as const;

/** CPU the server's roles spent per request, in ms; null where one of them could not be read (a container). */
export function cpuMsPerRequest(run: RunResult): number | null {
    if (!run.cpu || run.complete === 0) return null;
    let seconds = 0;
    for (const role of SERVER_ROLES) {
        if (!(role in run.cpu.roles)) continue;
        const r = run.cpu.roles[role];
        if (!r) return null;
        seconds += r.avgCores * run.cpu.seconds;
    }
    return (seconds * 1000) / run.complete;
}

export const METRICS = {
    rps: { name: "req/s", unit: "req/s", higherIsBetter: true, of: (r: RunResult) => r.requestsPerSecond },
    p95: { name: "p95", unit: "ms", higherIsBetter: false, of: (r: RunResult) => r.latencyMs.p95 },
    threads: { name: "peak threads", unit: "threads", higherIsBetter: false, of: (r: RunResult) => r.threadsPeak },
    cpu: { name: "CPU per request", unit: "ms", higherIsBetter: false, of: cpuMsPerRequest },
} satisfies Record<string, Metric>;

/** A metric's value in every run of a result; null when a run lacks it. */
export function samplesOf(result: LoadResult, metric: Metric): number[] | null {
    const values = result.repeats.map(metric.of);
    return values.every((v): v is number => v !== null) && values.length ? values : null;
}

const fmt = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(1) : Math.abs(v) >= 10 ? v.toFixed(2) : v.toFixed(3)).replace(/\.?0+$/, "");

/** "170.7 [165.1-176.3]" (median, 95 % interval of the mean), or the one value with "(1 run)". */
export function figureText(samples: number[]): string {
    const s = spreadOf(samples);
    return s.ci95 ? `${fmt(s.median)} [${fmt(s.ci95[0])}-${fmt(s.ci95[1])}]` : `${fmt(s.median)} (1 run)`;
}

/** The load a result ran, as a key and in words: scenarios are compared only at the same load. */
export function loadOf(r: LoadResult): { key: string; words: string } {
    return {
        key: `${r.requests}/${r.concurrency}/${r.delaySeconds}/${r.driver}`,
        words: `${r.requests} requests, ${r.concurrency} clients, ${r.delaySeconds} s delay, ${r.driver}`,
    };
}

/** A load with what else changes its figures (keep-alive, CPU per request, slow clients): one scenario's runs compare as like for like only within one. */
export function variantOf(r: LoadResult): { key: string; words: string } {
    const extras = [r.keepAlive ? "keep-alive" : "", r.appCpuMs ? `appCpuMs ${r.appCpuMs}` : "", r.slowClients ? `${r.slowClients.clients} slow clients` : ""].filter(Boolean);
    const load = loadOf(r);
    return { key: [load.key, ...extras].join("/"), words: [load.words, ...extras].join(", ") };
}

/** One question's answer at one load: the groups of ties, best first, each with its evidence. */
export interface Ranking {
    load: string;
    metric: Metric;
    groups: { scenarios: string[]; evidence: string }[];
    /** Scenarios left out: the metric was not measured in them. */
    unmeasured: string[];
}

/** Groups of ties over `measured` for a metric, per load; loads with a single scenario are left out. */
export function rank(measured: Measured[], metric: Metric): Ranking[] {
    const byLoad = new Map<string, Measured[]>();
    for (const m of measured) {
        const { key } = loadOf(m.result);
        byLoad.set(key, [...(byLoad.get(key) ?? []), m]);
    }
    const rankings: Ranking[] = [];
    for (const group of byLoad.values()) {
        if (group.length < 2) continue;
        const contenders: Contender[] = [];
        const unmeasured: string[] = [];
        for (const m of group) {
            const samples = samplesOf(m.result, metric);
            if (samples) contenders.push({ name: m.scenario, samples });
            else unmeasured.push(m.scenario);
        }
        if (contenders.length < 2) continue;
        const groups = tieGroups(contenders, metric.higherIsBetter);
        rankings.push({
            load: loadOf(group[0].result).words,
            metric,
            unmeasured,
            groups: groups.map((g, i) => {
                const figures = g.map((c) => `${c.name} ${figureText(c.samples)}`).join(", ");
                const single = g.some((c) => c.samples.length < 2);
                const tie = g.length > 1 ? (single ? " (one run: no spread to tell them apart)" : " (tied within the noise)") : "";
                const previous = groups[i - 1]?.[0];
                const against = previous ? compareSamples(g[0].samples, previous.samples).test : null;
                const below = previous && against ? `; ${metric.higherIsBetter ? "below" : "above"} ${previous.name} (p = ${against.p.toFixed(3)})` : "";
                return { scenarios: g.map((c) => c.name), evidence: `${figures}${tie}${below}` };
            }),
        });
    }
    return rankings;
}

/** The capacities found, grouped: two whose brackets (capacity up to the knee) overlap can't be told apart. */
export function rankCapacity(measured: Measured[]): { groups: { scenarios: string[]; evidence: string }[]; objective: string } | null {
    const found = measured.filter((m): m is Measured & { result: { capacity: CapacityResult } } => m.result.capacity !== undefined);
    if (!found.length) return null;
    const bracket = (c: CapacityResult): [number, number] =>
        [c.capacityRps ?? 0, c.knee?.askedRps ?? Infinity];
    const sorted = [...found].sort((a, b) => bracket(b.result.capacity)[0] - bracket(a.result.capacity)[0]);
    const groups: { scenarios: string[]; evidence: string }[] = [];
    let rest = sorted;
    while (rest.length) {
        const [best, ...others] = rest;
        const [lo] = bracket(best.result.capacity);
        const tied = others.filter((m) => bracket(m.result.capacity)[1] > lo);
        const members = [best, ...tied];
        groups.push({
            scenarios: members.map((m) => m.scenario),
            evidence: members.map((m) => {
                const c = m.result.capacity;
                const knee = c.knee ? `, knee ${fmt(c.knee.askedRps)}: ${c.knee.bottleneck.words}` : "";
                return `${m.scenario} ${c.capacityRps === null ? `below ${fmt(c.knee!.askedRps)}` : fmt(c.capacityRps)} req/s${knee}`;
            }).join("; ") + (members.length > 1 ? " (their brackets overlap: tied within the search's precision)" : ""),
        });
        rest = others.filter((m) => !tied.includes(m));
    }
    const c = found[0].result.capacity;
    return { groups, objective: `p99 <= ${c.sloP99Ms} ms, no failure, ${c.probeSeconds} s probes` };
}

/** How a scenario's figure changed from run A to run B. */
export interface Change {
    scenario: string;
    metric: string;
    a: string;
    b: string;
    /** B's median over A's, less 1; null for a scenario that failed in one of them. */
    change: number | null;
    /** better / worse beyond the noise at ALPHA, within noise, or no spread measured (one run on a side). */
    verdict: "better" | "worse" | "within noise" | "no spread measured";
    p: number | null;
}

function verdictOf(comparison: Comparison, higherIsBetter: boolean): Change["verdict"] {
    if (comparison === "unknown") return "no spread measured";
    if (comparison === "tie") return "within noise";
    return (comparison === "higher") === higherIsBetter ? "better" : "worse";
}

/** Each metric of each scenario that A and B both measured, B against A. */
export function compareResults(a: Measured[], b: Measured[]): Change[] {
    const changes: Change[] = [];
    for (const before of a) {
        const after = b.find((m) => m.scenario === before.scenario);
        if (!after) continue;
        for (const metric of [METRICS.rps, METRICS.p95, METRICS.cpu]) {
            const sa = samplesOf(before.result, metric);
            const sb = samplesOf(after.result, metric);
            if (!sa || !sb) continue;
            const { comparison, test } = compareSamples(sb, sa);
            changes.push({
                scenario: before.scenario, metric: metric.name, a: figureText(sa), b: figureText(sb),
                change: median(sb) / median(sa) - 1, verdict: verdictOf(comparison, metric.higherIsBetter), p: test?.p ?? null,
            });
        }
        const ca = before.result.capacity;
        const cb = after.result.capacity;
        if (ca?.capacityRps && cb?.capacityRps) {
            // One search each: a change is real only where the brackets (capacity up to the knee) do not overlap.
            const [loA, hiA] = [ca.capacityRps, ca.knee?.askedRps ?? Infinity];
            const [loB, hiB] = [cb.capacityRps, cb.knee?.askedRps ?? Infinity];
            changes.push({
                scenario: before.scenario, metric: "capacity", a: `${fmt(loA)} req/s`, b: `${fmt(loB)} req/s`, change: loB / loA - 1,
                verdict: loB >= hiA ? "better" : hiB <= loA ? "worse" : "within noise", p: null,
            });
        }
    }
    return changes;
}

/** A scenario of a run as a comparison sees it: its result, or null where it failed. */
export interface Outcome {
    scenario: string;
    result: LoadResult | null;
}

/** Run B against run A: each figure's change, a scenario that failed in one of them, and what they don't have in common. */
export interface RunComparison {
    /** Every figure both measured; a scenario that failed in one of them as a "status" change (worse where B failed). */
    changes: Change[];
    onlyInA: string[];
    onlyInB: string[];
    /** Scenarios that ran another load in each (lib/decide.ts variantOf): their changes are the load's as much as the server's. */
    otherLoad: { scenario: string; a: string; b: string }[];
}

export function compareRuns(a: Outcome[], b: Outcome[]): RunComparison {
    const measured = (o: Outcome[]) => o.filter((x): x is Measured => x.result !== null);
    const changes = compareResults(measured(a), measured(b));
    const otherLoad: RunComparison["otherLoad"] = [];
    for (const before of a) {
        const after = b.find((x) => x.scenario === before.scenario);
        if (!after) continue;
        if (before.result && after.result) {
            const [va, vb] = [variantOf(before.result), variantOf(after.result)];
            if (va.key !== vb.key) otherLoad.push({ scenario: before.scenario, a: va.words, b: vb.words });
        } else if (before.result || after.result) {
            const text = (x: Outcome) => (x.result ? `${x.result.requestsPerSecond} req/s` : "FAILED");
            changes.push({ scenario: before.scenario, metric: "status", a: text(before), b: text(after), change: null, verdict: after.result ? "better" : "worse", p: null });
        }
    }
    const names = (x: Outcome[]) => new Set(x.map((o) => o.scenario));
    return {
        changes, otherLoad,
        onlyInA: a.map((o) => o.scenario).filter((s) => !names(b).has(s)),
        onlyInB: b.map((o) => o.scenario).filter((s) => !names(a).has(s)),
    };
}

/** What got worse beyond the noise at the same load: a regression check's failures. */
export function regressions(comparison: RunComparison): Change[] {
    const other = new Set(comparison.otherLoad.map((o) => o.scenario));
    return comparison.changes.filter((c) => c.verdict === "worse" && (c.metric === "status" || !other.has(c.scenario)));
}

/** A change as text: "+4.2 %", or "-" where a side failed. */
export function changeText(c: Change): string {
    return c.change === null ? "-" : `${c.change >= 0 ? "+" : ""}${(c.change * 100).toFixed(1)} %`;
}

/** The notes beside the changes: what the two runs don't have in common. */
export function comparisonNotes(comparison: RunComparison, a: string, b: string): string[] {
    return [
        ...(comparison.onlyInA.length ? [`only in ${a}: ${comparison.onlyInA.join(", ")}`] : []),
        ...(comparison.onlyInB.length ? [`only in ${b}: ${comparison.onlyInB.join(", ")}`] : []),
        ...comparison.otherLoad.map((o) => `not the same load for ${o.scenario} (its change is the load's as much as the server's): ${o.a} in ${a}, ${o.b} in ${b}`),
    ];
}

/** The changes as a terminal table. */
export function renderChanges(changes: Change[], a: string, b: string): string {
    const header = ["scenario", "figure", a, b, "change", "verdict"];
    const rows = changes.map((c) => [c.scenario, c.metric, c.a, c.b, changeText(c),
        c.verdict + (c.p !== null ? ` (p = ${c.p.toFixed(3)})` : "")]);
    const all = [header, ...rows];
    const widths = header.map((_, i) => Math.max(...all.map((r) => r[i].length)));
    return [...all.map((r) => r.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd()),
        "", `Welch's t-test over the runs at ${ALPHA * 100} %; capacity: one search each, a change only where the brackets do not overlap.`].join("\n");
}
