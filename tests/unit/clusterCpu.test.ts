import { strict as assert } from "assert";
import { spawn } from "child_process";
import * as os from "os";
import { cpuSamplerManifest } from "../../lib/kubernetes";
import { clusterCpu, cpuSamplerArgv, containerRoles, NodeSample, parseSamplerLog, PodContainers } from "../../lib/load/clusterCpu";
import { summarizeCpu } from "../../lib/load/cpu";

const id = (c: string) => c.repeat(64);

/** A pod of namespace ns whose one container carries `marker` and runs as container id `cid`. */
function pod(marker: string | undefined, cid: string, lastCid?: string): PodContainers {
    return {
        spec: { containers: [{ name: "c", env: marker ? [{ name: "FGL_ROLE", value: marker }] : [] }] },
        status: { containerStatuses: [{ name: "c", containerID: `containerd://${cid}`, ...(lastCid ? { lastState: { terminated: { containerID: `containerd://${lastCid}` } } } : {}) }] },
    };
}

describe("CPU per role on any cluster (lib/load/clusterCpu.ts)", () => {
    it("the sampler's script samples this machine's /proc every period, one JSON line each, until it is stopped", async function () {
        this.timeout(20_000);
        const [cmd, ...args] = cpuSamplerArgv(100);
        const child = spawn(cmd, args, { env: { ...process.env, NODE_NAME: "node-a" } });
        let out = "";
        child.stdout.on("data", (d) => (out += d));
        let err = "";
        child.stderr.on("data", (d) => (err += d));
        await new Promise((r) => setTimeout(r, 1500));
        child.kill();
        await new Promise((r) => child.on("close", r));
        assert.equal(err, "");
        const samples = parseSamplerLog(out);
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

    it("reads a sampler's log, skipping other lines and one cut off by the pod's stop", () => {
        const sample: NodeSample = { node: "n", at: 1, cores: 2, machine: { busy: 1, idle: 2 }, containers: {}, threads: {} };
        const log = ["something else", JSON.stringify({ fgl: "fgl-cpu-sampler/1", ...sample }), JSON.stringify({ fgl: "other/1", ...sample }),
            JSON.stringify({ fgl: "fgl-cpu-sampler/1", ...sample, at: 2 }), '{"fgl":"fgl-cpu-sampler/1","node":"n","at":3,"cor'].join("\n");
        assert.deepEqual(parseSamplerLog(log).map((s) => s.at), [1, 2]);
    });

    it("maps each container id to the role its pod's marker names in the stack's namespace, a restarted one's last id too", () => {
        const roles = containerRoles([
            pod("ns/app", id("a"), id("b")), pod("ns/driver", id("c")), pod("other/app", id("d")), pod("ns/nobody", id("e")), pod(undefined, id("f")),
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
