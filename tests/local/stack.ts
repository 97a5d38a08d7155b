// A test's own stack in this project, through the Automation API: made from a
// committed scenario's config, removed with everything it runs.
import * as fs from "fs";
import * as path from "path";
import { ConfigMap, LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { readStackConfig } from "../../lib/stacks";

export const ROOT = path.join(__dirname, "..", "..");

/** Stack `name` with scenario's config and the overrides (name it with the test file's own prefix). */
export async function testStack(name: string, scenario: string, overrides: Record<string, string> = {}): Promise<Stack> {
    const stack = await LocalWorkspace.createOrSelectStack({ stackName: name, workDir: ROOT });
    const config: ConfigMap = {};
    for (const [k, v] of Object.entries({ ...readStackConfig(ROOT, scenario), ...overrides })) config[k] = { value: v };
    await stack.setAllConfig(config);
    return stack;
}

export async function removeStack(stack: Stack): Promise<void> {
    await stack.destroy();
    await stack.workspace.removeStack(stack.name);
    fs.rmSync(path.join(ROOT, `Pulumi.${stack.name}.yaml`), { force: true });
}

/** Up, and the stack's outputs as plain values. */
export async function upOutputs(stack: Stack): Promise<Record<string, any>> {
    const up = await stack.up();
    return Object.fromEntries(Object.entries(up.outputs).map(([k, v]) => [k, v.value]));
}
