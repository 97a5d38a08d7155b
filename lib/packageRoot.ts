// The package's own folder (python-apps/, nginx/, k6/), whether this code runs
// from its TypeScript sources or compiled into dist/.
import * as fs from "fs";
import * as path from "path";

function findRoot(from: string): string {
    for (let dir = from; ; dir = path.dirname(dir)) {
        if (fs.existsSync(path.join(dir, "python-apps")) && fs.existsSync(path.join(dir, "package.json"))) return dir;
        if (path.dirname(dir) === dir) throw new Error(`flask-gevent-lab: no package folder (with python-apps/) above ${from}`);
    }
}

export const PACKAGE_ROOT = findRoot(__dirname);
