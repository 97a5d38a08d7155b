// Capacity at a latency objective, in the open model: loads at a constant
// arrival rate (latency counted from when each request should have been sent),
// a ramp that doubles the rate until a probe misses the objective, then a
// bisection to within a few per cent. A miss that nothing explains (no CPU
// ran out, no pool was full) is probed once more: on a shared machine that is
// most often a stall of the machine, not the server's limit. Which rate to try
// next, and what the probes say, are decided here. Pure.
import { CpuUsage } from "./cpu";
import { checkFailures, DriverFigures, round } from "./result";
import { UpstreamCount } from "./slowApi";
import { Bottleneck, Concurrency, ListenQueue, verdictOf } from "./verdict";

/** What the search looks for, and how hard it looks. */
export interface CapacitySearch {
    /** The objective: p99 latency at most this, in ms, and no failed request. */
    sloP99Ms: number;
    /** Seconds each probe sends for. */
    probeSeconds: number;
    /** The first rate tried. */
    startRps: number;
    /** The highest rate tried: the search's ceiling. */
    maxRps: number;
    /** The search stops when the highest passing and the lowest failing rate are this share apart. */
    precision: number;
}

/**
 * The most probes a search runs: the ramp's rates (doubling from startRps to maxRps), the bisection's (halving
 * the bracket to the precision), and each miss among them probed again (one on the ramp, any in the bisection).
 */
export function mostProbes(search: Pick<CapacitySearch, "startRps" | "maxRps" | "precision">): number {
    const ramp = Math.ceil(Math.log2(Math.max(1, search.maxRps / search.startRps))) + 1;
    const bisection = Math.ceil(Math.log2(1 / search.precision)) + 1;
    return ramp + 2 * bisection + 1;
}

/** A probe's per-request timeout: 4 x the objective, at least 5 s. */
export function probeTimeoutSeconds(sloP99Ms: number): number {
    return Math.max(5, Math.ceil((4 * sloP99Ms) / 1000));
}

/** A probe's connections at `rate`: enough that the rate sets the load until latency is twice the objective (beyond that it has missed anyway). */
export function probeConnections(sloP99Ms: number, rate: number): number {
    return Math.max(4, Math.ceil((2 * rate * sloP99Ms) / 1000));
}

/** The bracket the search closes, as a share of the lower end. */
export const CAPACITY_PRECISION = 0.05;
/** A probe that sent less than this share of the rate asked missed it: the driver could not keep up. */
export const RATE_REACHED = 0.95;
/**
 * The most requests per second oha 1.16.0 sends on this kind of machine (2 cores), a new connection each:
 * against nginx answering at once it reached 15,995 of 16,000 and 23,094 of 24,000 (scripts/bench-harness.sh
 * --driver-max, 2026-11-30). Every server here breaks far below it.
 */
export const OHA_MAX_RPS = 16000;

/** The search's defaults for a server that holds `capacity` requests at once, each `delaySeconds` long. */
export function defaultSearch(capacity: number, delaySeconds: number): Pick<CapacitySearch, "sloP99Ms" | "probeSeconds" | "startRps" | "maxRps" | "precision"> {
    const limit = delaySeconds > 0 ? capacity / delaySeconds : Infinity;
    const round2 = (v: number) => Math.round(v * 100) / 100;
    return {
        sloP99Ms: Math.round(1.5 * delaySeconds * 1000),
        probeSeconds: 10,
        startRps: round2(Math.min(limit / 4, 50)),
        maxRps: round2(Math.min(OHA_MAX_RPS, 2 * limit)),
        precision: CAPACITY_PRECISION,
    };
}

/** What is wrong with a search, per field of CapacitySearch; none when it can run. */
export function searchProblems(search: Omit<CapacitySearch, "precision">, delaySeconds: number): { field: keyof CapacitySearch; message: string }[] {
    const problems: { field: keyof CapacitySearch; message: string }[] = [];
    const delayMs = delaySeconds * 1000;
    if (!(search.sloP99Ms > delayMs)) {
        problems.push({ field: "sloP99Ms", message: `${search.sloP99Ms} ms is not above the ${delayMs} ms every request sleeps in the slow API: no server can meet it` });
    }
    if (!(search.probeSeconds >= 2)) problems.push({ field: "probeSeconds", message: `${search.probeSeconds} s is too short a probe to mean anything (2 s at least)` });
    if (!(search.maxRps <= OHA_MAX_RPS)) {
        problems.push({ field: "maxRps", message: `${search.maxRps} req/s is more than oha sends on this machine (${OHA_MAX_RPS}, a new connection each): a probe would measure the driver` });
    }
    if (!(search.startRps > 0 && search.startRps <= search.maxRps)) {
        problems.push({ field: "startRps", message: `${search.startRps} req/s is not between 0 and the highest rate tried, ${search.maxRps}` });
    }
    return problems;
}

/** One probe: a constant rate for `probeSeconds`, and what it gave. */
export interface Probe {
    askedRps: number;
    /** Requests it finished over the seconds it sent for. */
    reachedRps: number;
    /** Requests it finished (answered or failed). */
    requests: number;
    failed: number;
    /** Latencies from when each request should have been sent, in ms. */
    latencyMs: { p50: number | null; p90: number | null; p99: number | null; max: number | null };
    /** Whether it met the objective. */
    passed: boolean;
    /** Why it did or did not, in words. */
    why: string;
    cpu: CpuUsage | null;
    held: Concurrency | null;
    listen: ListenQueue | null;
    upstream: UpstreamCount | null;
    /** What held it back, where it missed. */
    bottleneck: Bottleneck;
    startedAt: string;
}

export interface CapacityResult {
    sloP99Ms: number;
    probeSeconds: number;
    /**
     * The highest rate that met the objective (p99 <= sloP99Ms, no failure, the rate reached); null when the
     * first probe already missed it (see `bound`).
     */
    capacityRps: number | null;
    /** found: between capacityRps and the knee, within the precision; below-first-probe; at-least-max: the ceiling passed. */
    bound: "found" | "below-first-probe" | "at-least-max";
    /** The lowest rate that missed the objective, and who broke it there; null when none missed. */
    knee: Probe | null;
    /** Every probe, in the order run; where a rate was probed again, the last probe at it decides. */
    probes: Probe[];
}

/** Whether a probe met the objective, and why (not). */
export function judgeProbe(p: Pick<Probe, "askedRps" | "reachedRps" | "failed" | "latencyMs" | "requests">, sloP99Ms: number): { passed: boolean; why: string } {
    const misses: string[] = [];
    if (p.requests === 0) misses.push("no request finished");
    if (p.failed > 0) misses.push(`${p.failed} of ${p.requests} requests failed`);
    if (p.latencyMs.p99 === null) misses.push("no latency measured");
    else if (p.latencyMs.p99 > sloP99Ms) misses.push(`p99 ${Math.round(p.latencyMs.p99)} ms > ${sloP99Ms} ms`);
    if (p.reachedRps < RATE_REACHED * p.askedRps) misses.push(`reached ${p.reachedRps} of ${p.askedRps} req/s`);
    return misses.length
        ? { passed: false, why: `missed: ${misses.join("; ")}` }
        : { passed: true, why: `met: p99 ${Math.round(p.latencyMs.p99!)} ms <= ${sloP99Ms} ms, none failed, ${p.reachedRps} of ${p.askedRps} req/s` };
}

/** What was seen around a probe: the roles' CPU, what the server held, and the target's shape. */
export interface ProbeSeen {
    cpu: CpuUsage | null;
    held: Concurrency | null;
    listen: ListenQueue | null;
    upstream: UpstreamCount | null;
    /** Requests the target holds at once (Infinity: no limit). */
    capacity: number;
    delaySeconds: number;
    startedAt: string;
}

/** oha counts a connection still idle at its deadline as a request "aborted due to deadline": none was sent. */
const DEADLINE_ABORT = "aborted due to deadline";

/** One probe of `seconds` at `rate` from oha's figures: judged against the objective and explained by what was seen. */
export function probeOf(rate: number, seconds: number, sloP99Ms: number, oha: DriverFigures, seen: ProbeSeen): Probe {
    const idle = oha.errors?.[DEADLINE_ABORT] ?? 0;
    const sent = { ...oha, complete: oha.complete - idle, failed: oha.failed - idle };
    const figures = {
        askedRps: rate, reachedRps: round(sent.complete / seconds, 2), requests: sent.complete,
        failed: sent.failed + checkFailures(sent, seen.upstream).unseenByDriver,
        latencyMs: { p50: oha.latencyMs.p50, p90: oha.latencyMs.p90, p99: oha.latencyMs.p99, max: oha.latencyMs.max },
    };
    return {
        ...figures, ...judgeProbe(figures, sloP99Ms),
        cpu: seen.cpu, held: seen.held, listen: seen.listen, upstream: seen.upstream,
        bottleneck: verdictOf({
            reached: null, cpu: seen.cpu, offered: rate * seen.delaySeconds, capacity: seen.capacity, requestsPerSecond: figures.reachedRps,
            delaySeconds: seen.delaySeconds, held: seen.held, listen: seen.listen, requests: figures.requests,
        }),
        startedAt: seen.startedAt,
    };
}

const roundRate = (v: number) => (v >= 10 ? Math.round(v) : Math.round(v * 100) / 100);

/** Whether a later probe at the same rate replaced probe `i`: it was probed again. */
export function probedAgain(probes: Pick<Probe, "askedRps">[], i: number): boolean {
    return probes.slice(i + 1).some((p) => p.askedRps === probes[i].askedRps);
}

/** The probes that decide their rates: the last one at each. */
function deciding<P extends Pick<Probe, "askedRps">>(probes: P[]): P[] {
    return probes.filter((_, i) => !probedAgain(probes, i));
}

/** The rate to probe next, or null when the search is done: double while probes pass, then bisect the bracket. */
export function nextRate(search: CapacitySearch, probes: Pick<Probe, "askedRps" | "passed" | "bottleneck">[]): number | null {
    if (!probes.length) return search.startRps;
    const last = probes[probes.length - 1];
    if (!last.passed && last.bottleneck.verdict === "unexplained" && probes.filter((p) => p.askedRps === last.askedRps).length === 1) return last.askedRps;
    const passed = deciding(probes).filter((p) => p.passed).map((p) => p.askedRps);
    const missed = deciding(probes).filter((p) => !p.passed).map((p) => p.askedRps);
    const lo = passed.length ? Math.max(...passed) : undefined;
    const hi = missed.length ? Math.min(...missed) : undefined;
    if (lo === undefined) return null;
    if (hi === undefined) return lo >= search.maxRps ? null : Math.min(search.maxRps, roundRate(lo * 2));
    if (hi - lo <= search.precision * lo) return null;
    const mid = roundRate((lo + hi) / 2);
    return mid > lo && mid < hi ? mid : null;
}

/** What the probes found. */
export function capacityOf(search: CapacitySearch, probes: Probe[]): CapacityResult {
    const passed = deciding(probes).filter((p) => p.passed);
    const missed = deciding(probes).filter((p) => !p.passed).sort((a, b) => a.askedRps - b.askedRps);
    const best = passed.length ? Math.max(...passed.map((p) => p.askedRps)) : null;
    return {
        sloP99Ms: search.sloP99Ms,
        probeSeconds: search.probeSeconds,
        capacityRps: best,
        bound: best === null ? "below-first-probe" : missed.length ? "found" : "at-least-max",
        knee: missed[0] ?? null,
        probes,
    };
}
