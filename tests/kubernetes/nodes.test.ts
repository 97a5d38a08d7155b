// The project's cluster with two nodes on this machine (scripts/cluster/nodes.sh), each pinned to its own CPU:
// the measured side and what measures it land apart, and down removes every node. It needs the cluster to itself:
// a cluster already running (a user's, with their stacks) is left alone and these tests are skipped.
import { strict as assert } from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { removeStack, ROOT, testStack, upOutputs } from "../local/stack";
import { clusterRunning, clusterTraces, containerPids, kubectl, stopCluster } from "./cluster";

const CLUSTER = path.join(ROOT, "scripts", "cluster.sh");

function clusterUp(...args: string[]): { status: number | null; stderr: string } {
    const run = spawnSync(CLUSTER, ["up", ...args], { encoding: "utf8", timeout: 40 * 60_000 });
    return { status: run.status, stderr: run.stderr };
}

/** The CPUs the kernel lets each process of the app-named pod's container run on (Cpus_allowed_list). */
function containerCpus(namespace: string, app: string): string[] {
    return containerPids(namespace, app).flatMap((pid) => {
        try {
            return [/Cpus_allowed_list:\s*(\S+)/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))![1]];
        } catch {
            return []; // ended meanwhile
        }
    });
}

describe("kubernetes: two nodes on this machine", function () {
    this.timeout(60 * 60_000);
    const pinned = os.cpus().length >= 2;
    // Whether a test here started the cluster: only then is it stopped here (mocha runs after() even when skipped).
    let started = false;

    before(function () {
        if (clusterRunning()) {
            console.log("      the project's cluster already runs (a user's?): not taken down for these tests");
            this.skip();
        }
    });

    after(function () {
        if (!started || !clusterRunning()) return;
        stopCluster();
        assert.deepEqual(clusterTraces(), [], "the stopped cluster left these behind");
    });

    it("bad nodes and CPUs are refused before anything starts, with the fix", () => {
        const cpus = os.cpus().length;
        for (const [args, message] of [
            [["--nodes", "0"], /--nodes 0: a cluster needs at least one node/],
            [["--nodes", "many"], /--nodes many: not a number of nodes/],
            [["--nodes", "200"], /--nodes 200 needs \d+ MiB free .* at most \d+ node\(s\) here/],
            [["--nodes", "2", "--node-cpus", `0;${cpus + 3}`], new RegExp(`CPU ${cpus + 3} does not exist here`)],
            [["--nodes", "2", "--node-cpus", "0"], /names 1 nodes' CPUs for 2 nodes/],
            [["--nodes", "2", "--node-cpus", "0;0-1"], /CPU 0 is in more than one node's list/],
        ] as [string[], RegExp][]) {
            const run = clusterUp(...args);
            assert.equal(run.status, 1, `up ${args.join(" ")}: ${run.stderr}`);
            assert.match(run.stderr, message);
            assert.ok(!clusterRunning(), `up ${args.join(" ")} started the cluster`);
        }
    });

    it("uwsgi-gevent with oha: the load's pods on the upstream's node, the app alone on the other, started together; the CPU from the cluster's sampler; down leaves nothing", async () => {
        started = true;
        const up = clusterUp("--nodes", "2", ...(pinned ? ["--node-cpus", "0;1"] : []));
        assert.equal(up.status, 0, up.stderr);
        // The running cluster is kept as it is: an up asking for nothing more takes it, one asking for another shape says how to get it.
        assert.equal(clusterUp().status, 0);
        const again = clusterUp("--nodes", "1");
        assert.equal(again.status, 1);
        assert.match(again.stderr, /runs 2 node\(s\).*not the 1 asked for: \.\/lab cluster down first/);
        execFileSync(CLUSTER, ["images", "oha"], { stdio: ["ignore", "ignore", "inherit"], timeout: 40 * 60_000 });
        const namespace = "fgl-k8s2-uwsgi-gevent";
        const stack = await testStack("k8s2-uwsgi-gevent", "uwsgi-gevent", {
            platform: "kubernetes", loadParallelism: "2", loadDriver: "oha", kubeCpuSampler: "cluster",
            loadRequests: "400", loadConcurrency: "50", loadDelay: "0.5", baseline: "false",
        });
        try {
            const out = await upOutputs(stack);
            assert.equal(out.completeRequests, 400);
            assert.equal(out.failedRequests, 0);
            const nodeOf = (app: string) => kubectl("get", "pods", "-n", namespace, "-l", `app.kubernetes.io/name=${app}`, "-o", "jsonpath={.items[*].spec.nodeName}").trim();
            const appNode = nodeOf("flask-app");
            const upstreamNode = nodeOf("slow-api");
            assert.notEqual(appNode, upstreamNode, "the app and the upstream share a node");
            const loadNodes = (out.result.pods as { node: string }[]).map((p) => p.node);
            assert.deepEqual(loadNodes, [upstreamNode, upstreamNode], `the load's pods ran on ${loadNodes.join(", ")}, the app on ${appNode}`);
            assert.ok(out.result.podsStartSkewSeconds < 0.5, `the pods started ${out.result.podsStartSkewSeconds} s apart`);
            // Read in the cluster alone (no local sampler), and nodes sharing this machine count its CPUs once.
            assert.deepEqual(out.result.cpuSampler, { source: "cluster" });
            assert.equal(out.cpu.cores, pinned ? 2 : os.cpus().length);
            for (const role of ["app", "upstream", "driver"]) assert.ok(out.cpu.roles[role].avgCores > 0, `${role}: ${JSON.stringify(out.cpu.roles[role])}`);
            assert.ok(out.bottleneck.verdict, JSON.stringify(out.bottleneck));
            if (pinned) {
                // Each node's pods on its own CPU: the app's processes may run on the second node's only.
                const appCpus = containerCpus(namespace, "flask-app");
                assert.ok(appCpus.length > 0 && appCpus.every((c) => c === (appNode === "flask-gevent-lab" ? "0" : "1")), `the app's processes may run on CPUs ${appCpus.join(" ")}`);
            }
        } finally {
            await removeStack(stack);
        }
        stopCluster();
        assert.deepEqual(clusterTraces(), [], "the stopped cluster left these behind");
    });
});
