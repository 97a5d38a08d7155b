// End to end on a real cluster: the project's own Kubernetes, one node
// (scripts/cluster.sh), the real engine and the real pulumi-kubernetes
// provider. Scenarios deploy as Deployments + Services in their namespace, the
// load runs as a 2-pod Indexed Job, the figures come back as outputs; destroy
// leaves no namespace, pod or Service rule; the cluster stops cleanly.
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import { Stack } from "@pulumi/pulumi/automation";
import { httpGet } from "../httpGet";
import * as path from "path";
import { removeStack, ROOT, testStack, upOutputs } from "../local/stack";
import { clusterTraces, containerPids, kubectl, startCluster, stopCluster } from "./cluster";
import { POD_BARRIER } from "../../lib/load/split";

/** Small and quick, but enough clients for two pods to share. */
const LOAD = { platform: "kubernetes", loadRequests: "200", loadConcurrency: "50", loadDelay: "0.5", loadParallelism: "2", baseline: "false" };

/** Polls `ready` every half second until it holds; fails naming `what` after `ms`. */
async function until(ready: () => boolean, ms: number, what: string): Promise<void> {
    for (const deadline = Date.now() + ms; !ready(); await new Promise((r) => setTimeout(r, 500))) {
        if (Date.now() > deadline) throw new Error(`waited ${ms / 1000} s for ${what}`);
    }
}

function kubeStack(scenario: string, overrides: Record<string, string> = {}): Promise<Stack> {
    return testStack(`k8s-${scenario}`, scenario, { ...LOAD, ...overrides });
}

/** The iptables rules kube-proxy keeps for a namespace's Services (their comments name namespace/service). */
function serviceRules(namespace: string): string[] {
    return execFileSync("iptables-save", ["-t", "nat"], { encoding: "utf8" }).split("\n").filter((l) => l.includes(`${namespace}/`));
}

/** SIGKILLs, from this machine (the cluster's node), every process of the app-named pod's container; how many. */
function killContainer(namespace: string, app: string): number {
    const pids = containerPids(namespace, app);
    for (const pid of pids) {
        try {
            process.kill(pid, "SIGKILL");
        } catch {
            // ended meanwhile
        }
    }
    return pids.length;
}

describe("kubernetes: the project's cluster, the real provider", function () {
    // The first start may build Kubernetes, and the apps' images, from source.
    this.timeout(60 * 60_000);
    let started = false;

    before(() => {
        started = startCluster();
        // Built (cold: minutes) and loaded once here, so each test's time is its own.
        execFileSync(path.join(ROOT, "scripts", "cluster.sh"), ["images"], { stdio: ["ignore", "ignore", "inherit"], timeout: 40 * 60_000 });
    });

    after(function () {
        if (!started) return;
        stopCluster();
        assert.deepEqual(clusterTraces(), [], "the stopped cluster left these behind");
    });

    // The tutorial's three shapes on a cluster (plain, behind nginx, with PostgreSQL), and two beyond it (psycopg 3, Granian).
    for (const scenario of ["uwsgi-gevent", "nginx-uwsgi", "psycopg2-psycogreen", "psycopg3", "granian"]) {
        it(`${scenario}: deploys, serves through its entry Service, loads with a 2-pod Job, destroys to nothing`, async () => {
            // One of them in two runs after a warm-up: each pod warms up and runs its share twice.
            const runs = scenario === "uwsgi-gevent" ? 2 : 1;
            const stack = await kubeStack(scenario, { loadRepeats: String(runs), loadWarmupSeconds: "1" });
            const namespace = `fgl-k8s-${scenario}`;
            try {
                const out = await upOutputs(stack);
                assert.equal(out.platformKind, "kubernetes");
                // The platform is one component in the state: the cluster's provider, the namespace and the images are its children.
                const resources = (await stack.exportStack()).deployment.resources ?? [];
                const platformUrn = resources.find((r: { type: string }) => r.type === "flask-gevent-lab:platforms:Kubernetes")?.urn;
                const children = resources.filter((r: { parent?: string }) => platformUrn && r.parent === platformUrn).map((r: { type: string }) => r.type).sort();
                assert.deepEqual(children, ["kubernetes:core/v1:Namespace", "pulumi-nodejs:dynamic/kubernetes:ClusterImages", "pulumi:providers:kubernetes"]);
                const deployments = kubectl("get", "deployments", "-n", namespace, "-o", "jsonpath={.items[*].metadata.name}").split(" ").sort();
                const expected = ["flask-app", "slow-api", ...(scenario.startsWith("nginx") ? ["nginx"] : []), ...(scenario.startsWith("psycopg") ? ["postgres"] : [])];
                assert.deepEqual(deployments, expected.sort());
                // A real request through the entry Service's ClusterIP.
                const answer = await httpGet(`${out.url}?delay=0`);
                assert.equal(answer.status, 200);
                assert.match(answer.body, /Hi there! slow api response/);
                // The figures of a load split over two pods, merged.
                assert.equal(out.completeRequests, 200 * runs);
                assert.equal(out.failedRequests, 0);
                // 50 clients over two pods, 0.5 s each: at most 50 / 0.5 = 100 req/s however the pods merge.
                assert.ok(out.requestsPerSecond > 0 && out.requestsPerSecond <= 1.05 * out.limitRps, `${out.requestsPerSecond} req/s, limit ${out.limitRps}`);
                assert.deepEqual(out.result.repeats.map((r: { complete: number }) => r.complete), Array(runs).fill(200));
                assert.ok(out.result.warmup.requests > 0, `the pods warmed up: ${JSON.stringify(out.result.warmup)}`);
                assert.equal(out.result.platform, "kubernetes");
                assert.deepEqual(out.result.pods.map((p: { index: number }) => p.index), [0, 1]);
                assert.ok(out.result.pods.every((p: { node: string }) => p.node), "every load pod ran on a node");
                // Released together before each run: their drivers started within half a second of each other (unreleased,
                // their starts differ by when each pod was scheduled, started and warmed up).
                assert.ok(out.result.podsStartSkewSeconds >= 0 && out.result.podsStartSkewSeconds < 0.5, `pods' start skew ${out.result.podsStartSkewSeconds} s`);
                assert.ok(out.p50Ms >= 500, `p50 ${out.p50Ms} ms is below the slow API's 0.5 s`);
                // A sampler pod on the node read each role's processes (their containers, by their pods' marker), threads and
                // CPU; it is gone with the load.
                assert.deepEqual(out.result.cpuSampler, { source: "cluster" });
                assert.equal(kubectl("get", "daemonsets", "-n", namespace, "-o", "name").trim(), "", "the load's CPU sampler is left");
                const roles = ["driver", "upstream", "app", ...(scenario.startsWith("nginx") ? ["ingress"] : []), ...(scenario.startsWith("psycopg") ? ["postgres"] : [])];
                assert.deepEqual(Object.keys(out.cpu.roles).sort(), roles.sort());
                // Every role's processes were seen on this machine (never seen: null); the app and PostgreSQL (a backend forked for
                // each request's connection) spent CPU beyond doubt. ab's and the slow API's few ms for 100 requests a pod may
                // round to nothing in clock ticks, so theirs are only required to be read.
                for (const role of roles) {
                    assert.ok(out.cpu.roles[role] && out.cpu.roles[role].avgCores >= 0, `${role}'s CPU over the load: ${JSON.stringify(out.cpu.roles[role])}`);
                }
                for (const role of roles.filter((r) => r === "app" || r === "postgres")) {
                    assert.ok(out.cpu.roles[role].avgCores > 0, `${role}'s CPU over the load: ${JSON.stringify(out.cpu.roles[role])}`);
                }
                // The parts are within the whole: the roles' CPU is at most what the machine was busy with.
                const rolesCores = roles.reduce((sum, role) => sum + out.cpu.roles[role].avgCores, 0);
                assert.ok(rolesCores <= out.cpu.machine.avgBusyCores + 0.05, `roles ${rolesCores} cores, the machine ${out.cpu.machine.avgBusyCores}`);
                assert.ok(out.cpu.seconds >= 0.8 * out.timeTakenSeconds, `sampled ${out.cpu.seconds} s of a ${out.timeTakenSeconds} s run`);
                assert.match(out.bottleneck.rule, new RegExp(`^${out.bottleneck.verdict}`), "a verdict with the rule that gave it");
                assert.ok(out.threadsBefore > 0 && out.threadsPeak >= out.threadsBefore, `the app's threads ${out.threadsBefore} -> ${out.threadsPeak}`);
                console.log(`      ${out.requestsPerSecond} req/s; ${out.bottleneck.rule}; app threads ${out.threadsBefore} -> ${out.threadsPeak}`);
                assert.ok(serviceRules(namespace).length > 0, "kube-proxy has rules for the stack's Services");
            } finally {
                await removeStack(stack);
            }
            assert.equal(kubectl("get", "namespaces", "-o", "name").split("\n").filter((n) => n === `namespace/${namespace}`).length, 0,
                `namespace ${namespace} is left`);
            assert.deepEqual(serviceRules(namespace), [], "kube-proxy's rules for the stack's Services are left");
        });
    }

    it("loadDriver oha: the pods run oha from an image of their own, their runs merged from every answered request's time", async () => {
        const stack = await kubeStack("uwsgi-gevent", { loadDriver: "oha", loadRequests: "400", loadWarmupSeconds: "1" });
        const namespace = "fgl-k8s-uwsgi-gevent";
        try {
            const up = upOutputs(stack);
            up.catch(() => undefined);
            await until(() => kubectl("get", "jobs", "-n", namespace, "-o", "name").trim() !== "", 10 * 60_000, "the load's Job");
            const image = kubectl("get", "jobs", "-n", namespace, "-o", "jsonpath={.items[0].spec.template.spec.containers[0].image}");
            const out = await up;
            assert.match(image, /^flask-gevent-lab\/oha:/);
            assert.equal(out.driver, "oha");
            assert.match(out.result.driverVersion, /^1\.16\./);
            assert.deepEqual([out.completeRequests, out.failedRequests], [400, 0]);
            assert.deepEqual(out.result.statusCodes, { 200: 400 });
            // oha's own percentiles, p99.9 too, from both pods' requests: none faster than the slow API's 0.5 s.
            const latency = out.result.latencyMs;
            assert.ok(latency.p50 >= 500 && latency.p999 >= latency.p99 && latency.max >= latency.p999, JSON.stringify(latency));
            // oha opens its 25 clients a pod at once: 8 rounds of 0.5 s for 200 requests, 100 req/s at most.
            assert.ok(out.requestsPerSecond > 0 && out.requestsPerSecond <= 1.05 * out.result.driverCeilingRps, `${out.requestsPerSecond} req/s, ceiling ${out.result.driverCeilingRps}`);
            assert.ok(out.result.podsStartSkewSeconds < 0.5, `pods' start skew ${out.result.podsStartSkewSeconds} s`);
            assert.ok(out.result.warmup.requests > 0, `the pods warmed up: ${JSON.stringify(out.result.warmup)}`);
            assert.ok(out.cpu.roles.driver.avgCores >= 0, "the load pods' CPU, read by the cluster's sampler");
            console.log(`      oha in 2 pods: ${out.requestsPerSecond} req/s (ceiling ${out.result.driverCeilingRps}), p50 ${latency.p50} ms, p99.9 ${latency.p999} ms, ` +
                `skew ${out.result.podsStartSkewSeconds} s; ${out.bottleneck.rule}`);
        } finally {
            await removeStack(stack);
        }
    });

    it("a capacity search in the load pods: a pool of 2 x 5 threads carries no more than 10 / delay at any constant rate", async () => {
        const stack = await kubeStack("gunicorn-sync", {
            workers: "2", threads: "5", loadDriver: "oha", loadRequests: "20", loadConcurrency: "4", loadDelay: "0.1", loadWarmupSeconds: "0",
            capacitySearch: "true", capacityProbeSeconds: "3", capacityStartRps: "40",
        });
        try {
            const out = await upOutputs(stack);
            const c = out.result.capacity;
            console.log(`      gunicorn-sync in 2 load pods: capacity ${c.capacityRps} req/s (${c.bound}); probes ` +
                `${c.probes.map((p: { askedRps: number; passed: boolean }) => `${p.askedRps}${p.passed ? "+" : "-"}`).join(" ")}; knee: ${c.knee?.why}; ${c.knee?.bottleneck.words}`);
            assert.equal(out.capacityRps, c.capacityRps, "exported as a stack output");
            assert.equal(c.bound, "found");
            // 10 threads, 0.1 s each: 100 req/s at most, whatever splits the rate.
            assert.ok(c.capacityRps <= 110 && c.capacityRps >= 30, `capacity ${c.capacityRps} for a pool limit of 100`);
            assert.ok(c.knee.askedRps > c.capacityRps, "the knee is above the capacity");
            // Each probe: both pods' requests, at about the rate asked where it passed, with the CPU the cluster's sampler read.
            for (const p of c.probes.filter((p: { passed: boolean }) => p.passed)) {
                // Split over the pods, not sent by each: a probe's requests are its rate x 3 s, not twice that.
                assert.ok(p.requests >= 0.9 * p.askedRps * 3 && p.requests <= 1.1 * p.askedRps * 3, `${p.requests} requests at ${p.askedRps} req/s for 3 s`);
                assert.ok(p.cpu && p.cpu.roles.app, `the app's CPU at ${p.askedRps} req/s`);
            }
            assert.equal(kubectl("get", "daemonsets", "-n", "fgl-k8s-gunicorn-sync", "-o", "name").trim(), "", "the load's CPU sampler is left");
        } finally {
            await removeStack(stack);
        }
    });

    it("more load pods than the cluster can schedule: refused before anything starts, with the number that fits", async () => {
        // 40 pods of 100m each on one 2-core node, beside three services of 100m: about 17 fit.
        const stack = await kubeStack("uwsgi-gevent", { loadParallelism: "40" });
        try {
            const started = Date.now();
            await assert.rejects(stack.up(), (e: Error) => {
                assert.match(e.message, /loadParallelism 40: the cluster can schedule 1\d load pod\(s\) beside the stack's services .*fix: pulumi config set loadParallelism 1\d/s);
                return true;
            });
            assert.ok(Date.now() - started < 120_000, "refused at once, not after the Job's wait");
            assert.equal(kubectl("get", "namespaces", "-o", "name").split("\n").filter((n) => n === "namespace/fgl-k8s-uwsgi-gevent").length, 0, "nothing was made");
        } finally {
            await removeStack(stack);
        }
    });

    it("the cluster's CPU sampler agrees with this machine's /proc over the same run", async () => {
        // 10 s of load: the samplers' 0.25 s steps at the run's edges are a small part of it. 5 ms of CPU a request keeps
        // the app at about half a core, far above the 0.05 cores of leeway.
        const stack = await kubeStack("uwsgi-gevent", { loadRequests: "1000", kubeCpuSampler: "both", loadWarmupSeconds: "0", appCpuMs: "5" });
        try {
            const out = await upOutputs(stack);
            assert.equal(out.result.cpuSampler.source, "cluster");
            const local = out.result.cpuSampler.localAvgCores;
            for (const role of ["driver", "upstream", "app"]) {
                const [cluster, mine] = [out.cpu.roles[role].avgCores, local[role]];
                console.log(`      ${role}: ${cluster} cores in the cluster's sampler, ${mine} in /proc here`);
                assert.ok(Math.abs(cluster - mine) <= Math.max(0.1 * mine, 0.05), `${role}: ${cluster} cores (cluster) vs ${mine} (local)`);
            }
            assert.ok(out.cpu.roles.app.avgCores >= 0.25, `the app burnt ${out.cpu.roles.app.avgCores} cores`);
        } finally {
            await removeStack(stack);
        }
    });

    it("a namespace that forbids the host's PIDs: the load runs without the CPU sampler, and says why its CPU is null", async () => {
        const stack = await kubeStack("uwsgi-gevent", { loadRequests: "20", loadConcurrency: "4", loadWarmupSeconds: "0" });
        const namespace = "fgl-k8s-uwsgi-gevent";
        try {
            const up = upOutputs(stack);
            up.catch(() => undefined);
            // Labelled as soon as the stack made it: its services take far longer to be ready than the label to apply.
            await until(() => kubectl("get", "namespaces", "-o", "name").split("\n").includes(`namespace/${namespace}`), 5 * 60_000, "the namespace");
            kubectl("label", "namespace", namespace, "pod-security.kubernetes.io/enforce=baseline");
            const out = await up;
            assert.equal(out.completeRequests, 20);
            assert.equal(out.cpu, null);
            assert.equal(out.result.cpuSampler.source, null);
            assert.match(out.result.cpuSampler.reason, /the CPU sampler did not run: .*hostPID/);
            assert.equal(kubectl("get", "daemonsets", "-n", namespace, "-o", "name").trim(), "", "the refused CPU sampler is left");
        } finally {
            await removeStack(stack);
        }
    });

    it("devserver: a server busy with one request at a time stays in its Service through the load", async () => {
        // The dev server's one thread holds each request for the delay: readiness must not wait for the app itself.
        const stack = await kubeStack("devserver", { loadRequests: "12", loadConcurrency: "4", loadDelay: "0.5" });
        try {
            const out = await upOutputs(stack);
            assert.equal(out.completeRequests, 12);
            assert.equal(out.failedRequests, 0);
            assert.ok(out.timeTakenSeconds >= 12 * 0.5 * 0.9, `${out.timeTakenSeconds} s: the requests were served one at a time`);
        } finally {
            await removeStack(stack);
        }
    });

    it("a load over maxFailedRequests fails the up, and the next up measures again rather than re-reading it", async () => {
        // 6 clients for 10 s; 3 s into the measured run the slow API's processes are killed from the node (this machine):
        // its pod keeps its network while the container restarts, so the app's calls are refused at once and it answers
        // 500. (Cutting the Service off instead raced kube-proxy's rules: a call sent in between hung, and ab abandoned its
        // whole run at its timeout, counting nothing; deleting the pod loses the requests sent to its address likewise.)
        // No warm-up: the slow API is killed while the measured run goes on.
        const stack = await kubeStack("uwsgi-gevent", {
            loadRequests: "60", loadConcurrency: "6", loadDelay: "1", maxFailedRequests: "0", loadWarmupSeconds: "0",
        });
        const namespace = "fgl-k8s-uwsgi-gevent";
        try {
            const up = upOutputs(stack);
            up.catch(() => undefined);
            // The time the load resource released the pods at, once every pod has it.
            const releasedAt = () => {
                const pods = kubectl("get", "pods", "-n", namespace, "-l", "batch.kubernetes.io/job-name", "-o", "jsonpath={.items[*].metadata.name}").split(" ").filter(Boolean);
                const times = pods.map((pod) => {
                    try {
                        // Quiet while there is no go file yet (NaN).
                        return Number(kubectl("exec", "-n", namespace, pod, "--", "sh", "-c", `cat ${POD_BARRIER.dir}/${POD_BARRIER.go} 2>/dev/null || true`).split(" ")[1]);
                    } catch {
                        return NaN;
                    }
                });
                return pods.length === 2 && times.every((t) => t > 0) ? Math.max(...times) : null;
            };
            await until(() => releasedAt() !== null, 5 * 60_000, "the load's pods to be released");
            await new Promise((r) => setTimeout(r, Math.max(0, (releasedAt()! + 3) * 1000 - Date.now())));
            const killed = killContainer(namespace, "slow-api");
            assert.ok(killed > 0, "no process of the slow API's container was found on this machine");
            await assert.rejects(up, (e: Error) => {
                console.log(`      ${/load test: .*? failed/.exec(e.message)?.[0]}`);
                return /requests failed \(maxFailedRequests is 0\).*its Job is deleted/s.test(e.message);
            });
            assert.equal(kubectl("get", "jobs", "-n", namespace, "-o", "name").trim(), "", "the failed load's Job is left");
            // Without a refresh the engine still believes in the Job: the up says what to do, at once.
            let started = Date.now();
            await assert.rejects(stack.up(), /is gone .*pulumi up --refresh/s);
            console.log(`      an up without a refresh failed in ${(Date.now() - started) / 1000} s`);
            started = Date.now();
            await stack.refresh();
            const out = await upOutputs(stack);
            console.log(`      refresh and up, measured again in ${(Date.now() - started) / 1000} s`);
            // A re-read of the first result would have failed again.
            assert.equal(out.completeRequests, 60);
            assert.equal(out.failedRequests, 0);
        } finally {
            await removeStack(stack);
        }
    });

    it("replicas: 2 spreads the requests over both app pods", async () => {
        // No warm-up, so the apps' logs hold the load and the pods' checks only.
        const stack = await kubeStack("uwsgi-gevent", { replicas: "2", loadWarmupSeconds: "0" });
        try {
            const out = await upOutputs(stack);
            assert.equal(out.failedRequests, 0);
            // The limit counts both pods' async cores; uWSGI logs each request it serves.
            const pods = kubectl("get", "pods", "-n", "fgl-k8s-uwsgi-gevent", "-l", "app.kubernetes.io/name=flask-app", "-o", "jsonpath={.items[*].metadata.name}").split(" ");
            assert.equal(pods.length, 2);
            const served = pods.map((pod) => kubectl("logs", "-n", "fgl-k8s-uwsgi-gevent", pod).split("\n").filter((l) => l.includes("GET /?delay=0.5")).length);
            // The load's 200, and each load pod's one check first.
            assert.equal(served[0] + served[1], 202, `requests logged per pod: ${served.join(", ")}`);
            // kube-proxy picks an endpoint at random per connection: each pod gets far more than a few.
            assert.ok(Math.min(...served) >= 40, `requests per pod: ${served.join(", ")}`);
        } finally {
            await removeStack(stack);
        }
    });
});
