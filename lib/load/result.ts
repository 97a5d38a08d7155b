// One normalized result for every load driver, with the limits it is judged by.
import type { PodRun } from "./merge";
import { Bottleneck, CpuAffinity, CpuUsage } from "./cpu";

export const DRIVERS = ["ab", "k6", "oha"] as const;
export type DriverName = (typeof DRIVERS)[number];

/** What a driver's output says, before the limits are added. */
export interface DriverFigures {
    complete: number;
    /** Failed requests, non-2xx responses included. */
    failed: number;
    timeTakenSeconds: number;
    requestsPerSecond: number;
    /** Latency percentiles in ms; null where the driver had no successful request to measure (or, p99.9, does not report it: ab). */
    latencyMs: { p50: number | null; p90: number | null; p95: number | null; p99: number | null; p999: number | null; max: number | null };
    /** Answers per HTTP status, where the driver reports them (oha). */
    statusCodes?: Record<string, number>;
    /** Requests that got no answer, per error message, where the driver reports them (oha). */
    errors?: Record<string, number>;
    /** Of those, the ones that timed out. */
    timeouts?: number;
}

export interface LoadResult extends DriverFigures {
    driver: DriverName;
    driverVersion: string;
    url: string;
    requests: number;
    concurrency: number;
    delaySeconds: number;
    /** Little's law: requests the server can hold at once (capped by the clients) / delay. */
    limitRps: number | null;
    /** requestsPerSecond / limitRps. */
    efficiency: number | null;
    /** The best this driver can do with this load even against an ideal server. */
    driverCeilingRps: number | null;
    threadsBefore: number | null;
    threadsPeak: number | null;
    /** CPU each role used during the run, and the machine's; null with too short a run to sample. */
    cpu: CpuUsage | null;
    /** Who ran out of CPU first, and the rule that said so; null without cpu. */
    bottleneck: Bottleneck | null;
    /** The CPUs each role was pinned to ({}: none). */
    cpuAffinity: CpuAffinity;
    startedAt: string;
    /** Where the load ran, where not on this machine: "kubernetes". */
    platform?: string;
    /** The pods the load was split over: where each ran and what it did (kubernetes). */
    pods?: PodRun[];
}

/** Little's law: at most `min(concurrency, capacity)` requests are in flight, each taking `delay` seconds. */
export function throughputLimit(concurrency: number, capacity: number, delaySeconds: number): number | null {
    if (delaySeconds <= 0) return null;
    return Math.min(concurrency, capacity) / delaySeconds;
}

/** A driver that starts every client at once (k6, oha): an ideal server needs delay x ceil(n/c) seconds. */
export function allClientsCeilingRps(requests: number, concurrency: number, delaySeconds: number): number | null {
    if (delaySeconds <= 0) return null;
    return requests / (delaySeconds * Math.ceil(requests / concurrency));
}

/** req/s over the lower of the limit and the driver's ceiling: how much of what was possible the run reached; null without either. */
export function reachedShare(requestsPerSecond: number, limitRps: number | null, ceilingRps: number | null): number | null {
    const possible = Math.min(limitRps ?? Infinity, ceilingRps ?? Infinity);
    return Number.isFinite(possible) && possible > 0 ? requestsPerSecond / possible : null;
}

export function efficiency(requestsPerSecond: number, limitRps: number | null): number | null {
    return limitRps ? round(requestsPerSecond / limitRps, 4) : null;
}

export function round(value: number, digits = 2): number {
    const f = 10 ** digits;
    return Math.round(value * f) / f;
}

/** A figure parsed from a driver's output; throws rather than letting a missing value pass as 0. */
export function requireNumber(value: unknown, what: string, source: string): number {
    const n = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
    if (typeof n !== "number" || !Number.isFinite(n)) {
        throw new Error(`${source}: no ${what} in the output (truncated, or not this driver's output)`);
    }
    return n;
}

/** The up-failing summary when more requests failed than allowed (max < 0: no limit); undefined when within it. */
export function thresholdExceeded(result: LoadResult, maxFailedRequests: number, resultsDir: string): string | undefined {
    if (maxFailedRequests < 0 || result.failed <= maxFailedRequests) return undefined;
    return `load test: ${result.failed} of ${result.requests} requests failed (maxFailedRequests is ${maxFailedRequests}); ` +
        `${result.requestsPerSecond} req/s in ${result.timeTakenSeconds} s against ${result.url}; result kept in ${resultsDir}`;
}
