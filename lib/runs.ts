// A results file as the reports read it: a matrix or capacity run's results.json, or the
// harness's results/harness-<time>.json, checked for the format this code writes. Pure.
import { formatCpuAffinity } from "./load/cpu";
import { LoadResult } from "./load/result";
import { MatrixResults, SweepPoint } from "./report";

/** What ./lab matrix and ./lab capacity write into results.json now; older files have no `format`. */
export const RESULTS_FORMAT = "flask-gevent-lab/results@1";

/** One run, named for its folder or file, with the relative link to its JSON. */
export interface Run {
    name: string;
    /** The JSON file it was read from. */
    file: string;
    results: MatrixResults;
}

const EXPECTED = `expected the results.json of ./lab matrix or ./lab capacity (format ${RESULTS_FORMAT}) or a results/harness-<time>.json`;

/** The fields every measured result must have for the reports: those an older format lacks. */
function missingFields(result: Record<string, unknown>): string[] {
    return ["repeats", "latencyMs", "requestsPerSecond", "driver", "requests", "concurrency"].filter((k) => !(k in result));
}

/**
 * Reads one results file's text; throws naming what is missing and the format expected. A harness
 * file becomes a run without scenarios whose levels are sweep points, one series per driver and split.
 */
export function parseRun(text: string, file: string): MatrixResults {
    let json: any;
    try {
        json = JSON.parse(text);
    } catch (e) {
        throw new Error(`${file}: not JSON (${(e as Error).message}); ${EXPECTED}`);
    }
    if (json && Array.isArray(json.results) && json.options) return harnessRun(json, file);
    if (!json || !Array.isArray(json.rows)) throw new Error(`${file}: no "rows": not a results file; ${EXPECTED}`);
    if (json.format !== undefined && json.format !== RESULTS_FORMAT) {
        throw new Error(`${file}: format ${json.format}, which this version does not read; ${EXPECTED}`);
    }
    const measured = [...json.rows, ...(json.sweep ?? [])].filter((r: any) => r?.result);
    for (const r of measured) {
        const missing = missingFields(r.result);
        if (missing.length) {
            throw new Error(`${file}: an older format: ${r.scenario}'s result has no ${missing.join(", ")} ` +
                `(written before every run was repeated); ${EXPECTED}. Run it again with this version.`);
        }
    }
    for (const key of ["startedAt", "environment"]) {
        if (!(key in json)) throw new Error(`${file}: no "${key}"; ${EXPECTED}`);
    }
    return { sweep: [], loadOverrides: {}, ...json };
}

function harnessRun(json: { options: Record<string, unknown>; results: LoadResult[]; failures?: string[] }, file: string): MatrixResults {
    const results = json.results;
    for (const r of results) {
        const missing = missingFields(r as unknown as Record<string, unknown>);
        if (missing.length) throw new Error(`${file}: an older harness format: a result has no ${missing.join(", ")}; ${EXPECTED}`);
    }
    const sweep: SweepPoint[] = results.map((r) => {
        const split = formatCpuAffinity(r.cpuAffinity ?? {});
        return { scenario: `harness ${r.driver}`, concurrency: r.concurrency, requests: r.requests, status: "ok", result: r, baseline: null, error: null, split };
    });
    const first = results[0]?.repeats[0]?.startedAt ?? results[0]?.startedAt ?? "";
    return {
        startedAt: first, wallSeconds: 0,
        environment: {
            run: "the harness: the bare slow API, no Flask (scripts/bench-harness.sh)", options: JSON.stringify(json.options),
            ...(json.failures?.length ? { failures: json.failures.join("; ") } : {}),
        },
        loadOverrides: {}, rows: [], sweep,
    };
}
