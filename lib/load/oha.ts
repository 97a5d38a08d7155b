// oha, the accurate second driver (a Rust crate, built by scripts/oha.sh):
// command line, JSON output parsing. Unlike ab it opens all its clients at
// once, so its ceiling is allClientsCeilingRps.
import { LoadRequest } from "./ab";
import { DriverFigures, requireNumber, round } from "./result";

/** oha's connections: one per request unless the load keeps them. */
function connections(load: Pick<LoadRequest, "keepAlive">): string[] {
    return load.keepAlive ? [] : ["--disable-keepalive"];
}

/**
 * `oha -n N -c C` with a per-request timeout and JSON on stdout. By default a new
 * connection per request, as ab makes: uWSGI's http-socket closes each
 * connection without saying so, and oha reusing them failed 38 % of its
 * requests there (settings refuse keep-alive against it).
 */
export function ohaArgv(ohaPath: string, load: LoadRequest): string[] {
    return [ohaPath, "--no-tui", "--output-format", "json", ...connections(load),
        "-t", `${load.timeoutSeconds}s`, "--connect-timeout", `${load.timeoutSeconds}s`,
        "-n", String(load.requests), "-c", String(load.concurrency), load.url];
}

/** An oha command line that also writes each answered request to an SQLite file (table oha: its duration in seconds, its status). */
export function withDatabase(argv: string[], dbPath: string): string[] {
    return [...argv.slice(0, -1), "--db-url", dbPath, argv[argv.length - 1]];
}

/** ohaArgv, each answered request also written to an SQLite file. */
export function ohaRecordingArgv(ohaPath: string, load: LoadRequest, dbPath: string): string[] {
    return withDatabase(ohaArgv(ohaPath, load), dbPath);
}

/** oha at the load's clients for `seconds`, abandoning what is in flight then (a warm-up, not measured). */
export function ohaWarmupArgv(ohaPath: string, load: Omit<LoadRequest, "requests">, seconds: number): string[] {
    return [ohaPath, "--no-tui", "--output-format", "json", ...connections(load),
        "-t", `${load.timeoutSeconds}s`, "-z", `${seconds}s`, "-c", String(load.concurrency), load.url];
}

/** A constant arrival rate: the open model of a capacity probe. */
export interface RateRequest {
    url: string;
    /** Requests per second to send, whatever the answers do. */
    rate: number;
    /** Seconds to send for. */
    seconds: number;
    /** Connections at most: enough that the rate, not the clients, sets the load. */
    connections: number;
    /** Per request: a request slower than this is a failure. */
    timeoutSeconds: number;
}

/**
 * `oha -q rate -z seconds --latency-correction`: every request's latency counts from when it should have
 * been sent, so a server that falls behind can't hide it by slowing the driver (coordinated omission); the
 * requests still in flight at the deadline are waited for (-w). A new connection per request, as in ohaArgv.
 */
export function ohaRateArgv(ohaPath: string, load: RateRequest): string[] {
    return [ohaPath, "--no-tui", "--output-format", "json", "--disable-keepalive",
        "-q", String(load.rate), "--latency-correction", "-z", `${load.seconds}s`, "-w",
        "-t", `${load.timeoutSeconds}s`, "--connect-timeout", `${load.timeoutSeconds}s`,
        "-c", String(load.connections), load.url];
}

const TIMEOUT = /time(d)? ?out/i;

/** Parses `oha --output-format json` (times in seconds); throws on truncated or foreign output. */
export function parseOhaOutput(text: string): DriverFigures {
    const source = "oha";
    let data: any;
    try {
        // Its JSON object, whatever was printed on stderr around it.
        data = JSON.parse(text.slice(text.indexOf("{"), text.lastIndexOf("}") + 1));
    } catch (e) {
        throw new Error(`${source}: no JSON in the output (truncated?): ${(e as Error).message}`);
    }
    const summary = data?.summary ?? {};
    const counts = (what: string): Record<string, number> => {
        const map = data?.[what];
        if (map === null || typeof map !== "object") throw new Error(`${source}: no ${what} in the output`);
        return Object.fromEntries(Object.entries(map).map(([k, v]) => [k, requireNumber(v, `${what}.${k}`, source)]));
    };
    const statusCodes = counts("statusCodeDistribution");
    const errors = counts("errorDistribution");
    const sum = (m: Record<string, number>, keep: (k: string) => boolean = () => true) =>
        Object.entries(m).reduce((s, [k, v]) => s + (keep(k) ? v : 0), 0);
    const percentiles = data?.latencyPercentiles ?? {};
    const ms = (seconds: unknown): number | null => (typeof seconds === "number" ? round(seconds * 1000, 1) : null);
    return {
        // Every request oha finished: answered (any status) or failed.
        complete: sum(statusCodes) + sum(errors),
        failed: sum(statusCodes, (code) => !/^2\d\d$/.test(code)) + sum(errors),
        timeTakenSeconds: round(requireNumber(summary.total, "summary.total", source), 3),
        requestsPerSecond: round(requireNumber(summary.requestsPerSec, "summary.requestsPerSec", source), 2),
        latencyMs: {
            p50: ms(percentiles.p50), p90: ms(percentiles.p90), p95: ms(percentiles.p95), p99: ms(percentiles.p99),
            p999: ms(percentiles["p99.9"]), max: ms(summary.slowest),
        },
        statusCodes,
        errors,
        timeouts: sum(errors, (message) => TIMEOUT.test(message)),
    };
}

/** "1.16.0" from `oha --version` ("oha 1.16.0"). */
export function parseOhaVersion(text: string): string {
    return text.match(/oha (\S+)/)?.[1] ?? "unknown";
}
