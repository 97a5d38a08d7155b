// The exact merge of a load split over pods (lib/load/split.ts), run by run:
// counts are summed, the time is the union of the pods' runs, and the
// percentiles are taken from the union of every request's time, with the
// driver's own rule, never from the pods' percentiles.
import { parseAbCounts, parseAbVersion } from "./ab";
import { parseOhaOutput, parseOhaVersion } from "./oha";
import { DriverFigures, PodRun, requireNumber, round, Warmup } from "./result";
import { POD_DRIVERS, POD_RESULT_FORMAT, PodDriver } from "./split";

/** One measured run of every pod, merged. */
export interface MergedRun extends DriverFigures {
    pods: PodRun[];
    /** Seconds between the first pod's start of its driver and the last's. */
    podsStartSkewSeconds: number;
}

export interface MergedLoad {
    /** As the driver's own parser reads it from pod 0's driver ("2.3"). */
    driverVersion: string;
    /** The pods' warm-ups, side by side: their requests summed; null without one. */
    warmup: Warmup | null;
    /** Each measured run, in order. */
    runs: MergedRun[];
}

/** One measured run of a pod, as its result line holds it. */
interface PodRunLine {
    /** Epoch seconds just before the driver was started. */
    start: number;
    report: unknown;
    times: [number, number][];
}

/** What a pod's result line holds (split.ts's POD_SCRIPT writes it). */
interface PodLine {
    index: number;
    driver: PodDriver;
    host: string;
    node: string | null;
    version: string;
    warmup: Warmup | null;
    runs: PodRunLine[];
}

/** How each driver's figures are read from a pod's run: its report, its version, and its percentiles' rule. */
const READ: Record<PodDriver, {
    /** The run's figures from the driver's report (its percentiles are not used). */
    figures: (report: string) => DriverFigures | Omit<DriverFigures, "latencyMs">;
    version: (text: string) => string;
    /** The requests it timed: ab every one, oha each answered one. */
    timed: (figures: Omit<DriverFigures, "latencyMs">) => number;
    /** The 0-based rank, in n sorted times, of its p-th percentile. */
    rank: (n: number, p: number) => number;
    /** Its percentiles; null where it reports none. */
    percentiles: { p50: number; p90: number; p95: number; p99: number; p999: number | null };
}> = {
    ab: {
        figures: parseAbCounts,
        version: parseAbVersion,
        timed: (f) => f.complete,
        // floor(n x p / 100) in ab's integer arithmetic (ab.c: done * percs[i] / 100), the "nearest rank, rounded up" kind.
        rank: (n, p) => Math.floor((n * p) / 100),
        // ab reports no p99.9 (result.ts): the same here as on every other platform.
        percentiles: { p50: 50, p90: 90, p95: 95, p99: 99, p999: null },
    },
    oha: {
        figures: parseOhaOutput,
        version: parseOhaVersion,
        timed: (f) => f.complete - Object.values(f.errors ?? {}).reduce((a, b) => a + b, 0),
        // oha 1.16 (result_data.rs, percentile_iter): the value at (p / 100.0 * n) as usize, in f64.
        rank: (n, p) => Math.floor((p / 100) * n),
        percentiles: { p50: 50, p90: 90, p95: 95, p99: 99, p999: 99.9 },
    },
};

/** Times in a pod's unit, in ms: ab's whole ms, oha's tenths of a ms (its own figures' rounding). */
const IN_MS: Record<"ms" | "0.1ms", (time: number) => number> = { ms: (t) => t, "0.1ms": (t) => t / 10 };

/** The value at 0-based `rank` of the times that `sorted` counts. */
function atRank(sorted: [number, number][], rank: number): number {
    let seen = 0;
    for (const [time, count] of sorted) {
        seen += count;
        if (seen > rank) return time;
    }
    throw new Error(`no time at rank ${rank} of ${seen}`);
}

/** Names one run of one pod in an error. */
function runOf(index: number, run: number, repeats: number): string {
    return `load pod ${index}, run ${run + 1} of ${repeats}`;
}

/** The last result line in a pod's log (kubectl logs mixes in anything else it printed). */
function podLine(log: string, index: number, driver: PodDriver, repeats: number): PodLine {
    const who = `load pod ${index}`;
    const text = log.split("\n").map((l) => l.trim()).filter((l) => l.startsWith('{"fgl":')).pop();
    if (text === undefined) {
        throw new Error(`${who} printed no result line (it did not finish, or is not a load pod); its log ` +
            (log.trim() ? `ends with:\n${log.trim().slice(-1000)}` : "is empty"));
    }
    let line: any;
    try {
        line = JSON.parse(text);
    } catch (e) {
        throw new Error(`${who}: its result line is not JSON (cut short?): ${(e as Error).message}`);
    }
    if (line.fgl !== POD_RESULT_FORMAT) throw new Error(`${who}: its result line is "${line.fgl}", expected "${POD_RESULT_FORMAT}"`);
    if (typeof line.error === "string") throw new Error(`${who} failed: ${line.error}`);
    if (line.index !== index) throw new Error(`${who}: its log holds the result of pod ${line.index}`);
    if (line.driver !== driver) throw new Error(`${who} ran ${line.driver}, expected ${driver}`);
    const warmup = line.warmup;
    if (warmup !== null && !(typeof warmup?.seconds === "number" && (warmup.requests === null || typeof warmup.requests === "number"))) {
        throw new Error(`${who}: its warm-up is not null or {seconds, requests}`);
    }
    const runs = Array.isArray(line.runs) ? line.runs.length : 0;
    if (runs !== repeats) throw new Error(`${who}: its line holds ${runs} measured run(s), expected ${repeats}`);
    const unit = POD_DRIVERS[driver].recording.unit;
    const pair = (t: unknown) => Array.isArray(t) && t.length === 2 && t.every((v) => typeof v === "number" && v >= 0) && t[1] > 0;
    line.runs.forEach((run: any, i: number) => {
        const which = runOf(index, i, repeats);
        if (run?.unit !== unit) throw new Error(`${which}: its times are in ${run?.unit}, expected ${unit}`);
        if (!Array.isArray(run.times) || !run.times.every(pair)) throw new Error(`${which}: its times are not [[time, count], ...]`);
        requireNumber(run.start, "start", which);
    });
    return line as PodLine;
}

/** A pod's own figures in one run, from its driver's report. */
function podFigures(driver: PodDriver, run: PodRunLine, which: string): Omit<DriverFigures, "latencyMs"> {
    try {
        const { latencyMs: _, ...counts } = READ[driver].figures(String(run.report)) as DriverFigures;
        return counts;
    } catch (e) {
        throw new Error(`${which}: ${(e as Error).message}`);
    }
}

/** The pods' answers per status or errors per message, summed; absent where a pod's driver does not count them. */
function sumCounts(maps: (Record<string, number> | undefined)[]): Record<string, number> | undefined {
    if (maps.some((m) => m === undefined)) return undefined;
    const out: Record<string, number> = {};
    for (const m of maps) for (const [k, v] of Object.entries(m!)) out[k] = (out[k] ?? 0) + v;
    return out;
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

/**
 * Run `run` of every pod as one: the time is from the earliest pod's start to
 * the latest end, each pod's end being its start plus its driver's own time
 * (so one pod gives its driver's own figures, without the process's start and exit).
 */
function mergeRun(driver: PodDriver, lines: PodLine[], run: number): MergedRun {
    const read = READ[driver];
    const inMs = IN_MS[POD_DRIVERS[driver].recording.unit];
    const shares = lines.map((line) => line.runs[run]);
    const which = (i: number) => runOf(lines[i].index, run, lines[i].runs.length);
    const figures = shares.map((share, i) => podFigures(driver, share, which(i)));
    const times = new Map<number, number>();
    shares.forEach((share, i) => {
        const counted = sum(share.times.map(([, n]) => n));
        const timed = read.timed(figures[i]);
        if (counted !== timed) throw new Error(`${which(i)}: ${counted} request times for ${timed} requests (its line was cut short?)`);
        for (const [time, n] of share.times) times.set(time, (times.get(time) ?? 0) + n);
    });
    const sorted = [...times.entries()].sort((a, b) => a[0] - b[0]);
    const n = sum(sorted.map(([, count]) => count));
    const percentile = (p: number | null) => (n === 0 || p === null ? null : inMs(atRank(sorted, Math.min(n - 1, read.rank(n, p)))));

    const start = Math.min(...shares.map((s) => s.start));
    const end = Math.max(...shares.map((s, i) => s.start + figures[i].timeTakenSeconds));
    // At least 1 ms: ab's own resolution.
    const seconds = Math.max(end - start, 0.001);
    const complete = sum(figures.map((f) => f.complete));
    const statusCodes = sumCounts(figures.map((f) => f.statusCodes));
    const errors = sumCounts(figures.map((f) => f.errors));
    const timeouts = figures.every((f) => f.timeouts !== undefined) ? sum(figures.map((f) => f.timeouts!)) : undefined;
    const { p50, p90, p95, p99, p999 } = read.percentiles;
    return {
        complete,
        failed: sum(figures.map((f) => f.failed)),
        timeTakenSeconds: round(seconds, 3),
        requestsPerSecond: round(complete / seconds, 2),
        podsStartSkewSeconds: round(Math.max(...shares.map((s) => s.start)) - start, 3),
        latencyMs: {
            p50: percentile(p50), p90: percentile(p90), p95: percentile(p95), p99: percentile(p99), p999: percentile(p999),
            max: n === 0 ? null : inMs(sorted[sorted.length - 1][0]),
        },
        ...(statusCodes ? { statusCodes } : {}),
        ...(errors ? { errors } : {}),
        ...(timeouts !== undefined ? { timeouts } : {}),
        pods: lines.map((line, i) => ({
            index: line.index, host: String(line.host), node: line.node ?? null,
            startedAt: new Date(shares[i].start * 1000).toISOString(),
            timeTakenSeconds: figures[i].timeTakenSeconds, complete: figures[i].complete, failed: figures[i].failed,
        })),
    };
}

/** The pods' warm-ups, which ran side by side: null where a pod had none; the requests null where a pod's are unknown. */
function mergeWarmups(lines: PodLine[]): Warmup | null {
    const warmups = lines.map((line) => line.warmup);
    if (warmups.some((w) => w === null)) return null;
    const requests = warmups.map((w) => w!.requests);
    return {
        seconds: Math.max(...warmups.map((w) => w!.seconds)),
        requests: requests.every((r): r is number => r !== null) ? sum(requests) : null,
    };
}

/**
 * The result of every measured run from the logs of the `parts` pods of a
 * split load (logs[i]: the log, or its last line, of the pod with completion
 * index i; "" for a pod that left none), each pod having run its share
 * `repeats` times: run i is merged from every pod's run i, never across runs.
 * Throws, naming the pod, on a missing or bad result line, a pod's failure, or
 * a pod with another number of runs.
 */
export function mergePodResults(logs: string[], expected: { driver: PodDriver; parts: number; repeats: number }): MergedLoad {
    const { driver, parts, repeats } = expected;
    if (logs.length !== parts) throw new Error(`expected the logs of ${parts} load pods, got ${logs.length}`);
    const lines = logs.map((log, index) => podLine(log ?? "", index, driver, repeats));
    return {
        driverVersion: READ[driver].version(String(lines[0].version)),
        warmup: mergeWarmups(lines),
        runs: Array.from({ length: repeats }, (_, run) => mergeRun(driver, lines, run)),
    };
}
