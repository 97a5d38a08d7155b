// What every load resource does with its result: keep it, one JSON file per run
// in the run's results folder, then judge it; and re-run on any change.
import * as fs from "fs";
import * as path from "path";
import { LoadResult, resultFileName, thresholdExceeded } from "../lib/load/result";

/** Appends the run to its results folder (resultFileName; "": none), then fails the up if more requests failed than allowed (-1: never). */
export function keepResult(resultsDir: string, result: LoadResult, maxFailedRequests: number): void {
    if (resultsDir) {
        fs.mkdirSync(resultsDir, { recursive: true });
        fs.writeFileSync(path.join(resultsDir, resultFileName(result.startedAt)), JSON.stringify(result, null, 2) + "\n");
    }
    const exceeded = thresholdExceeded(result, maxFailedRequests, resultsDir);
    if (exceeded) throw new Error(exceeded);
}

/** A load is measured again on any change of its inputs: every changed input replaces it. */
export function replaceOnChange<T extends object>(olds: T, news: T): { changes: boolean; replaces: string[] } {
    const changed = (Object.keys(news) as (keyof T & string)[]).filter((k) => JSON.stringify(olds[k]) !== JSON.stringify(news[k]));
    return { changes: changed.length > 0, replaces: changed };
}
