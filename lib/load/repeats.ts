// A load measured in repeats: the headline over them, each figure's spread,
// and why they disagree where they do. Pure.
import { CPU_ROLES, CpuRole } from "./cpu";
import { DriverFigures, LoadResult, round, RunResult, Spreads } from "./result";
import { median, Spread, spreadOf } from "../stats";

/** Repeats whose req/s vary by more than this coefficient of variation are called noisy, with the likely cause. */
export const SPREAD_LARGE = 0.05;
/** Other programs' average cores in a run above which they are named as a cause. */
const OTHERS_BUSY_CORES = 0.25;

/** The run whose req/s is the median (the lower middle of an even count): the one whose details stand for all. */
export function representativeRun(runs: RunResult[]): number {
    const order = runs.map((r, i) => [r.requestsPerSecond, i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    return order[Math.floor((order.length - 1) / 2)][1];
}

const LATENCIES = ["p50", "p90", "p95", "p99", "p999", "max"] as const;

/** A spread over the runs of a figure every run has; null where one lacks it. */
function spreadOfAll(values: (number | null | undefined)[]): Spread | null {
    return values.every((v): v is number => typeof v === "number") ? spreadOf(values) : null;
}

function sumRecords(records: (Record<string, number> | undefined)[]): Record<string, number> | undefined {
    if (records.every((r) => r === undefined)) return undefined;
    const total: Record<string, number> = {};
    for (const r of records) for (const [k, v] of Object.entries(r ?? {})) total[k] = (total[k] ?? 0) + v;
    return total;
}

/** Why the repeats disagree by more than SPREAD_LARGE, naming what was measured; null when they agree. */
export function spreadNote(runs: RunResult[], spread: Spread): string | null {
    if (spread.cv === null || spread.cv <= SPREAD_LARGE) return null;
    const causes: string[] = [];
    const others = runs.map((r, i) => [r.cpu?.machine.othersAvgCores ?? 0, i + 1] as const).filter(([cores]) => cores > OTHERS_BUSY_CORES);
    if (others.length) {
        causes.push(`other programs used ${others.map(([cores, run]) => `${cores} cores in run ${run}`).join(", ")}`);
    }
    const [first, ...rest] = runs.map((r) => r.requestsPerSecond);
    if (rest.length && first < Math.min(...rest) && first < (1 - SPREAD_LARGE) * median(rest)) {
        causes.push(`run 1 was the slowest, ${Math.round((1 - first / median(rest)) * 100)} % below the others' median: a longer warm-up would steady it`);
    }
    const cv = `${(spread.cv * 100).toFixed(1)} %`;
    return `the runs vary: req/s CV ${cv} (> ${SPREAD_LARGE * 100} %); ${causes.length ? `likely cause: ${causes.join("; ")}` : "no cause was measured"}`;
}

/** What a load was: the fields of a LoadResult that its runs don't give. */
export type LoadDescription = Pick<LoadResult, "driver" | "driverVersion" | "url" | "requests" | "concurrency" | "delaySeconds" | "appCpuMs" | "keepAlive" | "cpuAffinity" | "warmup">;

/** A load's result from its description and its measured runs, on whichever platform it ran; `more`: what that platform adds. */
export function loadResult(load: LoadDescription, runs: RunResult[], more: Pick<LoadResult, "platform" | "pods" | "podsStartSkewSeconds" | "cpuSampler" | "capacity" | "slowClients"> = {}): LoadResult {
    return { ...load, ...combineRuns(runs), repeats: runs, ...more };
}

/** The headline of a load's runs, every figure's spread, and the note on their disagreement. */
export function combineRuns(runs: RunResult[]): RunResult & { spread: Spreads | null; spreadNote: string | null } {
    if (!runs.length) throw new Error("a load with no measured run");
    const rep = runs[representativeRun(runs)];
    const med = (pick: (r: RunResult) => number) => median(runs.map(pick));
    const latency = Object.fromEntries(LATENCIES.map((p) => {
        const values = runs.map((r) => r.latencyMs[p]);
        return [p, values.every((v): v is number => v !== null) ? median(values) : null];
    })) as DriverFigures["latencyMs"];
    const requestsPerSecond = round(med((r) => r.requestsPerSecond), 2);
    const sum = (pick: (r: RunResult) => number) => runs.reduce((a, r) => a + pick(r), 0);
    const threads = runs.map((r) => r.threadsPeak).filter((t): t is number => t !== null);
    const headline: RunResult = {
        ...rep,
        complete: sum((r) => r.complete),
        failed: sum((r) => r.failed),
        timeTakenSeconds: round(med((r) => r.timeTakenSeconds), 3),
        requestsPerSecond,
        latencyMs: latency,
        statusCodes: sumRecords(runs.map((r) => r.statusCodes)),
        errors: sumRecords(runs.map((r) => r.errors)),
        timeouts: runs.some((r) => r.timeouts !== undefined) ? sum((r) => r.timeouts ?? 0) : undefined,
        keptAlive: runs.some((r) => r.keptAlive !== undefined) ? sum((r) => r.keptAlive ?? 0) : undefined,
        efficiency: rep.limitRps ? round(requestsPerSecond / rep.limitRps, 4) : null,
        threadsBefore: runs[0].threadsBefore,
        threadsPeak: threads.length ? Math.max(...threads) : null,
        upstream: runs.every((r) => r.upstream) ? {
            arrived: sum((r) => r.upstream!.arrived), served: sum((r) => r.upstream!.served), dropped: sum((r) => r.upstream!.dropped),
        } : null,
        failures: {
            byDriver: sum((r) => r.failures.byDriver),
            unseenByDriver: sum((r) => r.failures.unseenByDriver),
            checkedAgainst: rep.failures.checkedAgainst,
        },
        startedAt: runs[0].startedAt,
    };
    for (const key of ["statusCodes", "errors", "timeouts", "keptAlive"] as const) if (headline[key] === undefined) delete headline[key];
    if (runs.length < 2) return { ...headline, spread: null, spreadNote: null };
    const rps = spreadOf(runs.map((r) => r.requestsPerSecond));
    const peakCores: Partial<Record<CpuRole, Spread>> = {};
    for (const role of CPU_ROLES) {
        const s = spreadOfAll(runs.map((r) => r.cpu?.roles[role]?.peakCores));
        if (s) peakCores[role] = s;
    }
    const spread: Spreads = {
        requestsPerSecond: rps,
        timeTakenSeconds: spreadOf(runs.map((r) => r.timeTakenSeconds)),
        efficiency: spreadOfAll(runs.map((r) => r.efficiency)),
        p50Ms: spreadOfAll(runs.map((r) => r.latencyMs.p50)),
        p95Ms: spreadOfAll(runs.map((r) => r.latencyMs.p95)),
        p99Ms: spreadOfAll(runs.map((r) => r.latencyMs.p99)),
        peakCores,
    };
    return { ...headline, spread, spreadNote: spreadNote(runs, rps) };
}
