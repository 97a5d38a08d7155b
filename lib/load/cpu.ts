// CPU used by each role of a load run and by the machine, from /proc samples
// (lib/load/verdict.ts judges who ran out first). Pure.

export const CPU_ROLES = ["driver", "upstream", "app", "ingress", "postgres"] as const;
export type CpuRole = (typeof CPU_ROLES)[number];

/** Per role, the CPUs it is pinned to (taskset -c lists: "0", "0-1,3"); an absent role runs anywhere. */
export type CpuAffinity = Partial<Record<CpuRole, string>>;

/** The CPU time of every process of every role, and the machine's, at one instant. */
export interface CpuSnapshot {
    /** Seconds, on one clock for all of a load's snapshots: a monotonic one here, the nodes' epoch clocks in a cluster. */
    at: number;
    /** /proc/stat's aggregate line, in clock ticks. */
    machine: { busy: number; idle: number };
    /** CPU seconds (utime + stime) of each live process, keyed "pid:starttime"; null: the role can't be read (a container). */
    roles: Partial<Record<CpuRole, Record<string, number> | null>>;
}

export interface RoleCpu {
    /** Cores used on average over the run. */
    avgCores: number;
    /** Most cores used over any PEAK_WINDOW_SECONDS of the run (the whole run when shorter). */
    peakCores: number;
    /** The cores it may run on: its affinity set, or the machine's. */
    usableCores: number;
    /** Most cores one of its processes used over any peak window. */
    peakProcessCores: number;
    /**
     * Most cores one of its processes used over any BURST_WINDOW_SECONDS: a process busy in bursts shorter
     * than the peak window (one Python process serving a wave of clients that arrived together) shows here.
     */
    burstProcessCores: number;
    /** The most one of its processes can use (1: GIL-bound Python, single-threaded ab); null: as many as the role. */
    processCores: number | null;
}

export interface CpuUsage {
    /** The machine's cores. */
    cores: number;
    /** Seconds between the first and the last sample. */
    seconds: number;
    /** Per role; null where it ran but its processes can't be read. */
    roles: Partial<Record<CpuRole, RoleCpu | null>>;
    machine: {
        avgBusyCores: number;
        peakBusyCores: number;
        /** Least idle share of the machine over any peak window. */
        minIdle: number;
        /** Busy cores on average that no measured role used: this harness's own sampling, other programs on the machine. */
        othersAvgCores: number;
    };
}

/**
 * What a role may use: its pinned CPUs (unset: all), at most `cores` in all (a CPU quota: Kubernetes limits, summed over
 * its pods), and per process at most `processCores` (1 for GIL-bound or single-threaded programs).
 */
export interface RoleLimit {
    cpus?: string;
    cores?: number;
    processCores?: number;
}

export const PEAK_WINDOW_SECONDS = 1;
/** The shortest window CPU is judged over: two samples apart (lib/procfs.ts samples every 250 ms). */
export const BURST_WINDOW_SECONDS = 0.2;

const CPU_LIST = /^\d+(-\d+)?(,\d+(-\d+)?)*$/;

/** The CPUs a taskset -c list names, e.g. "0-1,3" -> [0, 1, 3]; throws on anything else. */
export function cpuList(text: string): number[] {
    if (!CPU_LIST.test(text)) throw new Error(`"${text}" is not a CPU list (e.g. 0, 0-1, 0,2)`);
    const cpus = new Set<number>();
    for (const part of text.split(",")) {
        const [from, to = from] = part.split("-").map(Number);
        if (to < from) throw new Error(`"${part}" is an empty CPU range`);
        for (let c = from; c <= to; c++) cpus.add(c);
    }
    return [...cpus].sort((a, b) => a - b);
}

/** Parses the cpuAffinity setting, "driver=0 upstream=1 app=1" (roles: CPU_ROLES); "" pins nothing. */
export function parseCpuAffinity(text: string): CpuAffinity {
    const affinity: CpuAffinity = {};
    for (const entry of text.trim().split(/\s+/).filter(Boolean)) {
        const [role, list, extra] = entry.split("=");
        if (!(CPU_ROLES as readonly string[]).includes(role) || list === undefined || extra !== undefined) {
            throw new Error(`"${entry}" is not role=cpus with a role among ${CPU_ROLES.join(", ")}`);
        }
        if (affinity[role as CpuRole] !== undefined) throw new Error(`${role} is pinned twice`);
        cpuList(list);
        affinity[role as CpuRole] = list;
    }
    return affinity;
}

/** The setting's text for an affinity, in role order: the inverse of parseCpuAffinity. */
export function formatCpuAffinity(affinity: CpuAffinity): string {
    return CPU_ROLES.filter((r) => affinity[r] !== undefined).map((r) => `${r}=${affinity[r]}`).join(" ");
}

/** Cores a role may use, on a machine with `cores` CPUs: its pinned ones there, or all; no more than its quota. */
export function usableCores(limit: RoleLimit, cores: number): number {
    const cpus = limit.cpus === undefined ? cores : cpuList(limit.cpus).filter((c) => c < cores).length;
    return Math.min(cpus, limit.cores ?? Infinity);
}

/** The snapshots spanning [from, to] on their clock: the last at or before `from` through the first at or after `to`. */
export function snapshotsSpanning(snapshots: CpuSnapshot[], from: number, to: number): CpuSnapshot[] {
    let first = 0;
    while (first + 1 < snapshots.length && snapshots[first + 1].at <= from) first++;
    const after = snapshots.findIndex((s) => s.at >= to);
    return snapshots.slice(first, after < 0 ? snapshots.length : after + 1);
}

/**
 * The snapshots with every role that had no process in any of them made unreadable (null): its processes run
 * where this machine can't see them (another node), which is not the same as using no CPU.
 */
export function unseenUnreadable(snapshots: CpuSnapshot[]): CpuSnapshot[] {
    const roles = new Set(snapshots.flatMap((s) => Object.keys(s.roles) as CpuRole[]));
    const unseen = [...roles].filter((role) => snapshots.every((s) => Object.keys(s.roles[role] ?? {}).length === 0));
    return snapshots.map((s) => ({ ...s, roles: { ...s.roles, ...Object.fromEntries(unseen.map((role) => [role, null])) } }));
}

/**
 * Cumulative CPU seconds used since the first snapshot, at each snapshot, per
 * process of one role. A process first seen after the first snapshot started
 * since, so all its time counts; one that exited keeps what it used.
 */
function perProcess(snapshots: CpuSnapshot[], role: CpuRole): number[][] {
    const start = snapshots[0].roles[role] ?? {};
    const seen = new Map<string, (number | undefined)[]>();
    snapshots.forEach((snapshot, i) => {
        for (const [proc, seconds] of Object.entries(snapshot.roles[role] ?? {})) {
            if (!seen.has(proc)) seen.set(proc, new Array(snapshots.length));
            seen.get(proc)![i] = seconds - (start[proc] ?? 0);
        }
    });
    // 0 before a process is first seen, its last figure after it is gone.
    return [...seen.values()].map((used) => {
        let carried = 0;
        return Array.from(used, (v) => (carried = v ?? carried));
    });
}

/** Pairs of snapshot indexes spanning at least `seconds` each (the whole run when it is shorter). */
function windows(snapshots: CpuSnapshot[], seconds: number): [number, number][] {
    const found: [number, number][] = [];
    for (let i = 0, j = 1; i < snapshots.length; i++) {
        j = Math.max(j, i + 1);
        while (j < snapshots.length && snapshots[j].at - snapshots[i].at < seconds) j++;
        if (j < snapshots.length) found.push([i, j]);
    }
    return found.length ? found : [[0, snapshots.length - 1]];
}

const r3 = (v: number) => Math.round(v * 1000) / 1000;

/** CPU per role and for the machine over a run; null with fewer than two samples. */
export function summarizeCpu(snapshots: CpuSnapshot[], cores: number, limits: Partial<Record<CpuRole, RoleLimit>>): CpuUsage | null {
    if (snapshots.length < 2) return null;
    const first = snapshots[0];
    const last = snapshots[snapshots.length - 1];
    const seconds = last.at - first.at;
    if (seconds <= 0) return null;
    const rate = (series: number[], [i, j]: [number, number]) => (series[j] - series[i]) / (snapshots[j].at - snapshots[i].at);
    const spans = windows(snapshots, PEAK_WINDOW_SECONDS);
    const peak = (series: number[]) => Math.max(...spans.map((span) => rate(series, span)));
    const bursts = windows(snapshots, BURST_WINDOW_SECONDS);
    const burst = (series: number[]) => Math.max(...bursts.map((span) => rate(series, span)));

    const roles: CpuUsage["roles"] = {};
    for (const role of CPU_ROLES) {
        if (!(role in first.roles)) continue;
        if (snapshots.some((s) => s.roles[role] === null)) {
            roles[role] = null;
            continue;
        }
        const processes = perProcess(snapshots, role);
        const total = snapshots.map((_, k) => processes.reduce((sum, used) => sum + used[k], 0));
        const limit = limits[role] ?? {};
        const usable = usableCores(limit, cores);
        roles[role] = {
            avgCores: r3(total[total.length - 1] / seconds),
            peakCores: r3(peak(total)),
            usableCores: usable,
            peakProcessCores: r3(Math.max(0, ...processes.map(peak))),
            burstProcessCores: r3(Math.max(0, ...processes.map(burst))),
            processCores: limit.processCores === undefined ? null : Math.min(limit.processCores, usable),
        };
    }

    const busyShare = (i: number, j: number) => {
        const busy = snapshots[j].machine.busy - snapshots[i].machine.busy;
        const idle = snapshots[j].machine.idle - snapshots[i].machine.idle;
        return busy + idle > 0 ? busy / (busy + idle) : 0;
    };
    const peakShare = Math.max(...spans.map(([i, j]) => busyShare(i, j)));
    const avgBusyCores = cores * busyShare(0, snapshots.length - 1);
    const rolesAvgCores = Object.values(roles).reduce((sum, r) => sum + (r?.avgCores ?? 0), 0);
    return {
        cores,
        seconds: r3(seconds),
        roles,
        machine: {
            avgBusyCores: r3(avgBusyCores),
            peakBusyCores: r3(cores * peakShare),
            minIdle: r3(1 - peakShare),
            othersAvgCores: r3(Math.max(0, avgBusyCores - rolesAvgCores)),
        },
    };
}

/** The aggregate "cpu" line of /proc/stat as busy and idle ticks (idle includes iowait; guest time is already in user). */
export function parseProcStatCpu(text: string): { busy: number; idle: number } {
    const line = text.split("\n").find((l) => /^cpu\s/.test(l));
    if (!line) throw new Error("/proc/stat: no aggregate cpu line");
    const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1, 9).map((v) => Number(v) || 0);
    return { busy: user + nice + system + irq + softirq + steal, idle: idle + iowait };
}
