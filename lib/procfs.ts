// Reading /proc: processes, their groups and trees, environments, threads, liveness.
import { execFileSync } from "child_process";
import * as fs from "fs";

export interface ProcStat {
    pid: number;
    /** R, S, D, Z (zombie), ... */
    state: string;
    /** Parent's pid. */
    ppid: number;
    /** Process group id. */
    pgrp: number;
    /** Threads in the process. */
    threads: number;
    /** Start time in clock ticks since boot: with pid, identifies the process across pid reuse. */
    startTime: number;
    /** CPU time used so far, user + system (utime + stime), in clock ticks. */
    cpuTicks: number;
}

/** Parses /proc/<pid>/stat; the command name may hold spaces and parentheses. */
export function parseProcStat(text: string): ProcStat {
    const close = text.lastIndexOf(")");
    if (close < 0) throw new Error(`not a /proc/<pid>/stat line: ${text.slice(0, 80)}`);
    const pid = Number(text.slice(0, text.indexOf(" ")));
    // Fields after the name start at field 3 (state); ppid is field 4, pgrp 5, utime 14, stime 15, num_threads 20, starttime 22.
    const rest = text.slice(close + 2).trim().split(/\s+/);
    const field = (n: number) => Number(rest[n - 3]);
    return {
        pid, state: rest[0], ppid: field(4), pgrp: field(5), threads: field(20), startTime: field(22), cpuTicks: field(14) + field(15),
    };
}

export function readProcStat(pid: number): ProcStat | undefined {
    try {
        return parseProcStat(fs.readFileSync(`/proc/${pid}/stat`, "utf8"));
    } catch {
        return undefined;
    }
}

/** Every process now (zombies included). */
export function processTable(): ProcStat[] {
    const found: ProcStat[] = [];
    for (const entry of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(entry)) continue;
        const stat = readProcStat(Number(entry));
        if (stat) found.push(stat);
    }
    return found;
}

/**
 * The live (not zombie) processes of process group `pgid` and those descended from them: a server's master
 * and workers (PostgreSQL's backends start sessions of their own, so only descent finds them).
 */
export function groupProcesses(pgid: number): ProcStat[] {
    return inGroupOrBelow(processTable(), pgid).filter((p) => p.state !== "Z");
}

/** Out of `table`, process group `pgid` and every process descended from one of its members. */
export function inGroupOrBelow(table: ProcStat[], pgid: number): ProcStat[] {
    return processTree(table, table.filter((p) => p.pgrp === pgid).map((p) => p.pid));
}

let clockTicksPerSecond: number | undefined;

/** CLK_TCK: the unit of /proc's CPU times. */
export function clockTicks(): number {
    clockTicksPerSecond ??= Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" })) || 100;
    return clockTicksPerSecond;
}

/** The TcpExt counters of a /proc/<pid>/net/netstat (pairs of lines: names, then values). */
export function parseNetstat(text: string): Map<string, number> {
    const counters = new Map<string, number>();
    const lines = text.split("\n");
    for (let i = 0; i + 1 < lines.length; i += 2) {
        const names = lines[i].trim().split(/\s+/);
        const values = lines[i + 1].trim().split(/\s+/);
        if (names[0] !== values[0]) continue;
        names.slice(1).forEach((name, k) => counters.set(`${names[0].replace(/:$/, "")}.${name}`, Number(values[k + 1])));
    }
    return counters;
}

/** The processes `roots` and every process descended from them, out of `table`. */
export function processTree(table: ProcStat[], roots: number[]): ProcStat[] {
    const pids = new Set(roots);
    let grown = true;
    while (grown) {
        grown = false;
        for (const p of table) {
            if (!pids.has(p.pid) && pids.has(p.ppid)) {
                pids.add(p.pid);
                grown = true;
            }
        }
    }
    return table.filter((p) => pids.has(p.pid));
}

export function threadsInGroup(pgid: number): number {
    return groupProcesses(pgid).reduce((sum, p) => sum + p.threads, 0);
}

/** True while the process that had `startTime` still runs under `pid`. */
export function isAlive(pid: number, startTime: number): boolean {
    const stat = readProcStat(pid);
    return stat !== undefined && stat.startTime === startTime && stat.state !== "Z";
}

/** Parses /proc/<pid>/environ: NUL-separated KEY=VALUE entries (a value may hold "="). */
export function parseEnviron(text: string): Map<string, string> {
    const env = new Map<string, string>();
    for (const entry of text.split("\0")) {
        const eq = entry.indexOf("=");
        if (eq > 0) env.set(entry.slice(0, eq), entry.slice(eq + 1));
    }
    return env;
}

/** A live process and the environment it was started with. */
export interface MarkedProcess extends ProcStat {
    env: Map<string, string>;
}

/**
 * The live (not zombie) processes whose environment has key=value: what this
 * project started, found even when no state recorded it. Processes whose
 * environ can't be read (another user's, when not root) or that exit meanwhile are skipped.
 */
export function processesWithEnv(key: string, value: string): MarkedProcess[] {
    const found: MarkedProcess[] = [];
    for (const entry of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(entry)) continue;
        let env: Map<string, string>;
        try {
            env = parseEnviron(fs.readFileSync(`/proc/${entry}/environ`, "utf8"));
        } catch {
            continue;
        }
        if (env.get(key) !== value) continue;
        const stat = readProcStat(Number(entry));
        if (stat && stat.state !== "Z") found.push({ ...stat, env });
    }
    return found;
}

/** One local process a load measured: `<service>:<pid>:<startTime>`. */
export interface ProcessIdentity {
    service: string;
    pid: number;
    startTime: number;
}

/**
 * The local processes named in a load's space-separated target; other tokens
 * (Docker container ids) are left out: their liveness is not read from /proc.
 */
export function localTargets(target: string): ProcessIdentity[] {
    const found: ProcessIdentity[] = [];
    for (const token of target.split(/\s+/)) {
        const m = /^([^:\s]+):(\d+):(\d+)$/.exec(token);
        if (m) found.push({ service: m[1], pid: Number(m[2]), startTime: Number(m[3]) });
    }
    return found;
}

/** What `read` returns, or undefined where it throws (a process that exited, a file not there). */
export function readOr<T>(read: () => T): T | undefined {
    try {
        return read();
    } catch {
        return undefined;
    }
}
