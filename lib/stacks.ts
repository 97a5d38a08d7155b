// The scenario stacks as data: which exist and what each one's Pulumi.<stack>.yaml sets.
import * as fs from "fs";
import * as path from "path";

export const PROJECT = "flask-gevent-lab";

/** The committed scenario stacks (Pulumi.<name>.yaml), without dev and test stacks. */
export function listScenarios(root: string): string[] {
    return fs.readdirSync(root)
        .map((f) => f.match(/^Pulumi\.(.+)\.yaml$/)?.[1])
        .filter((s): s is string => s !== undefined && s !== "dev" && !s.startsWith("e2e-"))
        .sort();
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
