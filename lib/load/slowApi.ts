// The slow API's own count (GET /_stats, python-apps/slow_api/api.py), read
// before and after a run: what reached it, what it answered, what it held at
// once. Pure.
import { Held } from "./verdict";

/** What the lab's own count at the slow API showed of a run: the answers it really gave. */
export interface UpstreamCount {
    /** Requests that reached it during the run. */
    arrived: number;
    /** Full answers it gave. */
    served: number;
    /** Connections it closed without an answer (its ?drop= fault mode). */
    dropped: number;
}

/** One reading of GET /_stats?mark=<reader>. */
export interface SlowApiReading {
    /** Its monotonic clock, seconds. */
    at: number;
    inFlight: number;
    arrived: number;
    served: number;
    dropped: number;
    /** Requests held x seconds since it started. */
    heldSeconds: number;
    /** Most held at once since this reader's previous reading. */
    peakSinceMark: number;
}

/** Where the slow API at `url` (SlowApi.url: http://host:port/) gives its count. */
export function statsUrl(url: string, mark: string): string {
    return new URL(`_stats?mark=${encodeURIComponent(mark)}`, url).toString();
}

/** Throws unless `data` is a reading. */
export function parseReading(data: unknown): SlowApiReading {
    const r = data as Record<string, unknown>;
    for (const key of ["at", "inFlight", "arrived", "served", "dropped", "heldSeconds", "peakSinceMark"]) {
        if (typeof r?.[key] !== "number") throw new Error(`the slow API's /_stats has no number "${key}": ${JSON.stringify(data).slice(0, 200)}`);
    }
    return r as unknown as SlowApiReading;
}

/** What happened at the slow API between two readings of one reader. */
export function between(before: SlowApiReading, after: SlowApiReading): { held: Held; count: UpstreamCount } {
    const seconds = after.at - before.at;
    return {
        held: { peak: after.peakSinceMark, avg: seconds > 0 ? Math.round(((after.heldSeconds - before.heldSeconds) / seconds) * 100) / 100 : 0 },
        count: { arrived: after.arrived - before.arrived, served: after.served - before.served, dropped: after.dropped - before.dropped },
    };
}

/** Most and time-average of samples taken at even intervals (PostgreSQL's active queries); null without any. */
export function heldOfSamples(samples: number[]): Held | null {
    if (!samples.length) return null;
    return { peak: Math.max(...samples), avg: Math.round((samples.reduce((a, b) => a + b, 0) / samples.length) * 100) / 100 };
}
