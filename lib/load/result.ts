// One normalized result for every load driver: each measured run judged by the
// limits and the verdict, and the load's headline over its repeats. Pure.
import { CpuAffinity, CpuRole, CpuUsage } from "./cpu";
import { Spread } from "../stats";
import type { CapacityResult } from "./capacity";
import { UpstreamCount } from "./slowApi";
import type { SlowClientsEffect } from "./slowClients";
import { Bottleneck, Concurrency, ListenQueue, verdictOf } from "./verdict";

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
    /** With keep-alive: requests answered on a connection an earlier one had opened (ab -k counts them); absent where not counted. */
    keptAlive?: number;
}

/** How a run's failures were counted. */
export interface FailureCheck {
    /** Failed requests as the driver counted them (non-2xx answers included). */
    byDriver: number;
    /**
     * Requests the driver counted as answered that the slow API never answered (ab -l counts a connection
     * closed without a byte as complete); they are in `failed`. 0 where nothing was checked.
     */
    unseenByDriver: number;
    /** What the driver's count was checked against; null where it could not be (no count at the slow API). */
    checkedAgainst: string | null;
}

/** What was measured around a run, beside its driver's figures. */
export interface RunMeasurements {
    threadsBefore: number | null;
    /** Most threads the app's processes had at once during the run (sampled). */
    threadsPeak: number | null;
    /** CPU each role used during the run, and the machine's; null with too short a run to sample. */
    cpu: CpuUsage | null;
    /** What the server held at once, seen from behind it; null where nothing behind it counts. */
    held: Concurrency | null;
    /** The listen queue's overflows during the run; null where the app's network namespace can't be read. */
    listen: ListenQueue | null;
    /** The slow API's own count during the run; null where it was not read. */
    upstream: UpstreamCount | null;
    startedAt: string;
}

/** One measured run, judged: the driver's figures, the limits, and what held it back. */
export interface RunResult extends DriverFigures, RunMeasurements {
    /** The lower of Little's law (requests the server can hold at once, capped by the clients, / each one's time) and cpuLimitRps. */
    limitRps: number | null;
    /** The most the app's CPU allows when each request burns appCpuMs (lib/serverModes.ts cpuLimitRps); null when none is burned. */
    cpuLimitRps: number | null;
    /** requestsPerSecond / limitRps. */
    efficiency: number | null;
    /** The best this driver can do with this load even against an ideal server. */
    driverCeilingRps: number | null;
    failures: FailureCheck;
    /** What held the run back, and the rule that said so. */
    bottleneck: Bottleneck;
}

/** A figure's spread over the repeats, per headline figure; a latency is null where a run had none. */
export interface Spreads {
    requestsPerSecond: Spread;
    timeTakenSeconds: Spread;
    efficiency: Spread | null;
    p50Ms: Spread | null;
    p95Ms: Spread | null;
    p99Ms: Spread | null;
    /** Each measured role's peak cores. */
    peakCores: Partial<Record<CpuRole, Spread>>;
}

/** The load at the load's own clients before the measured runs. */
export interface Warmup {
    seconds: number;
    /** Requests the driver finished in it, where it says. */
    requests: number | null;
}

/** One of the pods a load was split over (kubernetes): where it ran, and what it did. */
export interface PodRun {
    index: number;
    /** The pod's host name (its name in Kubernetes). */
    host: string;
    /** Its node, where the pod was given NODE_NAME. */
    node: string | null;
    /** When its driver was started. */
    startedAt: string;
    /** Its driver's own time. */
    timeTakenSeconds: number;
    complete: number;
    failed: number;
}

/**
 * A load's result: the headline (medians over its repeats; counts summed; threadsPeak the most; cpu, held,
 * listen and bottleneck of the run with the median req/s), and every repeat.
 */
export interface LoadResult extends RunResult {
    driver: DriverName;
    driverVersion: string;
    url: string;
    /** Requests per run. */
    requests: number;
    concurrency: number;
    delaySeconds: number;
    /** Milliseconds of CPU each request burned in the app's handler (0: none). */
    appCpuMs: number;
    /** Whether the clients kept their connections (HTTP keep-alive) instead of opening one per request. */
    keepAlive: boolean;
    /** The CPUs each role was pinned to ({}: none). */
    cpuAffinity: CpuAffinity;
    /** The warm-up before the measured runs (excluded from every figure); null without one. */
    warmup: Warmup | null;
    /** Every measured run, in order. */
    repeats: RunResult[];
    /** Each headline figure's median, range, 95 % interval and CV over the repeats; null with one run. */
    spread: Spreads | null;
    /** Whether the repeats disagree by more than SPREAD_LARGE, and the likely cause where one was measured; null otherwise. */
    spreadNote: string | null;
    /** Where the load ran, where not on this machine: "kubernetes". */
    platform?: string;
    /** The pods the load was split over (kubernetes), in the run with the median req/s. */
    pods?: PodRun[];
    /** The most the pods' starts of one run were apart, over the runs (kubernetes): what the release of the pods together left. */
    podsStartSkewSeconds?: number;
    /** Where `cpu` came from (kubernetes): the cluster's sampler pods or this machine's /proc, and why not the cluster's. */
    cpuSampler?: CpuSamplerNote;
    /** The capacity search at the latency objective, where one was asked for. */
    capacity?: CapacityResult;
    /** Where slow clients were held during the runs (the headline is the load with them): the same load's figures without them, and the change. */
    slowClients?: SlowClientsEffect;
}

/** Who read a cluster load's CPU. */
export interface CpuSamplerNote {
    /** The sampler pods on the cluster's nodes, this machine's /proc, or nobody (`cpu` is null). */
    source: "cluster" | "local" | null;
    /** Why not the cluster's sampler, where not. */
    reason?: string;
    /** With both: the local sampler's average cores per role in the run with the median req/s, beside `cpu`'s (null: not seen). */
    localAvgCores?: Partial<Record<CpuRole, number | null>>;
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

/**
 * The driver's failures checked against the slow API's own count: every request the driver counted as
 * answered must have been answered there (the app calls it once per request). What it missed is a failure.
 */
export function checkFailures(figures: DriverFigures, upstream: UpstreamCount | null): FailureCheck {
    const answered = figures.complete - figures.failed;
    // No more of this run's requests were answered there than reached it and were not dropped (an answer to an
    // earlier request may fall in the run).
    const answeredThere = upstream ? Math.min(upstream.served, upstream.arrived - upstream.dropped) : 0;
    return {
        byDriver: figures.failed,
        unseenByDriver: upstream ? Math.max(0, answered - answeredThere) : 0,
        checkedAgainst: upstream ? "the slow API's count of its answers" : null,
    };
}

/** What a run was, beyond what its driver printed. */
export interface RunContext extends RunMeasurements {
    requests: number;
    /** Clients (closed loop). */
    concurrency: number;
    delaySeconds: number;
    /** Requests the target can hold at once (Infinity: the clients are the limit). */
    capacity: number;
    /** Milliseconds of CPU each request burns in the app's handler: time beyond the delay. */
    appCpuMs: number;
    /** The most the app's CPU allows (Infinity: no limit). */
    cpuLimitRps: number;
    /** The driver's best against an ideal server; null where it has none. */
    ceilingRps: number | null;
    /** Slow clients held open during the run; absent: none. */
    slowClients?: number;
}

/** One closed-loop run judged: its true failures, the limit, the driver's ceiling, and the verdict. */
export function judgeRun(figures: DriverFigures, ctx: RunContext): RunResult {
    const failures = checkFailures(figures, ctx.upstream);
    const littleRps = throughputLimit(ctx.concurrency, ctx.capacity, ctx.delaySeconds + ctx.appCpuMs / 1000);
    const cpuLimited = ctx.cpuLimitRps < (littleRps ?? Infinity);
    const limitRps = cpuLimited ? ctx.cpuLimitRps : littleRps;
    return {
        ...figures,
        failed: figures.failed + failures.unseenByDriver,
        limitRps: limitRps === null ? null : round(limitRps, 2),
        cpuLimitRps: Number.isFinite(ctx.cpuLimitRps) ? round(ctx.cpuLimitRps, 2) : null,
        efficiency: efficiency(figures.requestsPerSecond, limitRps),
        driverCeilingRps: ctx.ceilingRps === null ? null : round(ctx.ceilingRps, 2),
        threadsBefore: ctx.threadsBefore,
        threadsPeak: ctx.threadsPeak,
        cpu: ctx.cpu,
        held: ctx.held,
        listen: ctx.listen,
        upstream: ctx.upstream,
        failures,
        bottleneck: verdictOf({
            reached: reachedShare(figures.requestsPerSecond, limitRps, ctx.ceilingRps),
            cpu: ctx.cpu, offered: ctx.concurrency, capacity: ctx.capacity, requestsPerSecond: figures.requestsPerSecond, delaySeconds: ctx.delaySeconds,
            held: ctx.held, listen: ctx.listen, requests: ctx.requests, cpuLimited, slowClients: ctx.slowClients,
        }),
        startedAt: ctx.startedAt,
    };
}

/** The file a load's result is kept in, within its results folder: named by when it started. */
export function resultFileName(startedAt: string): string {
    return `${startedAt.replace(/[:.]/g, "-")}.json`;
}

/** The up-failing summary when more requests failed than allowed (max < 0: no limit); undefined when within it. */
export function thresholdExceeded(result: LoadResult, maxFailedRequests: number, resultsDir: string): string | undefined {
    if (maxFailedRequests < 0 || result.failed <= maxFailedRequests) return undefined;
    const runs = result.repeats.length;
    return `load test: ${result.failed} of ${result.requests * runs} requests failed${runs > 1 ? ` over ${runs} runs` : ""} ` +
        `(maxFailedRequests is ${maxFailedRequests}); ` +
        `${result.requestsPerSecond} req/s in ${result.timeTakenSeconds} s against ${result.url}` + (resultsDir ? `; result kept in ${resultsDir}` : "");
}
