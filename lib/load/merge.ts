// The exact merge of a load split over pods (lib/load/split.ts): counts are
// summed, the time is the union of the pods' runs, and the percentiles are
// taken from the union of every request's time, with ab's own rule, never
// from the pods' percentiles.
import { parseAbCounts, parseAbVersion } from "./ab";
import { DriverFigures, PodRun, requireNumber, round } from "./result";
import { POD_RECORDING, POD_RESULT_FORMAT, PodDriver } from "./split";

export interface MergedLoad extends DriverFigures {
    /** As the driver's own parser reads it from pod 0's driver ("2.3"). */
    driverVersion: string;
    pods: PodRun[];
}

/** What a pod's result line holds (split.ts's POD_SCRIPT writes it). */
interface PodLine {
    index: number;
    driver: PodDriver;
    host: string;
    node: string | null;
    version: string;
    /** Epoch seconds just before the driver was started. */
    start: number;
    report: unknown;
    times: [number, number][];
}

/**
 * The 0-based rank, in n sorted times, of ab's p-th percentile: the value at
 * floor(n x p / 100) (the "nearest rank, rounded up" kind), in ab's integer
 * arithmetic (ab.c: done * percs[i] / 100).
 */
function percentileRank(n: number, p: number): number {
    return Math.min(n - 1, Math.floor((n * p) / 100));
}

/** The value at 0-based `rank` of the times that `sorted` counts. */
function atRank(sorted: [number, number][], rank: number): number {
    let seen = 0;
    for (const [time, count] of sorted) {
        seen += count;
        if (seen > rank) return time;
    }
    throw new Error(`no time at rank ${rank} of ${seen}`);
}

/** The last result line in a pod's log (kubectl logs mixes in anything else it printed). */
function podLine(log: string, index: number, driver: PodDriver): PodLine {
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
    const unit = POD_RECORDING[driver].unit;
    if (line.unit !== unit) throw new Error(`${who}: its times are in ${line.unit}, expected ${unit}`);
    const pair = (t: unknown) => Array.isArray(t) && t.length === 2 && t.every((v) => typeof v === "number" && v >= 0) && t[1] > 0;
    if (!Array.isArray(line.times) || !line.times.every(pair)) throw new Error(`${who}: its times are not [[time, count], ...]`);
    requireNumber(line.start, "start", who);
    return line as PodLine;
}

/** A pod's own figures, from ab's report. */
function podFigures(line: PodLine): Omit<DriverFigures, "latencyMs"> {
    try {
        return parseAbCounts(String(line.report));
    } catch (e) {
        throw new Error(`load pod ${line.index}: ${(e as Error).message}`);
    }
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

/**
 * One result from the logs of the `parts` pods of a split load (logs[i]: the
 * log, or its last line, of the pod with completion index i; "" for a pod that
 * left none). Throws, naming the pod, on a missing or bad result line or a
 * pod's failure. The time is from the earliest pod's start to the latest end,
 * each pod's end being its start plus its driver's own time (so one pod gives
 * its driver's own figures, without the process's start and exit).
 */
export function mergePodResults(logs: string[], expected: { driver: PodDriver; parts: number }): MergedLoad {
    const { driver, parts } = expected;
    if (logs.length !== parts) throw new Error(`expected the logs of ${parts} load pods, got ${logs.length}`);
    const lines = logs.map((log, index) => podLine(log ?? "", index, driver));
    const figures = lines.map(podFigures);
    const times = new Map<number, number>();
    lines.forEach((line, i) => {
        // ab times every request it completed.
        const counted = sum(line.times.map(([, n]) => n));
        const timed = figures[i].complete;
        if (counted !== timed) throw new Error(`load pod ${i}: ${counted} request times for ${timed} requests (its line was cut short?)`);
        for (const [time, n] of line.times) times.set(time, (times.get(time) ?? 0) + n);
    });
    const sorted = [...times.entries()].sort((a, b) => a[0] - b[0]);
    const n = sum(sorted.map(([, count]) => count));
    const percentile = (p: number) => (n === 0 ? null : atRank(sorted, percentileRank(n, p)));

    const start = Math.min(...lines.map((l) => l.start));
    const end = Math.max(...lines.map((l, i) => l.start + figures[i].timeTakenSeconds));
    // At least 1 ms: ab's own resolution.
    const seconds = Math.max(end - start, 0.001);
    const complete = sum(figures.map((f) => f.complete));
    return {
        complete,
        failed: sum(figures.map((f) => f.failed)),
        timeTakenSeconds: round(seconds, 3),
        requestsPerSecond: round(complete / seconds, 2),
        latencyMs: {
            p50: percentile(50), p90: percentile(90), p95: percentile(95), p99: percentile(99),
            // ab reports no p99.9 (result.ts): the same here as on every other platform.
            p999: null,
            max: n === 0 ? null : sorted[sorted.length - 1][0],
        },
        driverVersion: parseAbVersion(String(lines[0].version)),
        pods: lines.map((line, i) => ({
            index: line.index, host: String(line.host), node: line.node ?? null,
            startedAt: new Date(line.start * 1000).toISOString(),
            timeTakenSeconds: figures[i].timeTakenSeconds, complete: figures[i].complete, failed: figures[i].failed,
        })),
    };
}
