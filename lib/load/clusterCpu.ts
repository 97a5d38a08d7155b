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
    /** The node's cores. */
    cores: number;
    /** /proc/stat's aggregate line, in clock ticks. */
    machine: { busy: number; idle: number };
    /** Per container id: the CPU seconds of each of its live processes, keyed pid:starttime. */
    containers: Record<string, Record<string, number>>;
    /** Per container id: its processes' threads. */
    threads: Record<string, number>;
}

/**
 * The sampler's command: python3 (the base image's) reading the host's /proc (the pod has the host's PIDs), or
 * `proc`. A process's container is the id CONTAINER_ID_IN_CGROUP finds in its /proc/<pid>/cgroup, read once per
 * process; processes outside containers are left out. Busy and idle as parseProcStatCpu; each sample's time is
 * the middle of its scan.
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

def container(pid, key):
    if key not in container_of:
        found = None
        try:
            with open("%s/%s/cgroup" % (proc, pid)) as f:
                for line in f:
                    m = CONTAINER.search(line.strip())
                    if m:
                        found = m.group(1)
                        break
        except OSError:
            return None
        container_of[key] = found
    return container_of[key]

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
    with open("%s/stat" % proc) as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    v += [0] * (8 - len(v))
    machine = {"busy": v[0] + v[1] + v[2] + v[5] + v[6] + v[7], "idle": v[3] + v[4]}
    print(json.dumps({"fgl": cfg["format"], "node": node, "at": (started + time.time()) / 2, "cores": os.cpu_count(), "machine": machine,
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
    /** All nodes' cores. */
    cores: number;
}

/**
 * One snapshot per sample of the node that sampled last to start, with every other node's latest sample at or before
 * it: the machine's ticks and cores are the nodes' sums, each role's processes those of its containers on every node
 * (keyed node/pid:starttime). Every role in `roles` is in each snapshot, {} where none of its processes was seen.
 */
export function clusterCpu(nodes: NodeSample[][], roles: Map<string, CpuRole>): ClusterCpu {
    const series = nodes.filter((s) => s.length > 0);
    if (!series.length) return { snapshots: [], appThreads: [], cores: 0 };
    const lead = series.reduce((a, b) => (b[0].at > a[0].at ? b : a));
    const cursor = series.map(() => 0);
    const present = [...new Set(roles.values())];
    const snapshots: CpuSnapshot[] = [];
    const appThreads: number[] = [];
    for (const { at } of lead) {
        const samples = series.map((s, i) => {
            while (cursor[i] + 1 < s.length && s[cursor[i] + 1].at <= at) cursor[i]++;
            return s[cursor[i]];
        });
        const snapshot: CpuSnapshot = { at, machine: { busy: 0, idle: 0 }, roles: Object.fromEntries(present.map((r) => [r, {}])) };
        let threads = 0;
        for (const sample of samples) {
            snapshot.machine.busy += sample.machine.busy;
            snapshot.machine.idle += sample.machine.idle;
            for (const [id, processes] of Object.entries(sample.containers)) {
                const role = roles.get(id);
                if (!role) continue;
                for (const [key, seconds] of Object.entries(processes)) snapshot.roles[role]![`${sample.node}/${key}`] = seconds;
                if (role === "app") threads += sample.threads[id] ?? 0;
            }
        }
        snapshots.push(snapshot);
        appThreads.push(threads);
    }
    return { snapshots, appThreads, cores: series.reduce((sum, s) => sum + s[0].cores, 0) };
}
