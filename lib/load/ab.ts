// ApacheBench, the tutorial's own load generator: command line, output parsing, ceiling.
import { DriverFigures, requireNumber } from "./result";

export interface LoadRequest {
    url: string;
    requests: number;
    concurrency: number;
    timeoutSeconds: number;
    /** Keep each client's connection for its next request (HTTP keep-alive), as browsers do; default one per request, as the tutorial's ab. */
    keepAlive?: boolean;
}

/** The tutorial's `ab -r -n N -c C URL`, plus a per-request timeout and -l (the psycopg2 app's body length varies); -k keeps connections. */
export function abArgv(abPath: string, load: LoadRequest): string[] {
    return [abPath, "-r", "-l", ...(load.keepAlive ? ["-k"] : []), "-s", String(load.timeoutSeconds),
        "-n", String(load.requests), "-c", String(load.concurrency), load.url];
}

/** ab at the load's clients for `seconds`, abandoning what is in flight then (-t: a warm-up, not measured). */
export function abWarmupArgv(abPath: string, load: Omit<LoadRequest, "requests">, seconds: number): string[] {
    return [abPath, "-r", "-l", ...(load.keepAlive ? ["-k"] : []), "-s", String(load.timeoutSeconds),
        "-t", String(seconds), "-c", String(load.concurrency), load.url];
}

/** abArgv that also writes each request's times to `gnuplotPath` (-g: a TSV, ttime in whole ms, as ab's own table). */
export function abRecordingArgv(abPath: string, load: LoadRequest, gnuplotPath: string): string[] {
    const argv = abArgv(abPath, load);
    return [...argv.slice(0, -1), "-g", gnuplotPath, load.url];
}

function field(text: string, label: string): string | undefined {
    const match = text.match(new RegExp(`^${label}:\\s+(\\S+)`, "m"));
    return match?.[1];
}

const AB = "ApacheBench";

/**
 * ab's counts and times without its percentile table, which ab leaves out
 * below 2 requests (a load pod's share can be 1); throws on truncated or foreign output.
 */
export function parseAbCounts(text: string): Omit<DriverFigures, "latencyMs"> {
    const source = AB;
    const complete = requireNumber(field(text, "Complete requests"), "'Complete requests'", source);
    const failed = requireNumber(field(text, "Failed requests"), "'Failed requests'", source);
    const non2xx = Number(field(text, "Non-2xx responses") ?? 0);
    const timeTakenSeconds = requireNumber(field(text, "Time taken for tests"), "'Time taken for tests'", source);
    const requestsPerSecond = requireNumber(field(text, "Requests per second"), "'Requests per second'", source);
    // With -k only: answers on a kept connection (the rest each opened one: the server closed the last).
    const keptAlive = field(text, "Keep-Alive requests");
    // ab counts a non-2xx answer as complete; the tutorial's readers would call it failed.
    return { complete, failed: failed + non2xx, timeTakenSeconds, requestsPerSecond, ...(keptAlive !== undefined ? { keptAlive: Number(keptAlive) } : {}) };
}

/** Parses ab's report; throws on truncated or foreign output. */
export function parseAbOutput(text: string): DriverFigures {
    const source = AB;
    const counts = parseAbCounts(text);
    const percentile = (p: number): number | null => {
        const match = text.match(new RegExp(`^\\s+${p}%\\s+(\\d+)`, "m"));
        return match ? Number(match[1]) : null;
    };
    if (counts.complete > 0 && percentile(50) === null) {
        throw new Error(`${source}: no latency percentiles in the output (truncated?)`);
    }
    return {
        ...counts,
        latencyMs: { p50: percentile(50), p90: percentile(90), p95: percentile(95), p99: percentile(99), p999: null, max: percentile(100) },
    };
}

/** "Version 2.3 <...>" from `ab -V`. */
export function parseAbVersion(text: string): string {
    return text.match(/Version (\S+)/)?.[1] ?? "unknown";
}

/**
 * ab sends ONE request first and only then opens its other clients, so even an
 * ideal server needs delay x (1 + ceil((n-1)/c)) seconds.
 */
export function abCeilingRps(requests: number, concurrency: number, delaySeconds: number): number | null {
    if (delaySeconds <= 0) return null;
    return requests / (delaySeconds * (1 + Math.ceil((requests - 1) / concurrency)));
}
