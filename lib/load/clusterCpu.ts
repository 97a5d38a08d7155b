// CPU per role on any cluster: a sampler on every node (a DaemonSet that sees the host's processes) prints each
// container's processes' CPU times and the node's, every SAMPLE_MS; the load resource maps the containers to roles
// by their pods' marker and reads the samples as the local sampler's snapshots (lib/load/cpu.ts). Pure: the script
// runs in the pods.
import { CONTAINER_ID_IN_CGROUP } from "../containers";
import { CPU_ROLES, CpuRole, CpuSnapshot, CpuUsage } from "./cpu";
import { CpuSamplerNote } from "./result";

export const CPU_SAMPLE_FORMAT = "fgl-cpu-sampler/1";

/** One line a node's sampler printed. */
export interface NodeSample {
    node: string;
    /** Epoch seconds on the node's clock. */
    at: number;
    /** The machine's boot_id: nodes sharing a machine (their own network namespaces, its PIDs and /proc/stat) share it. */
    host?: string | null;
    /** The CPUs the node's pods may run on (its sampler's affinity), whose ticks `machine` sums; null: every CPU's. */
    cpus?: number[] | null;
    /** The node's cores: as many as `cpus` (null: the machine's). */
    cores: number;
    /** /proc/stat's lines of `cpus` (null: its aggregate line), in clock ticks. */
    machine: { busy: number; idle: number };
    /** Per container id: the CPU seconds of each of its live processes, keyed pid:starttime. */
    containers: Record<string, Record<string, number>>;
    /** Per container id: its processes' threads. */
    threads: Record<string, number>;
}

/**
 * The sampler's command: python3 (the base image's) reading the host's /proc (the pod has the host's PIDs), or
 * `proc`. A process's container is the id CONTAINER_ID_IN_CGROUP finds in its /proc/<pid>/cgroup, read once per
 * process; processes outside containers are left out, and so are those of other nodes sharing the machine's PIDs
 * (their cgroup path's part before "/kubepods" differs from the sampler's own). Busy and idle as parseProcStatCpu,
 * over the lines of the CPUs the sampler may run on (the node's); each sample's time is the middle of its scan.
 */
export function cpuSamplerArgv(sampleMs: number, proc = "/proc"): string[] {
    const config = { format: CPU_SAMPLE_FORMAT, seconds: sampleMs / 1000, proc, container: CONTAINER_ID_IN_CGROUP.source };
    return ["python3", "-c", SAMPLER_SCRIPT, JSON.stringify(config)];
}

const SAMPLER_SCRIPT = String.raw`
import json, os, re, sys, time

cfg = json.loads(sys.argv[1])
node = os.environ.get("NODE_NAME") or os.uname().nodename
tck = os.sysconf("SC_CLK_TCK")
proc = cfg["proc"]
container_of = {}
CONTAINER = re.compile(cfg["container"])

# The container id in a process's cgroup, and that path's part before the kubelet's root: "" for a node's own, e.g.
# "/fgl-node-2" for one beside it on the same machine, None where there is none.
def cgroup_of(pid):
    with open("%s/%s/cgroup" % (proc, pid)) as f:
        for line in f:
            line = line.strip()
            m = CONTAINER.search(line)
            if m:
                path = line.split(":", 2)[-1]
                at = path.find("/kubepods")
                return m.group(1), (path[:at] if at >= 0 else None)
    return None, None

# Nodes sharing this machine's PIDs each run their pods under a root of their own: the sampler counts its node's only.
# Where its own path shows no kubelet's root (a cgroup namespace), it can't tell them apart, and counts every one.
try:
    own_root = cgroup_of(os.getpid())[1]
except OSError:
    own_root = None

def container(pid, key):
    if key not in container_of:
        try:
            cid, root = cgroup_of(pid)
        except OSError:
            return None
        container_of[key] = cid if own_root is None or root == own_root else None
    return container_of[key]

try:
    with open("%s/sys/kernel/random/boot_id" % proc) as f:
        host = f.read().strip() or None
except OSError:
    host = None
# The node's CPUs (a node pinned to some of the machine's has them as its pods' affinity).
cpus = sorted(os.sched_getaffinity(0))

# The node's CPUs' lines, and which CPUs they are; the aggregate line (None) where /proc/stat lacks one of them.
def machine_ticks():
    with open("%s/stat" % proc) as f:
        lines = dict((l[0], l[1:9]) for l in (line.split() for line in f) if l and l[0].startswith("cpu"))
    names = ["cpu%d" % c for c in cpus]
    counted = cpus if all(n in lines for n in names) else None
    busy = idle = 0
    for name in names if counted else ["cpu"]:
        v = [int(x) for x in lines[name]]
        v += [0] * (8 - len(v))
        busy += v[0] + v[1] + v[2] + v[5] + v[6] + v[7]
        idle += v[3] + v[4]
    return {"busy": busy, "idle": idle}, counted

def sample():
    started = time.time()
    containers, threads, seen = {}, {}, set()
    for pid in os.listdir(proc):
        if not pid.isdigit():
            continue
        try:
            with open("%s/%s/stat" % (proc, pid)) as f:
                text = f.read()
        except OSError:
            continue
        rest = text[text.rindex(")") + 2:].split()
        if rest[0] == "Z":
            continue
        key = "%s:%s" % (pid, rest[19])
        seen.add(key)
        cid = container(pid, key)
        if cid is None:
            continue
        containers.setdefault(cid, {})[key] = (int(rest[11]) + int(rest[12])) / tck
        threads[cid] = threads.get(cid, 0) + int(rest[17])
    # Forget the processes that ended: a server forking one per connection (PostgreSQL) would grow it without end.
    for gone in container_of.keys() - seen:
        del container_of[gone]
    machine, counted = machine_ticks()
    print(json.dumps({"fgl": cfg["format"], "node": node, "at": (started + time.time()) / 2, "host": host, "cpus": counted,
                      "cores": len(counted) if counted else os.cpu_count(), "machine": machine,
                      "containers": containers, "threads": threads}, separators=(",", ":")), flush=True)

next_at = time.monotonic()
while True:
    sample()
    next_at += cfg["seconds"]
    time.sleep(max(0, next_at - time.monotonic()))
`;

/** A sampler's log: its sample lines (others, and a line cut off by the pod's stop, are skipped). */
export function parseSamplerLog(log: string): NodeSample[] {
    const samples: NodeSample[] = [];
    for (const line of log.split("\n")) {
        if (!line.startsWith("{")) continue;
        let parsed: { fgl?: string } & NodeSample;
        try {
            parsed = JSON.parse(line);
        } catch {
            continue;
        }
        if (parsed.fgl !== CPU_SAMPLE_FORMAT) continue;
        const { fgl: _, ...sample } = parsed;
        samples.push(sample);
    }
    return samples;
}

/** What a pod says of its containers: the marker in their spec's environment, the ids in their status. */
export interface PodContainers {
    spec: { containers: { name: string; env?: { name: string; value?: string }[] }[] };
    status?: {
        containerStatuses?: { name: string; containerID?: string; lastState?: { terminated?: { containerID?: string } } }[];
    };
}

/**
 * Each container id of `pods` whose container carries `markerKey`=<namespace>/<role>: its role. A container that
 * restarted keeps its role under its last id too.
 */
export function containerRoles(pods: PodContainers[], markerKey: string, namespace: string): Map<string, CpuRole> {
    const roles = new Map<string, CpuRole>();
    for (const pod of pods) {
        for (const container of pod.spec.containers) {
            const marker = container.env?.find((e) => e.name === markerKey)?.value ?? "";
            const role = marker.startsWith(`${namespace}/`) ? marker.slice(namespace.length + 1) : "";
            if (!(CPU_ROLES as readonly string[]).includes(role)) continue;
            const status = pod.status?.containerStatuses?.find((s) => s.name === container.name);
            for (const id of [status?.containerID, status?.lastState?.terminated?.containerID]) {
                // "<runtime>://<id>" (containerd, cri-o, docker)
                if (id) roles.set(id.replace(/^[^:]+:\/\//, ""), role as CpuRole);
            }
        }
    }
    return roles;
}

/**
 * Who read a cluster load's CPU: its sampler's `samples` (or why there are none: null where it was not asked for),
 * else this machine's /proc where `localSampled`; with both, the local figures (`localCpu`) beside.
 */
export function samplerNote(samples: ClusterCpu | { reason: string } | null, localSampled: boolean, localCpu: CpuUsage | null): CpuSamplerNote {
    if (!samples || "reason" in samples) return { source: localSampled ? "local" : null, reason: samples?.reason ?? "kubeCpuSampler is local" };
    if (!localSampled) return { source: "cluster" };
    return { source: "cluster", localAvgCores: Object.fromEntries(Object.entries(localCpu?.roles ?? {}).map(([role, cpu]) => [role, cpu ? cpu.avgCores : null])) };
}

/** The samples of every node as one series of snapshots, on the epoch clock, and the app's threads at each. */
export interface ClusterCpu {
    snapshots: CpuSnapshot[];
    /** The app role's threads at each snapshot. */
    appThreads: number[];
    /** All machines' cores: a machine's CPUs several nodes share, once. */
    cores: number;
    /** Per role, the cores of the nodes its containers ran on (each machine's CPUs once): the most it could use. */
    roleCores: Partial<Record<CpuRole, number>>;
}

/**
 * One snapshot per sample of the node that sampled last to start, with every other node's latest sample at or before
 * it: the machine's ticks and cores are the sums over the distinct CPUs sampled, each role's processes those of its
 * containers on every node (keyed node/pid:starttime). Nodes on one machine (the same host) that share its CPUs count
 * them once, by the first such node's samples; nodes pinned to CPUs of their own, or on machines of their own, add up;
 * a sample that names no host counts as a machine of its own. Every role in `roles` is in each snapshot, {} where none
 * of its processes was seen; a role's cores are those of the nodes it ran on (a node pinned to one CPU gives its app one).
 */
export function clusterCpu(nodes: NodeSample[][], roles: Map<string, CpuRole>): ClusterCpu {
    const series = nodes.filter((s) => s.length > 0);
    if (!series.length) return { snapshots: [], appThreads: [], cores: 0, roleCores: {} };
    const lead = series.reduce((a, b) => (b[0].at > a[0].at ? b : a));
    const cursor = series.map(() => 0);
    const present = [...new Set(roles.values())];
    // The series whose machine ticks count: the first of each host's set of CPUs.
    const machines = series.map((s, i) => (s[0].host ? `${s[0].host} ${JSON.stringify(s[0].cpus ?? null)}` : `series ${i}`));
    const counted = machines.map((m, i) => machines.indexOf(m) === i);
    // Per role, the machines (as above) its containers were seen on.
    const machinesOf = new Map<CpuRole, Map<string, number>>();
    const snapshots: CpuSnapshot[] = [];
    const appThreads: number[] = [];
    for (const { at } of lead) {
        const samples = series.map((s, i) => {
            while (cursor[i] + 1 < s.length && s[cursor[i] + 1].at <= at) cursor[i]++;
            return s[cursor[i]];
        });
        const snapshot: CpuSnapshot = { at, machine: { busy: 0, idle: 0 }, roles: Object.fromEntries(present.map((r) => [r, {}])) };
        let threads = 0;
        for (const [i, sample] of samples.entries()) {
            if (counted[i]) {
                snapshot.machine.busy += sample.machine.busy;
                snapshot.machine.idle += sample.machine.idle;
            }
            for (const [id, processes] of Object.entries(sample.containers)) {
                const role = roles.get(id);
                if (!role) continue;
                if (!machinesOf.has(role)) machinesOf.set(role, new Map());
                machinesOf.get(role)!.set(machines[i], sample.cores);
                for (const [key, seconds] of Object.entries(processes)) snapshot.roles[role]![`${sample.node}/${key}`] = seconds;
                if (role === "app") threads += sample.threads[id] ?? 0;
            }
        }
        snapshots.push(snapshot);
        appThreads.push(threads);
    }
    const roleCores = Object.fromEntries([...machinesOf].map(([role, on]) => [role, [...on.values()].reduce((a, b) => a + b, 0)]));
    return { snapshots, appThreads, cores: series.reduce((sum, s, i) => sum + (counted[i] ? s[0].cores : 0), 0), roleCores };
}
