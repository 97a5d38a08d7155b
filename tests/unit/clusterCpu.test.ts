import { strict as assert } from "assert";
import { execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { cpuSamplerManifest } from "../../lib/kubernetes";
import { clusterCpu, ClusterCpu, cpuSamplerArgv, containerRoles, NodeSample, parseSamplerLog, PodContainers, samplerNote } from "../../lib/load/clusterCpu";
import { CpuUsage, summarizeCpu } from "../../lib/load/cpu";
import { clockTicks } from "../../lib/procfs";

/**
 * The sampler's lines over `ms`, run on `proc` (this machine's /proc, or a made one); `before` is given its pid before
 * it starts (a shell waits for a line, then execs it as the same process).
 */
async function runSampler(ms: number, proc?: string, before?: (pid: number) => void): Promise<NodeSample[]> {
    const [cmd, ...args] = cpuSamplerArgv(100, proc);
    const child = spawn("sh", ["-c", 'read go && exec "$@"', "sh", cmd, ...args], { env: { ...process.env, NODE_NAME: "node-a" } });
    before?.(child.pid!);
    child.stdin.end("\n");
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    let err = "";
    child.stderr.on("data", (d) => (err += d));
    await new Promise((r) => setTimeout(r, ms));
    child.kill();
    await new Promise((r) => child.on("close", r));
    assert.equal(err, "");
    return parseSamplerLog(out);
}

const id = (c: string) => c.repeat(64);

/** The CPUs this process (and the sampler it starts) may run on. */
const affinity = (): number[] => JSON.parse(execFileSync("python3", ["-c", "import os; print(sorted(os.sched_getaffinity(0)))"], { encoding: "utf8" }));

/** A made /proc in a new folder, and how to write its files. */
function fakeProc(): { proc: string; write: (file: string, text: string) => void } {
    const proc = fs.mkdtempSync(path.join(os.tmpdir(), "proc-"));
    const write = (file: string, text: string) => {
        fs.mkdirSync(path.dirname(path.join(proc, file)), { recursive: true });
        fs.writeFileSync(path.join(proc, file), text);
    };
    return { proc, write };
}

// pid, name (spaces and parentheses in it), state, then fields 4-13, utime, stime, 16-19, threads, 21, starttime.
const stat = (pid: number, state: string, utime: number, stime: number, threads: number, start: number) =>
    `${pid} (uwsgi (w) 1) ${state} 1 ${pid} ${pid} 0 -1 4194560 100 0 0 0 ${utime} ${stime} 0 0 20 0 ${threads} 0 ${start} 1000 10 0\n`;

/** 11 samples of a node, 0.25 s apart from `start`, its machine's ticks half busy on each of its `cores`. */
const nodeSamples = (node: string, start: number, cores: number, more: Partial<NodeSample> = {}) =>
    Array.from({ length: 11 }, (_, i): NodeSample => {
        const t = start + i * 0.25;
        return { node, at: 1000 + t, cores, machine: { busy: 50 * cores * t, idle: 50 * cores * t }, containers: {}, threads: {}, ...more };
    });

/** A pod whose one container carries `marker` and runs as container id `cid` of `runtime`. */
function pod(marker: string | undefined, cid: string, lastCid?: string, runtime = "containerd"): PodContainers {
    return {
        spec: { containers: [{ name: "c", env: marker ? [{ name: "FGL_ROLE", value: marker }] : [] }] },
        status: { containerStatuses: [{ name: "c", containerID: `${runtime}://${cid}`, ...(lastCid ? { lastState: { terminated: { containerID: `${runtime}://${lastCid}` } } } : {}) }] },
    };
}

describe("CPU per role on any cluster (lib/load/clusterCpu.ts)", () => {
    it("the sampler's script samples this machine's /proc every period, one JSON line each, until it is stopped", async function () {
        this.timeout(20_000);
        const samples = await runSampler(1500);
        // 1.5 s at 0.1 s: far more than a few, however slow python3's start.
        assert.ok(samples.length >= 4, `${samples.length} samples`);
        const cpus = affinity();
        const host = fs.readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
        for (const s of samples) assert.deepEqual([s.node, s.host, s.cpus, s.cores], ["node-a", host, cpus, cpus.length]);
        for (let i = 1; i < samples.length; i++) {
            const [a, b] = [samples[i - 1], samples[i]];
            assert.ok(b.at > a.at, "later samples, later times");
            // The machine's clock ticks on: busy + idle grows by about the cores x the period (100 ticks a second).
            assert.ok(b.machine.busy + b.machine.idle > a.machine.busy + a.machine.idle, "the machine's ticks grow");
        }
    });

    it("finds each container's processes by their cgroup, with their CPU seconds and threads, and the machine's ticks", async function () {
        this.timeout(20_000);
        // No line per CPU, no boot_id, no cgroup of the sampler's own: the aggregate line, no host, every container.
        const { proc, write } = fakeProc();
        write("stat", "cpu  100 5 20 800 30 1 2 3 0 0\n");
        write("123/stat", stat(123, "S", 250, 50, 7, 5000));
        write("123/cgroup", `0::/kubepods/besteffort/pod1/cri-containerd-${id("a")}.scope\n`);
        write("124/stat", stat(124, "R", 10, 10, 2, 6000));
        write("124/cgroup", `0::/kubepods/pod2/${id("b")}\n`);
        write("125/stat", stat(125, "Z", 10, 10, 1, 7000));
        write("125/cgroup", `0::/kubepods/pod2/${id("b")}\n`);
        write("126/stat", stat(126, "S", 90, 10, 1, 8000));
        write("126/cgroup", "0::/user.slice/session-1.scope\n");
        const [first] = await runSampler(400, proc);
        const tck = clockTicks();
        // Zombies and processes outside containers are left out.
        assert.deepEqual(first.containers, { [id("a")]: { "123:5000": 300 / tck }, [id("b")]: { "124:6000": 20 / tck } });
        assert.deepEqual(first.threads, { [id("a")]: 7, [id("b")]: 2 });
        // busy: user + nice + system + irq + softirq + steal; idle: idle + iowait.
        assert.deepEqual(first.machine, { busy: 100 + 5 + 20 + 1 + 2 + 3, idle: 800 + 30 });
        assert.deepEqual([first.host, first.cpus], [null, null]);
    });

    it("on a node beside others on one machine: only its own node's containers, its CPUs' ticks, and the machine's boot_id", async function () {
        this.timeout(20_000);
        const { proc, write } = fakeProc();
        const cpus = affinity();
        // Each CPU's ticks its own, and one CPU beyond the sampler's and the aggregate line far off: the sums say which were read.
        const cpuLines = [...cpus, Math.max(...cpus) + 1].map((n) => `cpu${n} ${100 + n} 0 ${n} ${10_000 + n} 1 0 0 0 0 0\n`);
        write("stat", `cpu  9000000 0 0 9000000 0 0 0 0 0 0\n${cpuLines.join("")}intr 1 2 3\n`);
        write("sys/kernel/random/boot_id", "2f1e0c3a-0000-4000-8000-000000000001\n");
        // Node 2's pods under its own root, node 1's under the kubelet's default, a container of no kubelet's; their pids
        // beyond any real one (pid_max is at most 2^22), so none is the sampler's.
        write("9000200/stat", stat(9000200, "S", 30, 10, 3, 5000));
        write("9000200/cgroup", `12:pids:/fgl-node-2/kubepods/besteffort/pod3/${id("c")}\n4:cpu,cpuacct:/fgl-node-2/kubepods/besteffort/pod3/${id("c")}\n`);
        write("9000201/stat", stat(9000201, "S", 40, 10, 2, 6000));
        write("9000201/cgroup", `12:pids:/kubepods/burstable/pod4/${id("d")}\n4:cpu,cpuacct:/kubepods/burstable/pod4/${id("d")}\n`);
        write("9000202/stat", stat(9000202, "S", 50, 10, 1, 7000));
        write("9000202/cgroup", `4:cpu,cpuacct:/docker/${id("e")}\n`);
        const [first] = await runSampler(400, proc, (pid) =>
            write(`${pid}/cgroup`, `12:pids:/fgl-node-2/kubepods/besteffort/pod9/${id("9")}\n4:cpu,cpuacct:/fgl-node-2/kubepods/besteffort/pod9/${id("9")}\n`));
        assert.deepEqual(first.containers, { [id("c")]: { "9000200:5000": 40 / clockTicks() } });
        assert.deepEqual(first.threads, { [id("c")]: 3 });
        const sum = (f: (n: number) => number) => cpus.reduce((total, n) => total + f(n), 0);
        assert.deepEqual(first.machine, { busy: sum((n) => 100 + 2 * n), idle: sum((n) => 10_001 + n) });
        assert.deepEqual([first.host, first.cpus, first.cores], ["2f1e0c3a-0000-4000-8000-000000000001", cpus, cpus.length]);
    });

    it("reads a sampler's log, skipping other lines and one cut off by the pod's stop", () => {
        const sample: NodeSample = { node: "n", at: 1, cores: 2, machine: { busy: 1, idle: 2 }, containers: {}, threads: {} };
        const log = ["something else", JSON.stringify({ fgl: "fgl-cpu-sampler/1", ...sample }), JSON.stringify({ fgl: "other/1", ...sample }),
            JSON.stringify({ fgl: "fgl-cpu-sampler/1", ...sample, at: 2 }), '{"fgl":"fgl-cpu-sampler/1","node":"n","at":3,"cor'].join("\n");
        assert.deepEqual(parseSamplerLog(log).map((s) => s.at), [1, 2]);
    });

    it("maps each container id to the role its pod's marker names in the stack's namespace, a restarted one's last id too", () => {
        const roles = containerRoles([
            pod("ns/app", id("a"), id("b")), pod("ns/driver", id("c"), undefined, "cri-o"), pod("other/app", id("d")), pod("ns/nobody", id("e")), pod(undefined, id("f")),
            { spec: { containers: [{ name: "c", env: [{ name: "FGL_ROLE", value: "ns/upstream" }] }] } },
        ], "FGL_ROLE", "ns");
        assert.deepEqual([...roles.entries()].sort(), [[id("a"), "app"], [id("b"), "app"], [id("c"), "driver"]]);
    });

    it("merges the nodes' samples: each role's CPU over every node, the machine's as the nodes' sum, the app's threads", () => {
        // Node a: the app burns 1 core; node b, started 0.1 s later: the driver 0.5 core, and a container of no role 1 core.
        const node = (name: string, start: number, containers: (t: number) => NodeSample["containers"], threads: NodeSample["threads"]) =>
            Array.from({ length: 11 }, (_, i): NodeSample => {
                const t = start + i * 0.25;
                return { node: name, at: 1000 + t, cores: 2, machine: { busy: 100 * t, idle: 100 * t }, containers: containers(t), threads };
            });
        const a = node("a", 0, (t) => ({ [id("a")]: { "7:1": t } }), { [id("a")]: 12 });
        const b = node("b", 0.1, (t): NodeSample["containers"] => ({ [id("b")]: { "7:1": 0.5 * t }, [id("f")]: { "9:1": t } }), { [id("b")]: 1 });
        const roles = new Map([[id("a"), "app" as const], [id("b"), "driver" as const], [id("c"), "upstream" as const]]);
        const merged = clusterCpu([a, b, []], roles);
        assert.equal(merged.cores, 4);
        // On the clock of the node that started last, and never before its first sample.
        assert.deepEqual(merged.snapshots.map((s) => s.at), b.map((s) => s.at));
        // The same pid on two nodes is two processes.
        assert.deepEqual(Object.keys(merged.snapshots[3].roles.app!), ["a/7:1"]);
        assert.deepEqual(Object.keys(merged.snapshots[3].roles.driver!), ["b/7:1"]);
        // A role none of whose processes was seen is there, empty.
        assert.deepEqual(merged.snapshots[3].roles.upstream, {});
        assert.deepEqual(new Set(merged.appThreads), new Set([12]));
        const usage = summarizeCpu(merged.snapshots, merged.cores, {})!;
        assert.ok(Math.abs(usage.roles.app!.avgCores - 1) < 0.15, `app ${usage.roles.app!.avgCores} cores`);
        assert.ok(Math.abs(usage.roles.driver!.avgCores - 0.5) < 0.01, `driver ${usage.roles.driver!.avgCores} cores`);
        // Each node's ticks are half busy: 2 of 4 cores.
        assert.ok(Math.abs(usage.machine.avgBusyCores - 2) < 0.01, `machine ${usage.machine.avgBusyCores} busy cores`);
    });

    it("nodes on one machine that share its CPUs count them once; the same CPUs of another machine add", () => {
        // Nodes a and b on host h (b started 0.1 s later, its ticks read then), c on host k: 2 cores each.
        const a = nodeSamples("a", 0, 2, { host: "h", cpus: [0, 1], containers: { [id("a")]: { "7:1": 1 } } });
        const b = nodeSamples("b", 0.1, 2, { host: "h", cpus: [0, 1], containers: { [id("b")]: { "7:1": 2 } } });
        const c = nodeSamples("c", 0, 2, { host: "k", cpus: [0, 1] });
        const merged = clusterCpu([a, b, c], new Map([[id("a"), "app" as const], [id("b"), "driver" as const]]));
        assert.equal(merged.cores, 4);
        // Host h's ticks are a's (the first of its nodes), at or before each of b's samples; k's add.
        assert.deepEqual(merged.snapshots[4].machine, { busy: 2 * a[4].machine.busy, idle: 2 * a[4].machine.idle });
        // Both nodes' containers still count.
        assert.deepEqual(merged.snapshots[4].roles, { app: { "a/7:1": 1 }, driver: { "b/7:1": 2 } });
        const usage = summarizeCpu(merged.snapshots, merged.cores, {})!;
        assert.ok(Math.abs(usage.machine.avgBusyCores - 2) < 0.01, `machine ${usage.machine.avgBusyCores} busy cores`);
    });

    it("nodes on one machine pinned to CPUs of their own add up, those sharing them once; a role can use its nodes' CPUs only", () => {
        const a = nodeSamples("a", 0, 2, { host: "h", cpus: [0, 1], containers: { [id("a")]: { "7:1": 1 } } });
        const b = nodeSamples("b", 0, 1, { host: "h", cpus: [2], containers: { [id("b")]: { "8:1": 1 }, [id("c")]: { "9:1": 1 } } });
        const c = nodeSamples("c", 0, 1, { host: "h", cpus: [2], containers: { [id("d")]: { "10:1": 1 } } });
        const roles = new Map([[id("a"), "driver" as const], [id("b"), "app" as const], [id("c"), "driver" as const], [id("d"), "app" as const]]);
        const merged = clusterCpu([a, b, c], roles);
        assert.equal(merged.cores, 3);
        assert.deepEqual(merged.snapshots[4].machine, { busy: a[4].machine.busy + b[4].machine.busy, idle: a[4].machine.idle + b[4].machine.idle });
        // The app on b and c, which share CPU 2: one core; the driver on a and b: three.
        assert.deepEqual(merged.roleCores, { driver: 3, app: 1 });
    });

    it("says who read the CPU, and why not the cluster's sampler where not", () => {
        const cluster: ClusterCpu = { snapshots: [], appThreads: [], cores: 2, roleCores: {} };
        const local = { roles: { app: { avgCores: 0.4 }, upstream: null } } as unknown as CpuUsage;
        assert.deepEqual(samplerNote(cluster, false, null), { source: "cluster" });
        assert.deepEqual(samplerNote(cluster, true, local), { source: "cluster", localAvgCores: { app: 0.4, upstream: null } });
        assert.deepEqual(samplerNote({ reason: "forbidden" }, false, null), { source: null, reason: "forbidden" });
        assert.deepEqual(samplerNote({ reason: "forbidden" }, true, null), { source: "local", reason: "forbidden" });
        assert.deepEqual(samplerNote(null, true, null), { source: "local", reason: "kubeCpuSampler is local" });
    });

    it("no node sampled: no snapshots", () => {
        assert.deepEqual(clusterCpu([[], []], new Map()), { snapshots: [], appThreads: [], cores: 0, roleCores: {} });
    });

    it("the sampler's DaemonSet sees the host's processes on every node, and is owned by its load's Job", () => {
        const m = cpuSamplerManifest({
            namespace: "ns", name: "cpu-sampler-1234", job: { name: "load-job", uid: "uid-1" }, image: "base:1", imagePullPolicy: "Never", command: ["python3"],
        });
        assert.equal(m.spec.template.spec.hostPID, true);
        assert.deepEqual(m.metadata.ownerReferences, [{ apiVersion: "batch/v1", kind: "Job", name: "load-job", uid: "uid-1" }]);
        assert.deepEqual(m.spec.template.spec.tolerations, [{ operator: "Exists" }]);
        for (const [k, v] of Object.entries(m.spec.selector.matchLabels)) assert.equal((m.spec.template.metadata.labels as Record<string, string>)[k], v);
        // Not one of the stack's services: the load's pods' anti-affinity ignores it.
        assert.equal("app.kubernetes.io/instance" in m.spec.template.metadata.labels, false);
    });
});
