// A content hash of what a service runs, so that an edit to its sources
// changes the resource's inputs and the next up redeploys it.
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";

/** Files under `p` (itself if a file), sorted; bytecode caches skipped. Missing paths are skipped. */
function filesUnder(p: string): string[] {
    let stat: fs.Stats;
    try {
        stat = fs.statSync(p);
    } catch {
        return [];
    }
    if (!stat.isDirectory()) return [p];
    return fs.readdirSync(p).sort()
        .filter((entry) => entry !== "__pycache__" && !entry.endsWith(".pyc"))
        .flatMap((entry) => filesUnder(path.join(p, entry)));
}

/** sha256 (16 hex digits) over the names and contents of every file under `paths`, plus `extra` strings. */
export function codeHash(paths: string[], extra: string[] = []): string {
    const hash = createHash("sha256");
    for (const file of paths.flatMap(filesUnder)) {
        hash.update(`${file}\0`);
        hash.update(fs.readFileSync(file));
    }
    for (const e of extra) hash.update(`\0${e}`);
    return hash.digest("hex").slice(0, 16);
}
