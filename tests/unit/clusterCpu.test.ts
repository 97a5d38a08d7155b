import { strict as assert } from "assert";
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { cpuSamplerManifest } from "../../lib/kubernetes";
import { clusterCpu, ClusterCpu, cpuSamplerArgv, containerRoles, NodeSample, parseSamplerLog, PodContainers, samplerNote } from "../../lib/load/clusterCpu";
import { CpuUsage, summarizeCpu } from "../../lib/load/cpu";
import { clockTicks } from "../../lib/procfs";

/** The sampler's lines over `ms`, run on `proc` (this machine's /proc, or a made one). */
async function runSampler(ms: number, proc?: string): Promise<NodeSample[]> {
    const [cmd, ...args] = cpuSamplerArgv(100, proc);
    const child = spawn(cmd, args, { env: { ...process.env, NODE_NAME: "node-a" } });
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
        assert.ok(samples.every((s) => s.node === "node-a" && s.cores === os.cpus().length));
        for (let i = 1; i < samples.length; i++) {
            const [a, b] = [samples[i - 1], samples[i]];
            assert.ok(b.at > a.at, "later samples, later times");
            // The machine's clock ticks on: busy + idle grows by about the cores x the period (100 ticks a second).
            assert.ok(b.machine.busy + b.machine.idle > a.machine.busy + a.machine.idle, "the machine's ticks grow");
        }
    });

    it("finds each container's processes by their cgroup, with their CPU seconds and threads, and the machine's ticks", async function () {
        this.timeout(20_000);
        const proc = fs.mkdtempSync(path.join(os.tmpdir(), "proc-"));
        const write = (file: string, text: string) => {
            fs.mkdirSync(path.dirname(path.join(proc, file)), { recursive: true });
            fs.writeFileSync(path.join(proc, file), text);
        };
        // pid, name (spaces and parentheses in it), state, then fields 4-13, utime, stime, 16-19, threads, 21, starttime.
        const stat = (pid: number, state: string, utime: number, stime: number, threads: number, start: number) =>
            `${pid} (uwsgi (w) 1) ${state} 1 ${pid} ${pid} 0 -1 4194560 100 0 0 0 ${utime} ${stime} 0 0 20 0 ${threads} 0 ${start} 1000 10 0\n`;
        write("stat", "cpu  100 5 20 800 30 1 2 3 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n");
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

    it("says who read the CPU, and why not the cluster's sampler where not", () => {
        const cluster: ClusterCpu = { snapshots: [], appThreads: [], cores: 2 };
        const local = { roles: { app: { avgCores: 0.4 }, upstream: null } } as unknown as CpuUsage;
        assert.deepEqual(samplerNote(cluster, false, null), { source: "cluster" });
        assert.deepEqual(samplerNote(cluster, true, local), { source: "cluster", localAvgCores: { app: 0.4, upstream: null } });
        assert.deepEqual(samplerNote({ reason: "forbidden" }, false, null), { source: null, reason: "forbidden" });
        assert.deepEqual(samplerNote({ reason: "forbidden" }, true, null), { source: "local", reason: "forbidden" });
        assert.deepEqual(samplerNote(null, true, null), { source: "local", reason: "kubeCpuSampler is local" });
    });

    it("no node sampled: no snapshots", () => {
        assert.deepEqual(clusterCpu([[], []], new Map()), { snapshots: [], appThreads: [], cores: 0 });
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
