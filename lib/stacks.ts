// The scenario stacks as data: which exist and what each one's Pulumi.<stack>.yaml sets.
import * as fs from "fs";
import * as path from "path";

export const PROJECT = "flask-gevent-lab";

/** The matrix's own stacks (matrix-<scenario>, sweep-<scenario>), made and removed by each run. */
export const MATRIX_STACK = /^(matrix|sweep)-/;

/** Stacks the tests and the matrix make for themselves (their Pulumi.<stack>.yaml is gitignored). */
const transient = (stack: string) => stack.startsWith("e2e-") || MATRIX_STACK.test(stack);

/** The committed stacks: every Pulumi.<name>.yaml but the tests' and the matrix's, dev included. */
export function listStacks(root: string): string[] {
    return fs.readdirSync(root)
        .map((f) => f.match(/^Pulumi\.(.+)\.yaml$/)?.[1])
        .filter((s): s is string => s !== undefined && !transient(s))
        .sort();
}

/** The committed scenario stacks: the committed stacks without dev. */
export function listScenarios(root: string): string[] {
    return listStacks(root).filter((s) => s !== "dev");
}

/** The project's config keys a stack file sets (flat `flask-gevent-lab:key: value` lines). */
export function readStackConfig(root: string, stack: string): Record<string, string> {
    const text = fs.readFileSync(path.join(root, `Pulumi.${stack}.yaml`), "utf8");
    const config: Record<string, string> = {};
    for (const m of text.matchAll(new RegExp(`^\\s+${PROJECT}:(\\w+):\\s*(.*)$`, "gm"))) {
        config[m[1]] = m[2].trim().replace(/^"(.*)"$/, "$1");
    }
    return config;
}

/** A lock the file backend holds on a stack while an operation runs; a killed CLI leaves it behind. */
export interface StackLock {
    file: string;
    pid: number;
    hostname: string;
}

/** The locks on a stack in the file backend at stateDir (.pulumi/locks/<organization>/<project>/<stack>/<id>.json). */
export function stackLocks(stateDir: string, stack: string): StackLock[] {
    const locks = path.join(stateDir, ".pulumi", "locks");
    if (!fs.existsSync(locks)) return [];
    return fs.readdirSync(locks).flatMap((org) => {
        const dir = path.join(locks, org, PROJECT, stack);
        if (!fs.existsSync(dir)) return [];
        return fs.readdirSync(dir).filter((f) => f.endsWith(".json")).map((f) => {
            const { pid, hostname } = JSON.parse(fs.readFileSync(path.join(dir, f), "utf8"));
            return { file: path.join(dir, f), pid, hostname };
        });
    });
}
