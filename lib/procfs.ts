// Thread counts and CPU time from /proc: the tutorial's `top -H` observations as numbers.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { CpuRole, CpuSnapshot, parseProcStatCpu } from "./load/cpu";

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
function inGroupOrBelow(table: ProcStat[], pgid: number): ProcStat[] {
    return processTree(table, table.filter((p) => p.pgrp === pgid).map((p) => p.pid));
}

let clockTicksPerSecond: number | undefined;

/** CLK_TCK: the unit of /proc's CPU times. */
function clockTicks(): number {
    clockTicksPerSecond ??= Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" })) || 100;
    return clockTicksPerSecond;
}

/**
 * CPU time of each role's processes and of the machine, now: a "group" probe
 * is a process group, a "marked" one the processes with its environment
 * marker, the driver the process tree under `driverPid`; a container's
 * processes are not read here (null).
 */
export function readCpuSnapshot(probes: Partial<Record<CpuRole, ThreadsProbe>>, driverPid?: number): CpuSnapshot {
    const table = processTable();
    const found: [CpuRole, ProcStat[] | null][] = [];
    for (const [role, probe] of Object.entries(probes) as [CpuRole, ThreadsProbe][]) {
        if (probe.kind === "group") found.push([role, inGroupOrBelow(table, probe.pgid)]);
        else if (probe.kind === "marked") found.push([role, table.filter((p) => hasMarker(p, probe))]);
        else if (probe.kind === "container") found.push([role, null]);
    }
    if (driverPid !== undefined) found.push(["driver", processTree(table, [driverPid])]);
    // The roles' processes are read again, close to the machine's line and the time: scanning every process
    // takes long enough, on a busy machine, to stamp figures read earlier with a later time.
    const tck = clockTicks();
    const from = performance.now();
    const roles: CpuSnapshot["roles"] = {};
    for (const [role, procs] of found) {
        roles[role] = procs && Object.fromEntries(procs.map((p) => {
            const now = readProcStat(p.pid);
            return [`${p.pid}:${p.startTime}`, (now?.startTime === p.startTime ? now : p).cpuTicks / tck];
        }));
    }
    const machine = parseProcStatCpu(fs.readFileSync("/proc/stat", "utf8"));
    return { at: (from + performance.now()) / 2000, machine, roles };
}

/**
 * Each process's value of an environment key, by key and pid + start time: a process's environment is read once.
 * Made at first use: a dynamic provider's closure is serialized, and a Map captured there arrives as a plain object.
 */
let markerCache: Map<string, string | null> | undefined;

/**
 * Whether `p` carries the probe's key=value: in its environment, or else, with `bundles`, in its container's
 * (a process may rewrite its own: nginx overwrites it with its process titles). Unreadable: no.
 */
function hasMarker(p: ProcStat, probe: { key: string; value: string; bundles?: string }): boolean {
    const id = `${probe.key}\0${p.pid}:${p.startTime}`;
    markerCache ??= new Map();
    if (!markerCache.has(id)) {
        let value = readOr(() => parseEnviron(fs.readFileSync(`/proc/${p.pid}/environ`, "utf8")).get(probe.key));
        if (value === undefined && probe.bundles) {
            const container = readOr(() => containerIdOf(fs.readFileSync(`/proc/${p.pid}/cgroup`, "utf8")));
            if (container) value = containerEnv(probe.bundles, container, probe.key);
        }
        markerCache.set(id, value ?? null);
    }
    return markerCache.get(id) === probe.value;
}

function readOr<T>(read: () => T): T | undefined {
    try {
        return read();
    } catch {
        return undefined;
    }
}

/** The container a process runs in, from its /proc/<pid>/cgroup: the 64-hex id that ends a path (cgroupfs or systemd). */
export function containerIdOf(cgroups: string): string | undefined {
    for (const line of cgroups.split("\n")) {
        const id = /(?:^|[/-])([0-9a-f]{64})(?:\.scope)?$/.exec(line.trim())?.[1];
        if (id) return id;
    }
    return undefined;
}

/** A variable of a container's environment as its runtime was given it: <bundles>/<id>/config.json's process.env (OCI). */
function containerEnv(bundles: string, container: string, key: string): string | undefined {
    const env: string[] = readOr(() => JSON.parse(fs.readFileSync(path.join(bundles, container, "config.json"), "utf8")).process?.env) ?? [];
    return parseEnviron(env.join("\0")).get(key);
}

/** How often a load's threads and CPU times are read. */
export const SAMPLE_MS = 250;

/** A load's samples so far: each role's CPU and the machine's, the most threads `threads` had at once, PostgreSQL's active queries. */
export interface Sampling {
    snapshots: CpuSnapshot[];
    threadsPeak(): number | null;
    /** PostgreSQL's active queries at each sample; empty without a readable postgres role. */
    activeQueries: number[];
    stop(): void;
}

/**
 * Reads the roles' CPU (the driver: the process tree under `driverPid`), the threads of `threads` and the
 * postgres role's active queries, now and every SAMPLE_MS until stop(); with no role and no driver, nothing.
 */
export function startSampling(roles: Partial<Record<CpuRole, ThreadsProbe>>, threads: ThreadsProbe, driverPid?: number): Sampling {
    const snapshots: CpuSnapshot[] = [];
    const activeQueries: number[] = [];
    let threadsPeak: number | null = null;
    const sample = () => {
        snapshots.push(readCpuSnapshot(roles, driverPid));
        const now = countThreads(threads);
        if (now !== null) threadsPeak = Math.max(threadsPeak ?? 0, now);
        const active = roles.postgres && countActiveQueries(roles.postgres);
        if (typeof active === "number") activeQueries.push(active);
    };
    const timer = Object.keys(roles).length > 0 || driverPid !== undefined ? (sample(), setInterval(sample, SAMPLE_MS)) : undefined;
    return { snapshots, threadsPeak: () => threadsPeak, activeQueries, stop: () => clearInterval(timer) };
}

/** The processes a probe names on this machine, live; null where they can't be read here (a container). */
function probeProcesses(probe: ThreadsProbe): ProcStat[] | null {
    switch (probe.kind) {
        case "none": return [];
        case "container": return null;
        case "group": return groupProcesses(probe.pgid);
        case "marked": return processTable().filter((p) => p.state !== "Z" && hasMarker(p, probe));
    }
}

/**
 * Whether a PostgreSQL process title names a backend running a statement: "postgres: <user> <database>
 * <host(port)> <activity>", where the activity is a command tag (SELECT, ...) while a statement runs and
 * lowercase otherwise (idle, idle in transaction, authentication). Server processes (checkpointer, ...) are not backends.
 */
export function isActiveBackend(title: string): boolean {
    const activity = /^postgres: \S+ \S+ \S+ (.*)$/.exec(title.replace(/\0/g, " ").trim())?.[1] ?? "";
    return /^[A-Z]/.test(activity);
}

/** Statements PostgreSQL's backends run now, from their process titles; null where its processes can't be read here. */
export function countActiveQueries(probe: ThreadsProbe): number | null {
    const procs = probeProcesses(probe);
    if (procs === null || procs.length === 0) return null;
    return procs.filter((p) => isActiveBackend(readOr(() => fs.readFileSync(`/proc/${p.pid}/cmdline`, "utf8")) ?? "")).length;
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

/** Listen-queue counters of a process's network namespace, cumulative. */
export interface ListenCounters {
    overflows: number;
    drops: number;
    /** Whose namespace: "this machine's", or "the app's own" (a pod's). */
    namespace: string;
}

/**
 * The listen-queue counters (ListenOverflows, ListenDrops) of the namespace the probe's first process runs in;
 * null where its processes can't be read here (a container) or none runs.
 */
export function readListenCounters(probe: ThreadsProbe): ListenCounters | null {
    const first = probeProcesses(probe)?.[0];
    if (!first) return null;
    const text = readOr(() => fs.readFileSync(`/proc/${first.pid}/net/netstat`, "utf8"));
    if (text === undefined) return null;
    const counters = parseNetstat(text);
    const own = readOr(() => fs.readlinkSync(`/proc/${first.pid}/ns/net`)) !== readOr(() => fs.readlinkSync("/proc/self/ns/net"));
    return {
        overflows: counters.get("TcpExt.ListenOverflows") ?? 0,
        drops: counters.get("TcpExt.ListenDrops") ?? 0,
        namespace: own ? "the app's own" : "this machine's",
    };
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

/**
 * Whose threads a load test counts: a local process group, a container's processes, the processes on this
 * machine whose environment has key=value (a pod's, whose node is this machine; `bundles`: the folder of the
 * containers' OCI bundles, for a process that rewrote its own environment), or nobody's.
 */
export type ThreadsProbe =
    | { kind: "none" } | { kind: "group"; pgid: number } | { kind: "container"; name: string }
    | { kind: "marked"; key: string; value: string; bundles?: string };

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
        case "marked": {
            const marked = processTable().filter((p) => p.state !== "Z" && hasMarker(p, probe));
            return marked.length ? marked.reduce((sum, p) => sum + p.threads, 0) : null;
        }
        case "container":
            return parseDockerTopThreads(execFileSync("docker", ["top", probe.name, "-eo", "pid,nlwp"], { encoding: "utf8" }));
    }
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

/** Wraps argv so it runs on the CPUs of a taskset -c list (sched_setaffinity, inherited by its children); no list: anywhere. */
export function withCpuAffinity(argv: string[], cpus: string | undefined): string[] {
    return cpus === undefined ? argv : ["taskset", "-c", cpus, ...argv];
}

/** Wraps argv so it runs with the open-files limit raised to the hard limit (high concurrency needs fds). */
export function withRaisedFileLimit(argv: string[]): string[] {
    return ["sh", "-c", 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', argv[0], ...argv];
}
