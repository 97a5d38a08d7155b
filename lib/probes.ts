// A probe names a role's processes (a process group, a container, the processes of a marker); what
// a load reads of them now: threads, CPU time, PostgreSQL's active queries, the listen queue's counters.
import * as fs from "fs";
import { containerEnv, containerIdOf, dockerTopThreads } from "./containers";
import { CpuRole, CpuSnapshot, parseProcStatCpu } from "./load/cpu";
import { clockTicks, groupProcesses, inGroupOrBelow, parseEnviron, parseNetstat, processTable, processTree, ProcStat, readOr, readProcStat, threadsInGroup } from "./procfs";

/**
 * Whose processes a load reads (threads, CPU, queries, listen queue): a local process group, a container's processes, the processes on this
 * machine whose environment has key=value (a pod's, whose node is this machine; `bundles`: the folder of the
 * containers' OCI bundles, for a process that rewrote its own environment), or nobody's.
 */
export type ProcessProbe =
    | { kind: "none" } | { kind: "group"; pgid: number } | { kind: "container"; name: string }
    | { kind: "marked"; key: string; value: string; bundles?: string };

/** Threads of whatever `probe` names, now; null when it names nobody. */
export function countThreads(probe: ProcessProbe): number | null {
    switch (probe.kind) {
        case "none": return null;
        case "group": return threadsInGroup(probe.pgid);
        case "marked": {
            const marked = processTable().filter((p) => p.state !== "Z" && hasMarker(p, probe));
            return marked.length ? marked.reduce((sum, p) => sum + p.threads, 0) : null;
        }
        case "container":
            return dockerTopThreads(probe.name);
    }
}

/**
 * CPU time of each role's processes and of the machine, now: a "group" probe
 * is a process group, a "marked" one the processes with its environment
 * marker, the driver the process tree under `driverPid`; a container's
 * processes are not read here (null).
 */
export function readCpuSnapshot(probes: Partial<Record<CpuRole, ProcessProbe>>, driverPid?: number): CpuSnapshot {
    const table = processTable();
    const found: [CpuRole, ProcStat[] | null][] = [];
    for (const [role, probe] of Object.entries(probes) as [CpuRole, ProcessProbe][]) {
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

/** The processes a probe names on this machine, live; null where they can't be read here (a container). */
function probeProcesses(probe: ProcessProbe): ProcStat[] | null {
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
export function countActiveQueries(probe: ProcessProbe): number | null {
    const procs = probeProcesses(probe);
    if (procs === null || procs.length === 0) return null;
    return procs.filter((p) => isActiveBackend(readOr(() => fs.readFileSync(`/proc/${p.pid}/cmdline`, "utf8")) ?? "")).length;
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
export function readListenCounters(probe: ProcessProbe): ListenCounters | null {
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

