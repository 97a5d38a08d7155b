// The kubernetes platform without a cluster: the pure objects of lib/kubernetes.ts
// (the pod's command run in a real shell), and every scenario's Kubernetes
// resources under Pulumi's mocks.
import { strict as assert } from "assert";
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { Scenario } from "../../components/scenario";
import { loadPodsThatFit, namespaceFor, nodeRefusal, nodeRooms, podCommand, podPaths, preStopCommand } from "../../lib/kubernetes";
import { parseCpuQuantities, parseKubeImages } from "../../lib/kubernetesSettings";
import { flaskAppSpec, ServiceSpec } from "../../lib/services";
import { podDriverOf } from "../../lib/load/split";
import { resolveSettings } from "../../lib/settings";
import { listScenarios, readStackConfig } from "../../lib/stacks";
import { KubernetesPlatform, resolveCluster } from "../../platforms/kubernetes";

const ROOT = path.join(__dirname, "..", "..");
const IMAGES = "base=reg/base:1 slow_api=reg/slow_api:1 flask_app=reg/flask_app:1 database_app=reg/database_app:1";

interface Declared { type: string; name: string; inputs: any; provider?: string }

function promiseOf<T>(output: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => output.apply((v) => { resolve(v); return v; }));
}

/** Every resource a stack with `config` declares on the kubernetes platform; ClusterIPs 10.0.0.<n>. */
async function declare(stack: string, config: Record<string, string>, nodes?: number) {
    const declared: Declared[] = [];
    await pulumi.runtime.setMocks({
        newResource(args) {
            declared.push({ type: args.type, name: args.name, inputs: args.inputs, provider: args.provider });
            const services = declared.filter((d) => d.type === "kubernetes:core/v1:Service").length;
            const state = args.type === "kubernetes:core/v1:Service" ? { ...args.inputs, spec: { ...args.inputs.spec, clusterIP: `10.0.0.${services}` } }
                : args.type === "kubernetes:batch/v1:Job" ? { ...args.inputs, metadata: { ...args.inputs.metadata, name: `${args.name}-x`, uid: "u1" } }
                : args.inputs.jobUid !== undefined ? { ...args.inputs, result: { requestsPerSecond: 1, failed: 0 } }
                : args.type === "pulumi-nodejs:dynamic/kubernetes:ClusterImages"
                    ? { ...args.inputs, images: parseKubeImages([IMAGES, ...args.inputs.drivers.map((d: string) => `${d}=local/${d}:1`)].join(" ")) }
                : args.inputs;
            return { id: `${args.name}-id`, state };
        },
        call: (args) => args.inputs,
    }, "flask-gevent-lab", stack, false);
    const settings = resolveSettings((k) => ({ platform: "kubernetes", ...config })[k]);
    const platform = new KubernetesPlatform(stack, {
        kubeconfig: settings.kube.kubeconfig, images: settings.kube.images, cpuRequests: settings.kube.cpuRequests, cpuLimits: settings.kube.cpuLimits,
        cpuSampler: settings.kube.cpuSampler, loadDriver: podDriverOf(settings.load.driver) ?? undefined, nodes: nodes ? { count: nodes, mostCores: 1 } : undefined,
    });
    const scenario = new Scenario(stack, { settings, platform, resultsDir: `/results/${stack}` });
    const url = await promiseOf(scenario.url);
    await promiseOf(scenario.result);
    const of = (type: string) => declared.filter((d) => d.type === `kubernetes:${type}`);
    const deployment = (name: string) => of("apps/v1:Deployment").find((d) => d.inputs.metadata.name === name)?.inputs;
    return { declared, of, deployment, url, settings };
}

describe("kubernetes objects (pure)", () => {
    it("parses CPU quantities and images, refusing what Kubernetes would", () => {
        assert.deepEqual(parseCpuQuantities("app=500m driver=1.5"), { app: "500m", driver: "1.5" });
        assert.throws(() => parseCpuQuantities("app=lots"), /lots is not a CPU quantity/);
        assert.throws(() => parseCpuQuantities("web=1"), /"web=1" is not name=value with a name among driver, upstream/);
        assert.throws(() => parseKubeImages("base=a slow_api=b"), /no image for flask_app, database_app/);
        assert.deepEqual(parseKubeImages(""), {});
    });

    it("counts the load pods the nodes can take beside the stack's services, by the CPU they request", () => {
        const node = (name: string, cpu: string, more: object = {}) => ({
            metadata: { name }, spec: {}, status: { allocatable: { cpu, pods: "110" }, conditions: [{ type: "Ready", status: "True" }] }, ...more,
        });
        const pod = (namespace: string, nodeName: string, cpu: string | undefined, phase = "Running") =>
            ({ metadata: { namespace }, spec: { nodeName, containers: [{ resources: cpu ? { requests: { cpu } } : {} }] }, status: { phase } });
        // The project's cluster: one 2-core node; the stack's own pods from its last up, and finished pods, don't count.
        const rooms = nodeRooms([node("n1", "2")], [pod("fgl-a", "n1", "1"), pod("kube-system", "n1", "250m"), pod("x", "n1", "1", "Succeeded")], "fgl-a");
        assert.deepEqual(rooms, [{ name: "n1", cpuCores: 1.75, pods: 109, allocatableCores: 2 }]);
        // Three services at 100m leave 1.45 cores: 14 load pods of 100m, not 15.
        assert.deepEqual(loadPodsThatFit(rooms, { measured: [0.1, 0.1], measuring: [0.1] }, 0.1, 40, false), { services: true, load: 14 });
        assert.deepEqual(loadPodsThatFit(rooms, { measured: [0.1, 0.1], measuring: [0.1] }, 0.1, 2, false), { services: true, load: 2 });
        assert.deepEqual(loadPodsThatFit(rooms, { measured: [1], measuring: [1] }, 0.1, 2, false), { services: false, load: 0 });
        // Pod slots count too; a pod is never split over nodes: two nodes with 0.6 cores free each take no 1-core pod.
        assert.deepEqual(loadPodsThatFit([{ name: "n1", cpuCores: 8, pods: 3, allocatableCores: 8 }], { measured: [0], measuring: [] }, 0, 5, false), { services: true, load: 2 });
        assert.deepEqual(loadPodsThatFit([{ name: "a", cpuCores: 0.6, pods: 9, allocatableCores: 1 }, { name: "b", cpuCores: 0.6, pods: 9, allocatableCores: 1 }], { measured: [], measuring: [] }, 1, 1, false), { services: true, load: 0 });
        // Apart (several nodes): the upstream on one node, the app's two replicas both on the other, the load beside the
        // upstream; where the measured side needs the upstream's node too, no load pod fits; with one node nothing does.
        const two = [{ name: "a", cpuCores: 1, pods: 9, allocatableCores: 1 }, { name: "b", cpuCores: 1, pods: 9, allocatableCores: 1 }];
        assert.deepEqual(loadPodsThatFit(two, { measured: [0.4, 0.4], measuring: [0.1] }, 0.2, 2, true), { services: true, load: 2 });
        assert.deepEqual(loadPodsThatFit(two, { measured: [0.4, 0.4], measuring: [0.1] }, 0.2, 5, true), { services: true, load: 4 });
        assert.deepEqual(loadPodsThatFit(two, { measured: [0.6, 0.6], measuring: [0.1] }, 0.2, 2, true), { services: false, load: 0 });
        assert.deepEqual(loadPodsThatFit([two[0]], { measured: [0.1], measuring: [0.1] }, 0.1, 1, true), { services: false, load: 0 });
        // Not apart, the same pods spread: the app's replicas one per node, the load beside them.
        assert.deepEqual(loadPodsThatFit(two, { measured: [0.6, 0.6], measuring: [0.1] }, 0.2, 2, false), { services: true, load: 2 });
        // A node cordoned, tainted against the load's pods or not Ready takes none.
        const off = nodeRooms([node("c", "4", { spec: { unschedulable: true } }), node("t", "4", { spec: { taints: [{ effect: "NoSchedule" }] } }),
            node("r", "4", { status: { allocatable: { cpu: "4", pods: "110" }, conditions: [{ type: "Ready", status: "False" }] } }),
            node("p", "4", { spec: { taints: [{ effect: "PreferNoSchedule" }] } })], [], "fgl-a");
        assert.deepEqual(off.map((r) => r.name), ["p"]);
        assert.equal(nodeRefusal(node("t", "4", { spec: { taints: [{ key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" }] } })),
            "tainted node-role.kubernetes.io/control-plane:NoSchedule");
        // A limit without a request is the request; an init container larger than the others sets the pod's.
        const limited = { metadata: { namespace: "x" }, spec: { nodeName: "n1", containers: [{ resources: { limits: { cpu: "500m" } } }] }, status: { phase: "Running" } };
        const init = { metadata: { namespace: "x" }, spec: { nodeName: "n1", containers: [{ resources: { requests: { cpu: "100m" } } }],
            initContainers: [{ resources: { requests: { cpu: "1" } } }] }, status: { phase: "Pending" } };
        assert.deepEqual(nodeRooms([node("n1", "4")], [limited, init], "fgl-a"), [{ name: "n1", cpuCores: 2.5, pods: 108, allocatableCores: 4 }]);
    });

    it("names a stack's namespace as a DNS label", () => {
        assert.equal(namespaceFor("uwsgi-gevent"), "fgl-uwsgi-gevent");
        assert.equal(namespaceFor("My_Stack."), "fgl-my-stack");
        assert.ok(namespaceFor("x".repeat(80)).length <= 63);
    });

    it("runs a service as its spec says, and stops it with the spec's own signal before Kubernetes sends SIGTERM", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fgl-pod-"));
        const spec: ServiceSpec = {
            name: "svc", cwd: path.join(dir, "run"), port: 1, env: {}, files: {}, user: "", code: [], ready: { kind: "tcp" },
            setup: [["sh", "-c", "echo set-up > setup.txt"]],
            // Records SIGINT (the spec's signal) and exits; a SIGTERM would end it without a trace.
            argv: ["sh", "-c", "trap 'echo got-int > signal.txt; exit 7' INT; echo started > started.txt; while :; do sleep 0.05; done"],
            stopSignal: "SIGINT",
        };
        const [command, ...args] = podCommand(spec);
        const pod = spawn(command, args, { stdio: "ignore" });
        const exited = new Promise<number | null>((resolve) => pod.once("exit", (c) => resolve(c)));
        try {
            const started = path.join(spec.cwd, "started.txt");
            for (let i = 0; i < 100 && !fs.existsSync(started); i++) await new Promise((r) => setTimeout(r, 50));
            assert.equal(fs.readFileSync(path.join(spec.cwd, "setup.txt"), "utf8"), "set-up\n");
            // The hook, aimed at the service's pid (in a pod: 1, the service itself after exec).
            const [hook, ...hookArgs] = preStopCommand(spec, String(pod.pid));
            const stop = spawn(hook, hookArgs, { stdio: "ignore" });
            const hookDone = new Promise<number | null>((resolve) => stop.once("exit", (c) => resolve(c)));
            assert.equal(await exited, 7, "the service itself ran (exec), and exited on its own signal");
            assert.equal(fs.readFileSync(path.join(spec.cwd, "signal.txt"), "utf8"), "got-int\n");
            assert.equal(await hookDone, 0, "the hook returns once the service has exited");
        } finally {
            pod.kill("SIGKILL");
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});

describe("scenario stacks on kubernetes (Pulumi mocks)", () => {
    for (const stack of listScenarios(ROOT)) {
        it(`${stack}: a Deployment + Service per service in the stack's namespace, the load a 2-pod Indexed Job`, async () => {
            const { declared, of, deployment, url, settings } = await declare(stack, { ...readStackConfig(ROOT, stack), kubeImages: IMAGES, kubeCpuSampler: "both" });
            const names = ["flask-app", "slow-api", ...(settings.database ? ["postgres"] : []), ...(settings.ingress === "nginx" ? ["nginx"] : [])].sort();
            assert.deepEqual(of("core/v1:Namespace").map((n) => n.inputs.metadata.name), [`fgl-${stack}`]);
            assert.deepEqual(of("apps/v1:Deployment").map((d) => d.inputs.metadata.name).sort(), names);
            assert.deepEqual(of("core/v1:Service").map((d) => d.inputs.metadata.name).sort(), names);
            for (const d of [...of("apps/v1:Deployment"), ...of("core/v1:Service"), ...of("core/v1:ConfigMap"), ...of("batch/v1:Job")]) {
                assert.equal(d.inputs.metadata.namespace, `fgl-${stack}`);
                assert.match(d.provider ?? "", /kubernetes::.*-cluster::/, `${d.name} goes through the stack's provider`);
            }
            // No leases: each pod has its own network, and the tutorial's ports.
            assert.equal(declared.filter((d) => d.type.endsWith(":PortLease")).length, 0);
            const app = deployment("flask-app").spec.template.spec.containers[0];
            assert.equal(app.image, settings.database ? "reg/database_app:1" : "reg/flask_app:1");
            assert.equal(app.imagePullPolicy, "IfNotPresent");
            // The same server command as on the other platforms (the same spec builder), after the pod's wrapper.
            const { argv } = flaskAppSpec("flask-app", {
                serverMode: settings.serverMode, shape: settings.shape, protocol: settings.protocol, port: 3000,
                upstream: { host: "x", port: 4000 }, database: settings.database ? { host: "y", port: 5432 } : undefined, databaseDriver: settings.databaseDriver,
                psycogreen: settings.psycogreen, appCpuMs: 0,
            }, podPaths());
            assert.deepEqual(app.command.slice(-argv.length), argv);
            assert.deepEqual(app.resources, { requests: { cpu: "100m" } });
            // Started when its own check first passes (uwsgi protocol: no HTTP, a TCP accept); then ready while it accepts.
            assert.deepEqual(app.startupProbe.httpGet ?? app.startupProbe.tcpSocket,
                settings.protocol === "uwsgi" ? { port: 3000 } : { path: "/?delay=0", port: 3000 });
            assert.deepEqual(app.readinessProbe.tcpSocket, { port: 3000 });
            const entry = settings.ingress === "nginx" ? "nginx" : "flask-app";
            const entryIp = `10.0.0.${of("core/v1:Service").findIndex((s) => s.inputs.metadata.name === entry) + 1}`;
            assert.equal(url, `http://${entryIp}:${settings.ingress === "nginx" ? 80 : 3000}/`);
            // The app reaches the slow API by its ClusterIP.
            const apiIp = `10.0.0.${of("core/v1:Service").findIndex((s) => s.inputs.metadata.name === "slow-api") + 1}`;
            const env = Object.fromEntries(app.env.map((e: { name: string; value: string }) => [e.name, e.value]));
            assert.deepEqual([env.API_HOST, env.PORT_API], [apiIp, "4000"]);
            const jobs = of("batch/v1:Job");
            assert.equal(jobs.length, 2, "the load and the baseline");
            for (const job of jobs) {
                assert.equal(job.inputs.spec.completionMode, "Indexed");
                assert.equal(job.inputs.spec.completions, 2);
                assert.equal(job.inputs.spec.parallelism, 2);
                assert.equal(job.inputs.spec.template.spec.containers[0].image, "reg/base:1");
            }
            const runs = declared.filter((d) => d.inputs.jobUid !== undefined);
            assert.deepEqual(runs.map((r) => r.inputs.parts), [2, 2]);
            // Every container names its namespace and CPU role; the project's cluster runs on this machine, so with both
            // samplers the loads also sample each role's processes by it: the load every service and its pods, the baseline the slow API.
            const marker = (role: string) => ({ kind: "marked", key: "FGL_ROLE", value: `fgl-${stack}/${role}`, bundles: resolveCluster("").bundles });
            const roleOf: Record<string, string> = { "flask-app": "app", "slow-api": "upstream", nginx: "ingress", postgres: "postgres" };
            for (const name of names) {
                const marked = deployment(name).spec.template.spec.containers[0].env.find((e: { name: string }) => e.name === "FGL_ROLE");
                assert.equal(marked?.value, `fgl-${stack}/${roleOf[name]}`, name);
            }
            for (const job of jobs) assert.ok(job.inputs.spec.template.spec.containers[0].env.some((e: { name: string; value: string }) =>
                e.name === "FGL_ROLE" && e.value === `fgl-${stack}/driver`));
            const [load, baseline] = ["-load-", "-baseline-"].map((part) => runs.find((r) => r.name.includes(part))!.inputs);
            assert.deepEqual(load.roles, Object.fromEntries([...names.map((n) => roleOf[n]), "driver"].map((role) => [role, marker(role)])));
            assert.deepEqual(load.threads, marker("app"));
            assert.deepEqual(load.roleProcessCores, { driver: 1, upstream: 1, app: 1 });
            assert.deepEqual(baseline.roles, { upstream: marker("upstream"), driver: marker("driver") });
            // And the cluster's sampler, in the base image (python3), for the same roles.
            assert.deepEqual(load.cpuRoles.sort(), Object.keys(load.roles).sort());
            assert.deepEqual(baseline.cpuRoles.sort(), ["driver", "upstream"]);
            assert.equal(load.cpuSampler.image, "reg/base:1");
            assert.deepEqual(load.cpuSampler.command.slice(0, 2), ["python3", "-c"]);
        });
    }

    it("samples CPU in the cluster only, unless told to read this machine's too (the project's cluster only); counts a role's CPU limit over its pods", async () => {
        const kubeconfig = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "kubeconfig-")), "config");
        const loadOf = (d: Awaited<ReturnType<typeof declare>>) => d.declared.find((r) => r.inputs.jobUid !== undefined && r.name.includes("-load-"))!.inputs;
        const other = loadOf(await declare("uwsgi-gevent", { serverMode: "uwsgi-gevent", kubeImages: IMAGES, kubeconfig }));
        assert.deepEqual([other.roles, other.threads, other.cpuSampler.image], [{}, { kind: "none" }, "reg/base:1"]);
        await assert.rejects(declare("uwsgi-gevent", { serverMode: "uwsgi-gevent", kubeImages: IMAGES, kubeconfig, kubeCpuSampler: "local" }),
            /kubeCpuSampler: local reads this machine's \/proc.*fix: pulumi config set kubeCpuSampler cluster/);
        const local = loadOf(await declare("uwsgi-gevent", { serverMode: "uwsgi-gevent", kubeImages: IMAGES, kubeCpuSampler: "local" }));
        assert.equal(local.cpuSampler, null);
        assert.equal(local.roles.app.kind, "marked");
        const own = await declare("uwsgi-gevent", {
            serverMode: "uwsgi-gevent", kubeImages: IMAGES, replicas: "2", kubeCpuLimits: "app=500m upstream=1 driver=250m",
        });
        const ownLoad = own.declared.find((r) => r.inputs.jobUid !== undefined && r.name.includes("-load-"))!.inputs;
        assert.deepEqual(ownLoad.roleCores, { app: 1, upstream: 1, driver: 0.5 });
    });

    it("repeats the load and warms it up in the pods, the Job's deadline long enough for every run", async () => {
        const { of, declared } = await declare("uwsgi-gevent", { serverMode: "uwsgi-gevent", kubeImages: IMAGES, loadRepeats: "3", loadWarmupSeconds: "2" });
        const run = declared.find((r) => r.inputs.jobUid !== undefined && r.name.includes("-load-"))!.inputs;
        assert.deepEqual([run.repeats, run.warmupSeconds], [3, 2]);
        const job = of("batch/v1:Job").find((j) => j.name.includes("-load-"))!.inputs;
        const config = JSON.parse(job.spec.template.spec.containers[0].command[3]);
        assert.equal(config.repeats, 3);
        assert.deepEqual(config.warmup.argvs.map((argv: string[]) => argv.slice(5, 9)), [["-t", "2", "-c", "100"], ["-t", "2", "-c", "100"]]);
        // Warm-up and its check (2 + 300 s), then three runs of at most 300 s each, a wait to be released together
        // (the warm-up, a run and 120 s), and 120 s to spare.
        assert.equal(config.barrier.seconds, 2 + 300 + 120);
        assert.equal(job.spec.activeDeadlineSeconds, 2 + 300 + 3 * 300 + (2 + 300 + 120) + 120);
    });

    it("with several nodes, keeps the slow API and the load's pods off the nodes of the app and its ingress (required); on one, prefers it", async () => {
        for (const nodes of [2, 1]) {
            const { of, deployment } = await declare("nginx-uwsgi", { ...readStackConfig(ROOT, "nginx-uwsgi"), kubeImages: IMAGES }, nodes);
            const measured = { labelSelector: { matchLabels: { "app.kubernetes.io/instance": "nginx-uwsgi", "flask-gevent-lab/side": "measured" } }, topologyKey: "kubernetes.io/hostname" };
            const expected = nodes > 1
                ? { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [measured] } }
                : { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: measured }] } };
            for (const name of ["flask-app", "nginx"]) {
                assert.equal(deployment(name).spec.template.metadata.labels["flask-gevent-lab/side"], "measured", name);
                assert.equal(deployment(name).spec.template.spec.affinity, undefined, name);
            }
            assert.equal(deployment("slow-api").spec.template.metadata.labels["flask-gevent-lab/side"], "measuring");
            assert.deepEqual(deployment("slow-api").spec.template.spec.affinity, expected);
            for (const job of of("batch/v1:Job")) assert.deepEqual(job.inputs.spec.template.spec.affinity, expected);
        }
    });

    it("runs replicas of the app, and counts their capacity in the limit", async () => {
        const one = await declare("uwsgi-gevent", { serverMode: "uwsgi-gevent", kubeImages: IMAGES });
        const two = await declare("uwsgi-gevent", { serverMode: "uwsgi-gevent", kubeImages: IMAGES, replicas: "2" });
        assert.equal(two.deployment("flask-app").spec.replicas, 2);
        assert.equal(two.deployment("slow-api").spec.replicas, 1);
        const capacity = (d: typeof one) => d.declared.find((r) => r.inputs.jobUid !== undefined && r.name.includes("-load-"))!.inputs.capacity;
        // The tutorial's uWSGI: 2 workers x 2000 async cores per pod.
        assert.deepEqual([capacity(one), capacity(two)], [4000, 8000]);
    });

    it("mounts nginx's config from a ConfigMap and rolls its pods when the config changes", async () => {
        const { of, deployment } = await declare("nginx-uwsgi", { ...readStackConfig(ROOT, "nginx-uwsgi"), kubeImages: IMAGES });
        const conf = of("core/v1:ConfigMap").find((c) => c.inputs.metadata.name === "nginx-files")!.inputs.data["nginx.conf"];
        assert.match(conf, /uwsgi_pass app;/);
        assert.match(conf, /server 10\.0\.0\.\d+:3000;/);
        const template = deployment("nginx").spec.template;
        assert.equal(template.spec.volumes[0].configMap.name, "nginx-files");
        assert.ok(template.metadata.annotations["flask-gevent-lab/files"], "a hash of the files on the pod template");
    });

    it("loads its images into the project's cluster when no images are named, and never pulls them", async () => {
        const { declared, deployment } = await declare("uwsgi-gevent", { serverMode: "uwsgi-gevent" });
        const images = declared.filter((d) => d.type === "pulumi-nodejs:dynamic/kubernetes:ClusterImages");
        assert.equal(images.length, 1);
        assert.match(images[0].inputs.script, /scripts\/cluster\.sh$/);
        assert.equal(deployment("flask-app").spec.template.spec.containers[0].imagePullPolicy, "Never");
    });

    it("runs oha's load pods in an image of its own, built only for a load that asks; another cluster must name it", async () => {
        const job = (d: Awaited<ReturnType<typeof declare>>) => d.of("batch/v1:Job").find((j) => j.name.includes("-load-"))!.inputs.spec.template.spec.containers[0];
        const run = (d: Awaited<ReturnType<typeof declare>>) => d.declared.find((r) => r.inputs.jobUid !== undefined && r.name.includes("-load-"))!.inputs;
        const clusterImages = (d: Awaited<ReturnType<typeof declare>>) => d.declared.find((r) => r.type.endsWith(":ClusterImages"))!.inputs;
        const ab = await declare("uwsgi-gevent", { serverMode: "uwsgi-gevent" });
        const oha = await declare("uwsgi-gevent", { serverMode: "uwsgi-gevent", loadDriver: "oha" });
        assert.deepEqual([clusterImages(ab).drivers, clusterImages(oha).drivers], [[], ["oha"]]);
        assert.deepEqual([job(ab).image, job(oha).image], ["reg/base:1", "local/oha:1"]);
        assert.equal(JSON.parse(job(oha).command[3]).driver, "oha");
        assert.deepEqual([run(ab).driver, run(oha).driver], ["ab", "oha"]);
        // oha's threads may use its pod's cores; ab is one process on one. oha opens all its clients at once: 2 x 1000 requests
        // over 100 clients each, 10 rounds of the 1 s delay, where ab's first client starts a round alone.
        assert.deepEqual([run(ab).roleProcessCores.driver, run(oha).roleProcessCores.driver], [1, undefined]);
        assert.deepEqual([run(ab).ceilingRps, run(oha).ceilingRps], [2000 / 11, 2000 / 10]);
        // A capacity search: its probes in the same pods, after the runs, and time for them in the Job's deadline.
        const searched = await declare("uwsgi-gevent", { serverMode: "uwsgi-gevent", loadDriver: "oha", capacitySearch: "true", capacityProbeSeconds: "3" });
        const probe = JSON.parse(job(searched).command[3]).probe;
        assert.deepEqual(probe.argv.slice(probe.argv.indexOf("-q"), probe.argv.indexOf("-q") + 6), ["-q", "1", "--latency-correction", "-z", "3s", "-w"]);
        assert.ok(probe.argv.includes("--db-url"));
        // uwsgi-gevent: 50 to 8000 req/s, 9 rates on the ramp, 6 in the bisection, each miss probed again.
        assert.deepEqual([run(searched).capacitySearch.probeSeconds, run(searched).probes], [3, { seconds: 3, timeoutSeconds: 6, most: 9 + 2 * 6 + 1 }]);
        assert.equal(JSON.parse(job(oha).command[3]).probe, null);
        const deadline = (d: Awaited<ReturnType<typeof declare>>) => d.of("batch/v1:Job").find((j) => j.name.includes("-load-"))!.inputs.spec.activeDeadlineSeconds;
        assert.ok(deadline(searched) >= deadline(oha) + 22 * 3, `${deadline(searched)} s for the search, ${deadline(oha)} without`);
        const kubeconfig = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "kubeconfig-")), "config");
        await assert.rejects(declare("uwsgi-gevent", { serverMode: "uwsgi-gevent", loadDriver: "oha", kubeImages: IMAGES, kubeconfig }),
            /kubeImages: loadDriver oha runs the load pods in an image with oha, and none is named.*scripts\/cluster\.sh images oha.*oha=<ref>/);
        const named = await declare("uwsgi-gevent", { serverMode: "uwsgi-gevent", loadDriver: "oha", kubeImages: `${IMAGES} oha=reg/oha:1`, kubeconfig });
        assert.equal(job(named).image, "reg/oha:1");
    });

    it("refuses settings that mean nothing on a cluster, or only on one", () => {
        assert.throws(() => resolveSettings((k) => ({ replicas: "2" } as Record<string, string>)[k]), /replicas: 2 app pods need platform kubernetes/);
        assert.throws(() => resolveSettings((k) => ({ platform: "kubernetes", loadDriver: "k6" } as Record<string, string>)[k]), /loadDriver: k6 does not run in the cluster/);
        assert.throws(() => resolveSettings((k) => ({ platform: "kubernetes", loadParallelism: "300" } as Record<string, string>)[k]), /loadParallelism 300 is more than the 200 clients/);
        assert.throws(() => resolveSettings((k) => ({ platform: "kubernetes", kubeCpuLimits: "app=x" } as Record<string, string>)[k]), /kubeCpuLimits: "app=x"/);
        assert.throws(() => resolveSettings((k) => ({ kubeCpuSampler: "both" } as Record<string, string>)[k]), /kubeCpuSampler: both samples a cluster's pods, which need platform kubernetes/);
        assert.throws(() => resolveSettings((k) => ({ platform: "kubernetes", kubeCpuSampler: "node" } as Record<string, string>)[k]), /kubeCpuSampler.*cluster, local, both/);
        assert.equal(resolveSettings((k) => ({ platform: "kubernetes" } as Record<string, string>)[k]).kube.loadParallelism, 2);
        assert.equal(resolveSettings(() => undefined).kube.loadParallelism, 1);
    });
});
