// Where load runs are kept: one JSON file per run, in the run's results folder.
import * as fs from "fs";
import * as path from "path";
import { LoadResult } from "../lib/load/result";

/** Appends one run to a results folder, as <startedAt>.json. */
export function recordResult(dir: string, result: LoadResult): void {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, `${result.startedAt.replace(/[:.]/g, "-")}.json`), JSON.stringify(result, null, 2) + "\n");
}
