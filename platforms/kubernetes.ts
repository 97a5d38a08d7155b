// The kubernetes platform: every service a Deployment and a ClusterIP Service
// in the stack's own namespace, through @pulumi/kubernetes; the load an Indexed
// Job inside the cluster. What each container runs comes from the same service
// specs as the local and Docker platforms (lib/kubernetes.ts turns them into
// objects). The project's own cluster (./lab cluster up) is the default; any
// other is named by its kubeconfig, with the images it can pull.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { cacheDir } from "../lib/cache";
import { codeHash } from "../lib/codeHash";
import {
    configMapManifest, deploymentManifest, imageOf, jobManifest, KubeContext, loadPodsThatFit, namespaceFor, nodeRefusal, nodeRooms, NodeRoom, podPaths,
    resourcesOf, roleMarker, serviceManifest, ServicePods, sideOf,
} from "../lib/kubernetes";
import { cpuSamplerArgv } from "../lib/load/clusterCpu";
import { cpuCores, CpuQuantities, KubeImages } from "../lib/kubernetesSettings";
import { mostProbes, probeTimeoutSeconds } from "../lib/load/capacity";
import { CpuRole } from "../lib/load/cpu";
import { LoadResult } from "../lib/load/result";
import { loadPodArgv, loadPodSeconds, podBarrierSeconds, POD_DRIVERS, PodDriver, splitCeilingRps, splitLoad } from "../lib/load/split";
import { ProcessProbe } from "../lib/probes";
import { cpuLimitRps } from "../lib/serverModes";
import { PlatformPaths, ServiceRole, ServiceSpec } from "../lib/services";
import { SAMPLE_MS } from "../lib/sampling";
import { KubeCpuSampler, KubeSettings } from "../lib/settings";
import { ClusterImages } from "../providers/clusterImages";
import { KubeLoadRun } from "../providers/kubeLoadRun";
import { which } from "./localTools";
import { claimName, defaultRunDir, DeployedService, Platform, PlatformLoad, PROJECT_ROOT, WAS_AT_ROOT } from "./platform";

export interface KubernetesPlatformArgs {
    /** Path of the kubeconfig; default the project's own cluster's (./lab cluster up). */
    kubeconfig?: string;
    /** Context in the kubeconfig; default its current one. */
    context?: string;
    /** The namespace, created and deleted with the stack; default fgl-<stack>. */
    namespace?: string;
    /** The images to run on another cluster (base, slow_api, flask_app, database_app); default built and loaded into the project's cluster. */
    images?: KubeImages;
    /** CPU each role's containers request; default none. */
    cpuRequests?: CpuQuantities;
    /** CPU each role's containers may use at most; default no limit. */
    cpuLimits?: CpuQuantities;
    /** Seconds a pod may take to become ready; default 30. */
    readyTimeoutSeconds?: number;
    /** kubectl, which collects the load's results; default the project's cluster's, else the one on PATH. */
    kubectl?: string;
    /** Who reads the roles' CPU: a sampler pod on every node (cluster), this machine's /proc (local: the project's cluster only), or both; default cluster. */
    cpuSampler?: KubeCpuSampler;
    /** The driver its load pods run: ab (in the base image) or oha (in an image of its own, built only for it); default ab. */
    loadDriver?: PodDriver;
    /** The nodes the stack's pods can use (checkSchedulable's): above 1, the measured side and what measures it land apart; default 1 node. */
    nodes?: ClusterNodes;
}

/** The nodes a stack's pods can use: how many, and the most CPU one of them has. */
export interface ClusterNodes {
    count: number;
    mostCores: number;
}

/** Every service a Deployment + Service; loads run as Jobs in the cluster. */
export class KubernetesPlatform extends pulumi.ComponentResource implements Platform {
    readonly kind = "kubernetes";
    readonly ownNetwork = true;
    readonly paths: PlatformPaths = podPaths();
    readonly runDir = defaultRunDir();
    /** The cluster's API, for every object of the stack. */
    readonly provider: k8s.Provider;
    readonly namespace: pulumi.Output<string>;
    private readonly ctx: KubeContext;
    /** The most CPU one of the nodes has, where the cluster told. */
    private readonly nodeCores: number | undefined;
    private readonly images: pulumi.Output<KubeImages>;
    private readonly kubectl: string;
    private readonly kubeconfig: string;
    private readonly context: string;
    private readonly names = new Set<string>();
    /** Its pods' processes are sampled from this machine's /proc (the project's cluster runs here). */
    private readonly sampled: boolean;
    /** A sampler pod on every node reads the roles' CPU during a load. */
    private readonly clusterSampled: boolean;
    /** Where its containerd keeps each running container's OCI bundle. */
    private readonly bundles: string;
    /** Pods per role, for the roles' CPU limits in all. */
    private readonly pods: Partial<Record<CpuRole, number>> = {};
    private readonly loadDriver: PodDriver;

    /** `name` names the platform's resources (provider, namespace, images); the namespace defaults to fgl-<stack>. */
    constructor(name: string, args: KubernetesPlatformArgs = {}, opts?: pulumi.ComponentResourceOptions) {
        super("flask-gevent-lab:platforms:Kubernetes", name, {}, opts);
        // Its own resources were at the stack's root before the platform was a component.
        const child = { parent: this, aliases: [WAS_AT_ROOT] };
        const cluster = resolveCluster(args.kubeconfig ?? "");
        this.kubeconfig = cluster.kubeconfig;
        this.context = args.context ?? "";
        this.kubectl = args.kubectl ?? cluster.kubectl;
        const sampler = args.cpuSampler ?? "cluster";
        if (sampler !== "cluster" && !cluster.own) {
            throw new Error(`kubeCpuSampler: ${sampler} reads this machine's /proc, where only the project's cluster's pods run ` +
                `(fix: pulumi config set kubeCpuSampler cluster)`);
        }
        this.sampled = sampler !== "cluster";
        this.clusterSampled = sampler !== "local";
        this.bundles = cluster.bundles;
        const ownImages = !args.images || Object.keys(args.images).length === 0;
        this.loadDriver = args.loadDriver ?? "ab";
        const image = POD_DRIVERS[this.loadDriver].image;
        const drivers = image === "base" ? [] : [image];
        const named = drivers.map((d) => ` ${d}=<ref>`).join("");
        if (ownImages && !cluster.own) {
            throw new Error(`kubeImages: another cluster can't run the images loaded into the project's own; build them (scripts/cluster.sh images${drivers.map((d) => ` ${d}`).join("")}), ` +
                `push them to a registry it pulls from, and name them (fix: pulumi config set kubeImages "base=<ref> slow_api=<ref> flask_app=<ref> database_app=<ref>${named}")`);
        }
        if (!ownImages && drivers.some((d) => !args.images![d])) {
            throw new Error(`kubeImages: loadDriver oha runs the load pods in an image with oha, and none is named: build it (scripts/cluster.sh images oha ` +
                `makes flask-gevent-lab/oha:<key>), push it, and add it (fix: pulumi config set kubeImages "<the images as now> oha=<ref>", or pulumi config set loadDriver ab)`);
        }
        this.provider = new k8s.Provider(`${name}-cluster`, {
            kubeconfig: this.kubeconfig,
            ...(this.context ? { context: this.context } : {}),
            // The project's cluster starts empty after every restart: what it can't reach is gone.
            ...(cluster.own ? { deleteUnreachable: true } : {}),
        }, child);
        const namespace = new k8s.core.v1.Namespace(`${name}-namespace`, {
            metadata: { name: args.namespace || namespaceFor(pulumi.getStack()) },
        }, { ...child, provider: this.provider });
        this.namespace = namespace.metadata.name;
        this.images = ownImages
            ? new ClusterImages(`${name}-images`, {
                script: path.join(PROJECT_ROOT, "scripts", "cluster.sh"),
                code: codeHash([path.join(PROJECT_ROOT, "python-apps"), path.join(PROJECT_ROOT, "scripts", "base-image.sh"),
                    ...drivers.map((d) => path.join(PROJECT_ROOT, "scripts", `${d}.sh`))]),
                drivers,
            }, child).images
            : pulumi.output(args.images!);
        this.ctx = {
            namespace: "", // set per object from this.namespace, which only the cluster knows
            stack: pulumi.getStack(),
            imagePullPolicy: ownImages ? "Never" : "IfNotPresent",
            cpuRequests: args.cpuRequests ?? {},
            cpuLimits: args.cpuLimits ?? {},
            readyTimeoutSeconds: args.readyTimeoutSeconds ?? 30,
            apart: (args.nodes?.count ?? 1) > 1,
        };
        this.nodeCores = args.nodes?.mostCores || undefined;
        this.registerOutputs({ namespace: this.namespace });
    }

    deploy(name: string, role: ServiceRole, spec: pulumi.Input<ServiceSpec>, opts: pulumi.CustomResourceOptions): DeployedService {
        claimName(this.names, role, Infinity);
        this.pods[role.kind] = (this.pods[role.kind] ?? 0) + (role.replicas ?? 1);
        const objects = pulumi.all([spec, this.images, this.namespace]).apply(([s, images, namespace]) => {
            const ctx = { ...this.ctx, namespace };
            const files = configMapManifest(s as ServiceSpec, ctx);
            return {
                files,
                deployment: deploymentManifest(s as ServiceSpec, role.kind, imageOf(role.image, images), role.replicas ?? 1, files.metadata.name, ctx),
                service: serviceManifest(s as ServiceSpec, ctx),
            };
        });
        const k8sOpts = { ...opts, provider: this.provider };
        const files = new k8s.core.v1.ConfigMap(`${name}-files`, objects.files, k8sOpts);
        // Fails fast: a pod that never gets ready fails the up with its status, not after the provider's 10 minutes.
        const timeout = `${this.ctx.readyTimeoutSeconds * 2 + 60}s`;
        const deployment = new k8s.apps.v1.Deployment(`${name}-deployment`, objects.deployment, {
            ...k8sOpts, dependsOn: [files], customTimeouts: { create: timeout, update: timeout },
        });
        // Ready once a pod behind it is: the provider waits for the Service's endpoints.
        const service = new k8s.core.v1.Service(`${name}-service`, objects.service, {
            ...k8sOpts, dependsOn: [deployment], customTimeouts: { create: timeout, update: timeout },
        });
        return {
            resource: service,
            threads: this.probe(role.kind),
            identity: pulumi.interpolate`${role.name}:${deployment.metadata.uid}:${deployment.metadata.generation}`,
            hosts: service.spec.clusterIP.apply((ip) => ({ local: ip, service: ip })),
        };
    }

    /** A role's processes on this machine, by the marker its containers carry; nobody's where the nodes are other machines. */
    private probe(role: CpuRole): pulumi.Output<ProcessProbe> {
        if (!this.sampled) return pulumi.output<ProcessProbe>({ kind: "none" });
        return this.namespace.apply((namespace): ProcessProbe => ({ kind: "marked", ...roleMarker(namespace, role), bundles: this.bundles }));
    }

    isRunning(): boolean {
        // Pods have ports of their own: nothing of this stack holds one of this machine's.
        return false;
    }

    runLoad(name: string, load: PlatformLoad, opts: pulumi.CustomResourceOptions): pulumi.Output<LoadResult> {
        const driver = load.driver;
        if (driver !== this.loadDriver) {
            throw new Error(`${name}: a load with ${driver} on a KubernetesPlatform made for ${this.loadDriver}'s (fix: its args' loadDriver: "${driver}")`);
        }
        const shares = splitLoad(load.requests, load.concurrency, load.parallelism);
        // Every pod waits before each run until its KubeLoadRun releases them together.
        const barrierSeconds = podBarrierSeconds(load);
        const search = load.capacitySearch;
        const probes = search ? { seconds: search.probeSeconds, timeoutSeconds: probeTimeoutSeconds(search.sloP99Ms), most: mostProbes(search) } : undefined;
        const job = pulumi.all([this.images, this.namespace, load.url, load.target, load.expectBody, load.runId, load.keepAlive])
            .apply(([images, namespace, url, target, expectBody, runId, keepAlive]) =>
            jobManifest({
                stack: this.ctx.stack, namespace, image: imageOf(POD_DRIVERS[driver].image, images), imagePullPolicy: this.ctx.imagePullPolicy,
                parts: shares.length,
                command: loadPodArgv({
                    driver, url, expectBody, requests: load.requests, concurrency: load.concurrency,
                    parts: shares.length, timeoutSeconds: load.timeoutSeconds, repeats: load.repeats, warmupSeconds: load.warmupSeconds, keepAlive,
                    barrierSeconds, probes,
                }),
                resources: resourcesOf("driver", this.ctx),
                // A new target or run id changes the pod template, which a Job can't change: it is replaced, so run again.
                // So is a new search: its probes run in the pods.
                annotations: { "flask-gevent-lab/target": target, "flask-gevent-lab/run-id": runId, "flask-gevent-lab/capacity-search": JSON.stringify(search ?? null) },
                activeDeadlineSeconds: loadPodSeconds({ ...load, barrierSeconds, probes }) + 120,
                apart: this.ctx.apart,
            }));
        const jobResource = new k8s.batch.v1.Job(`${name}-job`, job, { ...opts, provider: this.provider });
        const run = new KubeLoadRun(`${name}-run`, {
            kubectl: this.kubectl, kubeconfig: this.kubeconfig, context: this.context,
            namespace: this.namespace, job: jobResource.metadata.name, jobUid: jobResource.metadata.uid,
            url: load.url, requests: load.requests, concurrency: load.concurrency, delaySeconds: load.delaySeconds,
            driver, parts: shares.length, timeoutSeconds: load.timeoutSeconds, repeats: load.repeats, warmupSeconds: load.warmupSeconds,
            barrierSeconds, ceilingRps: splitCeilingRps(driver, shares, load.delaySeconds) ?? -1, capacitySearch: search ?? null, probes,
            capacity: Number.isFinite(load.capacity) ? load.capacity : -1,
            appCpuMs: load.appCpuMs, keepAlive: load.keepAlive,
            // The app's pods share its CPU limit where one is set, else a node's cores (the largest: they land on one where
            // they keep apart), else this machine's.
            cpuLimitRps: load.appCpuMs > 0
                ? cpuLimitRps(load.appCpuMs, load.appProcesses, this.roleCores(this.pods).app ?? this.nodeCores ?? os.cpus().length) : -1,
            maxFailedRequests: load.maxFailedRequests, resultsDir: load.resultsDir,
            threads: load.threads,
            roles: this.sampled ? pulumi.all([load.roles, this.probe("driver")]).apply(([roles, driver]) => ({ ...roles, driver })) : {},
            cpuRoles: pulumi.output(load.roles).apply((roles) => [...new Set([...Object.keys(roles), "driver"])]),
            cpuSampler: this.clusterSampled
                ? this.images.apply((images) => ({ image: imageOf("base", images), imagePullPolicy: this.ctx.imagePullPolicy, command: cpuSamplerArgv(SAMPLE_MS) }))
                : null,
            roleProcessCores: pulumi.output(load.roleProcessCores).apply((cores) => ({ driver: POD_DRIVERS[driver].processCores, ...cores })),
            roleCores: this.roleCores({ ...this.pods, driver: shares.length }),
        }, opts);
        return run.result;
    }

    /** Each limited role's CPU limit in cores, over all its pods. */
    private roleCores(pods: Partial<Record<CpuRole, number>>): Partial<Record<CpuRole, number>> {
        return Object.fromEntries(Object.entries(this.ctx.cpuLimits).map(([role, quantity]) =>
            [role, cpuCores(quantity!) * (pods[role as CpuRole] ?? 1)]));
    }
}

/**
 * The cluster a kubeconfig names ("": the project's own), the kubectl that talks to it ("" for none), and
 * for the project's own where its containerd keeps the containers' OCI bundles (scripts/cluster.sh: CONTAINERD_STATE).
 */
export function resolveCluster(kubeconfig: string): { kubeconfig: string; kubectl: string; own: boolean; bundles: string } {
    const dir = path.join(cacheDir(), "cluster");
    const ownConfig = path.join(dir, "kubeconfig");
    if (kubeconfig && path.resolve(kubeconfig) !== ownConfig) return { kubeconfig, kubectl: which("kubectl") ?? "", own: false, bundles: "" };
    const bundles = path.join(dir, "state", "containerd", "io.containerd.runtime.v2.task", "k8s.io");
    let bin = "";
    try {
        // scripts/cluster.sh records its binaries' folder while the cluster is up.
        bin = fs.readFileSync(path.join(dir, "run", "k8s-bin"), "utf8").trim();
    } catch {
        // Down.
    }
    return { kubeconfig: ownConfig, kubectl: bin && path.join(bin, "kubectl"), own: true, bundles };
}

/** Refuses, before anything is declared, a cluster that isn't there: the project's not started, a kubeconfig that doesn't exist or doesn't answer. */
export function checkCluster(kube: Pick<KubeSettings, "kubeconfig" | "context">): void {
    const { kubeconfig, kubectl, own } = resolveCluster(kube.kubeconfig);
    const notRunning = "the project's Kubernetes cluster is not running: start it with ./lab cluster up " +
        "(or use another cluster: pulumi config set kubeconfig <path>)";
    if (!fs.existsSync(kubeconfig)) {
        throw new Error(own ? notRunning : `kubeconfig: ${kubeconfig} does not exist (fix: pulumi config set kubeconfig <path of a kubeconfig>)`);
    }
    if (!kubectl || !fs.existsSync(kubectl)) {
        throw new Error(own ? notRunning : "kubectl is needed to collect the load's results: put it on PATH (scripts/kubernetes.sh builds the pinned one)");
    }
    try {
        execFileSync(kubectl, ["--kubeconfig", kubeconfig, ...(kube.context ? ["--context", kube.context] : []), "get", "--raw", "/readyz"],
            { stdio: ["ignore", "ignore", "pipe"], timeout: 15_000 });
    } catch (e) {
        const why = ((e as { stderr?: Buffer }).stderr?.toString() || (e as Error).message).trim().split("\n").slice(-2).join(" ");
        throw new Error(own ? `${notRunning} (${why})` : `the cluster of kubeconfig ${kubeconfig} does not answer: ${why}`);
    }
}

/**
 * Refuses, before anything is declared, a load of more pods than the project's cluster can schedule beside the
 * stack's services (`servicePods`: pods per role), by the CPU they request: the load's Job would wait for pods
 * that never start. On another cluster (which may add nodes while pods wait) it warns instead; one that won't
 * list its nodes and pods to this kubeconfig is not checked. The nodes the pods can use; undefined where unchecked.
 */
export function checkSchedulable(kube: KubeSettings, namespace: string, servicePods: Partial<Record<CpuRole, number>>): ClusterNodes | undefined {
    const { kubeconfig, kubectl, own } = resolveCluster(kube.kubeconfig);
    let nodes: Parameters<typeof nodeRooms>[0];
    let rooms: NodeRoom[];
    try {
        const items = (what: string[]) => JSON.parse(execFileSync(kubectl, ["--kubeconfig", kubeconfig, ...(kube.context ? ["--context", kube.context] : []),
            "get", ...what, "-o", "json"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 30_000, maxBuffer: 256 * 2 ** 20 })).items;
        nodes = items(["nodes"]);
        rooms = nodeRooms(nodes, items(["pods", "--all-namespaces"]), namespace);
    } catch {
        return undefined;
    }
    // A limit without a request is the request too.
    const request = (role: CpuRole) => cpuCores(kube.cpuRequests[role] ?? kube.cpuLimits[role] ?? "0");
    const pods: ServicePods = { measured: [], measuring: [] };
    for (const [role, count] of Object.entries(servicePods) as [CpuRole, number][]) pods[sideOf(role)].push(...Array<number>(count).fill(request(role)));
    const services = [...pods.measured, ...pods.measuring];
    const apart = rooms.length > 1;
    const fit = loadPodsThatFit(rooms, pods, request("driver"), kube.loadParallelism, apart);
    const usable: ClusterNodes = { count: rooms.length, mostCores: Math.max(0, ...rooms.map((r) => r.allocatableCores)) };
    if (fit.services && fit.load === kube.loadParallelism) return usable;
    const cores = (n: number) => `${Math.round(n * 1000) / 1000}`;
    const free = `its ${rooms.length} usable node(s) have ${cores(rooms.reduce((s, r) => s + Math.max(0, r.cpuCores), 0))} cores that other pods don't request`;
    const servicesNeed = `the stack's services request ${cores(services.reduce((a, b) => a + b, 0))}` +
        (apart ? ` (with several nodes the load's pods and the upstream keep off the nodes of the app, its ingress and database)` : "");
    const problem = !rooms.length
        ? `the cluster has no node its pods can run on (${nodes.map((n) => `${n.metadata.name}: ${nodeRefusal(n)}`).join("; ") || "no nodes"}) ` +
            `(fix: uncordon a node, or remove its taint)`
        : !fit.services
            ? `kubeCpuRequests: ${servicesNeed} cores, and ${free}: they can't all be scheduled (fix: lower kubeCpuRequests, or free the cluster)`
            : `loadParallelism ${kube.loadParallelism}: the cluster can schedule ${fit.load} load pod(s) beside the stack's services (${free}; ` +
                `${servicesNeed}, each load pod ${cores(request("driver"))}) (fix: ${fit.load ? `pulumi config set loadParallelism ${fit.load}, or ` : ""}` +
                `lower the load pods' request, kubeCpuRequests' driver${fit.load ? "" : ", or free the cluster"})`;
    if (own) throw new Error(problem);
    pulumi.log.warn(`${problem}; not refused: this cluster may add nodes while the pods wait`);
    return usable;
}
