// Thread counts from /proc: the tutorial's `top -H` observations as numbers.
import { execFileSync } from "child_process";
import * as fs from "fs";

export interface ProcStat {
    pid: number;
    /** R, S, D, Z (zombie), ... */
    state: string;
    /** Process group id. */
    pgrp: number;
    /** Threads in the process. */
    threads: number;
    /** Start time in clock ticks since boot: with pid, identifies the process across pid reuse. */
    startTime: number;
}

/** Parses /proc/<pid>/stat; the command name may hold spaces and parentheses. */
export function parseProcStat(text: string): ProcStat {
    const close = text.lastIndexOf(")");
    if (close < 0) throw new Error(`not a /proc/<pid>/stat line: ${text.slice(0, 80)}`);
    const pid = Number(text.slice(0, text.indexOf(" ")));
    // Fields after the name start at field 3 (state); pgrp is field 5, num_threads 20, starttime 22.
    const rest = text.slice(close + 2).trim().split(/\s+/);
    const field = (n: number) => Number(rest[n - 3]);
    return { pid, state: rest[0], pgrp: field(5), threads: field(20), startTime: field(22) };
}

export function readProcStat(pid: number): ProcStat | undefined {
    try {
        return parseProcStat(fs.readFileSync(`/proc/${pid}/stat`, "utf8"));
    } catch {
        return undefined;
    }
}

/** The live (not zombie) processes of process group `pgid`: a server's master and workers. */
export function groupProcesses(pgid: number): ProcStat[] {
    const found: ProcStat[] = [];
    for (const entry of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(entry)) continue;
        const stat = readProcStat(Number(entry));
        if (stat && stat.pgrp === pgid && stat.state !== "Z") found.push(stat);
    }
    return found;
}

export function threadsInGroup(pgid: number): number {
    return groupProcesses(pgid).reduce((sum, p) => sum + p.threads, 0);
}

/** Whose threads a load test counts: a local process group, a container's processes, or nobody's. */
export type ThreadsProbe = { kind: "none" } | { kind: "group"; pgid: number } | { kind: "container"; name: string };

/** Sums the NLWP column of `docker top <container> -eo pid,nlwp`. */
export function parseDockerTopThreads(text: string): number {
    const lines = text.trim().split("\n");
    if (!/NLWP/i.test(lines[0] ?? "")) throw new Error(`docker top: no NLWP column in: ${lines[0] ?? "(nothing)"}`);
    return lines.slice(1).reduce((sum, line) => sum + Number(line.trim().split(/\s+/)[1]), 0);
}

/** Threads of whatever `probe` names, now; null when it names nobody. */
export function countThreads(probe: ThreadsProbe): number | null {
    switch (probe.kind) {
        case "none": return null;
        case "group": return threadsInGroup(probe.pgid);
        case "container":
            return parseDockerTopThreads(execFileSync("docker", ["top", probe.name, "-eo", "pid,nlwp"], { encoding: "utf8" }));
    }
}

/** True while the process that had `startTime` still runs under `pid`. */
export function isAlive(pid: number, startTime: number): boolean {
    const stat = readProcStat(pid);
    return stat !== undefined && stat.startTime === startTime && stat.state !== "Z";
}

/** Wraps argv so it runs with the open-files limit raised to the hard limit (high concurrency needs fds). */
export function withRaisedFileLimit(argv: string[]): string[] {
    return ["sh", "-c", 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', argv[0], ...argv];
}
