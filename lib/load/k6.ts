// k6 where it is installed: command line, summary parsing (k6's documented
// handleSummary data). It starts every VU at once: allClientsCeilingRps.
import { LoadRequest } from "./ab";
import { DriverFigures, requireNumber, round } from "./result";

/** `k6 run` of k6/load.js with the load in __ENV; the summary goes to `summaryPath`. */
export function k6Argv(k6Path: string, script: string, load: LoadRequest, summaryPath: string): string[] {
    const env = {
        URL: load.url,
        VUS: String(load.concurrency),
        ITERATIONS: String(load.requests),
        MAX_DURATION_SECONDS: String(load.timeoutSeconds),
        KEEP_ALIVE: String(load.keepAlive ?? false),
        SUMMARY: summaryPath,
    };
    return [k6Path, "run", "--quiet", "--no-usage-report",
        ...Object.entries(env).flatMap(([k, v]) => ["-e", `${k}=${v}`]), script];
}

/** k6/load.js at the load's clients for `seconds` (its maxDuration), however many requests that is: a warm-up. */
export function k6WarmupArgv(k6Path: string, script: string, load: Omit<LoadRequest, "requests">, seconds: number, summaryPath: string): string[] {
    return k6Argv(k6Path, script, { ...load, requests: 1_000_000, timeoutSeconds: seconds }, summaryPath);
}

/** Parses the JSON that k6/load.js's handleSummary writes; throws on anything else. */
export function parseK6Summary(text: string): DriverFigures {
    const source = "k6 summary";
    let data: any;
    try {
        data = JSON.parse(text);
    } catch (e) {
        throw new Error(`${source}: not JSON (truncated?): ${(e as Error).message}`);
    }
    const metric = (name: string) => data?.metrics?.[name]?.values ?? {};
    const total = requireNumber(metric("http_reqs").count, "http_reqs.count", source);
    // http_req_failed is a rate of failures: its "passes" are the failed requests.
    const failed = requireNumber(metric("http_req_failed").passes, "http_req_failed.passes", source);
    const durationMs = requireNumber(data?.state?.testRunDurationMs, "state.testRunDurationMs", source);
    const duration = metric("http_req_duration");
    const ms = (key: string): number | null => (typeof duration[key] === "number" ? round(duration[key], 1) : null);
    return {
        complete: total,
        failed,
        timeTakenSeconds: round(durationMs / 1000, 3),
        requestsPerSecond: round(requireNumber(metric("http_reqs").rate, "http_reqs.rate", source), 2),
        latencyMs: { p50: ms("med"), p90: ms("p(90)"), p95: ms("p(95)"), p99: ms("p(99)"), p999: ms("p(99.9)"), max: ms("max") },
    };
}

/** "v0.54.0" from `k6 version` ("k6 v0.54.0 (...)"). */
export function parseK6Version(text: string): string {
    return text.match(/k6 (v\S+)/)?.[1] ?? "unknown";
}
