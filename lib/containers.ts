// Lookups of a container's processes from this machine: its id from a process's cgroups, its
// environment from its OCI bundle, its threads from `docker top`.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { parseEnviron, readOr } from "./procfs";

/** A container's id in a line of /proc/<pid>/cgroup: the 64-hex id that ends a path (cgroupfs or systemd). */
export const CONTAINER_ID_IN_CGROUP = /(?:^|[/-])([0-9a-f]{64})(?:\.scope)?$/;

/** The container a process runs in, from its /proc/<pid>/cgroup. */
export function containerIdOf(cgroups: string): string | undefined {
    for (const line of cgroups.split("\n")) {
        const id = CONTAINER_ID_IN_CGROUP.exec(line.trim())?.[1];
        if (id) return id;
    }
    return undefined;
}

/** A variable of a container's environment as its runtime was given it: <bundles>/<id>/config.json's process.env (OCI). */
export function containerEnv(bundles: string, container: string, key: string): string | undefined {
    const env: string[] = readOr(() => JSON.parse(fs.readFileSync(path.join(bundles, container, "config.json"), "utf8")).process?.env) ?? [];
    return parseEnviron(env.join("\0")).get(key);
}

/** Sums the NLWP column of `docker top <container> -eo pid,nlwp`. */
export function parseDockerTopThreads(text: string): number {
    const lines = text.trim().split("\n");
    if (!/NLWP/i.test(lines[0] ?? "")) throw new Error(`docker top: no NLWP column in: ${lines[0] ?? "(nothing)"}`);
    return lines.slice(1).reduce((sum, line) => sum + Number(line.trim().split(/\s+/)[1]), 0);
}

/** Threads of a Docker container's processes, now. */
export function dockerTopThreads(container: string): number {
    return parseDockerTopThreads(execFileSync("docker", ["top", container, "-eo", "pid,nlwp"], { encoding: "utf8" }));
}
