// A ServiceSpec as Kubernetes objects: which image, which command, which
// probes and resources. Pure: the kubernetes platform hands these to
// @pulumi/kubernetes, the unit tests read them directly.
import { createHash } from "crypto";
import { CpuRole } from "./load/cpu";
import { containerPaths } from "./container";
import { CpuQuantities, cpuCores, ImageName, KubeImages } from "./kubernetesSettings";
import { ImageKind, PlatformPaths, ServiceSpec } from "./services";

/**
 * The environment variable every container of a stack carries, naming its namespace and CPU role: on a node
 * that is this machine, the load's sampler finds each role's processes by it (lib/procfs.ts, "marked").
 */
export const ROLE_MARKER = "FGL_ROLE";

export function roleMarker(namespace: string, role: CpuRole): { key: string; value: string } {
    return { key: ROLE_MARKER, value: `${namespace}/${role}` };
}

function markerEnv(namespace: string, role: CpuRole): { name: string; value: string } {
    return { name: ROLE_MARKER, value: roleMarker(namespace, role).value };
}

/** The namespace of a stack: a DNS label (lower case, digits, '-', at most 63). */
export function namespaceFor(stack: string): string {
    const label = `fgl-${stack}`.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/-+$/, "");
    return label.slice(0, 63).replace(/-+$/, "");
}

/** Where things are inside the project's images; other services are reached by their Service's ClusterIP. */
export function podPaths(): PlatformPaths {
    return containerPaths("bridge");
}

/** The image of a service's role. */
export function imageOf(kind: ImageKind | "base" | "oha", images: KubeImages): string {
    const name: ImageName = typeof kind === "object" ? (kind.app as ImageName) : kind === "oha" ? "oha" : "base";
    const ref = images[name];
    if (!ref) throw new Error(`no image for ${name} (kubeImages)`);
    return ref;
}

/** Where a pod finds the spec's files (a ConfigMap); they are copied into its run folder, which stays writable. */
export const FILES_MOUNT = "/etc/fgl-files";

const quote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;

/**
 * The container's command: the run folder with the spec's files, the setup, then the service itself
 * as the container's first process, as the spec's user (setpriv execs; runuser would stay in between).
 */
export function podCommand(spec: ServiceSpec): string[] {
    const asUser = (argv: string[]) => (spec.user ? ["setpriv", `--reuid=${spec.user}`, `--regid=${spec.user}`, "--init-groups", "--", ...argv] : argv);
    const steps = [
        `{ ulimit -n "$(ulimit -Hn)" 2>/dev/null || true; }`,
        `mkdir -p ${quote(spec.cwd)}`,
        ...(Object.keys(spec.files).length ? [`cp ${FILES_MOUNT}/* ${quote(spec.cwd)}/`] : []),
        ...(spec.user ? [`chown -R ${quote(spec.user)} ${quote(spec.cwd)}`] : []),
        `cd ${quote(spec.cwd)}`,
        ...spec.setup.map((argv) => asUser(argv).map(quote).join(" ")),
        'exec "$@"',
    ];
    return ["sh", "-c", steps.join(" && "), spec.name, ...asUser(spec.argv)];
}

/**
 * Kubernetes stops a container with SIGTERM, which some servers take otherwise (uWSGI reloads):
 * before it, this hook sends the service (`pid`, the container's first process) the spec's own stop
 * signal and waits for it to exit.
 */
export function preStopCommand(spec: ServiceSpec, pid = "1"): string[] {
    return ["sh", "-c", `kill -s ${spec.stopSignal.replace(/^SIG/, "")} ${pid}; while kill -0 ${pid} 2>/dev/null; do sleep 0.2; done`];
}

/** What is common to every object of a stack's services. */
export interface KubeContext {
    namespace: string;
    /** The stack, recorded as app.kubernetes.io/instance. */
    stack: string;
    /** Never for the project's cluster (images loaded into its runtime), IfNotPresent for others. */
    imagePullPolicy: "Never" | "IfNotPresent";
    cpuRequests: CpuQuantities;
    cpuLimits: CpuQuantities;
    readyTimeoutSeconds: number;
    /** The cluster has more than one node: the measured side's pods and what measures them must land apart. */
    apart: boolean;
}

/** The pod label telling the measured side (app, ingress, database) from what measures it (upstream, drivers). */
export const SIDE_LABEL = "flask-gevent-lab/side";
const MEASURED_ROLES: readonly CpuRole[] = ["app", "ingress", "postgres"];

export function sideOf(role: CpuRole): "measured" | "measuring" {
    return MEASURED_ROLES.includes(role) ? "measured" : "measuring";
}

/**
 * Where a pod of `role` may go: the upstream's and the drivers' pods keep off the nodes of the measured side's
 * (required where the cluster has several nodes, as on separate machines: the scheduler honours it both ways, so
 * the app also keeps off the upstream's node; preferred on one node, where it can't hold).
 */
export function affinityOf(role: CpuRole, ctx: Pick<KubeContext, "stack" | "apart">) {
    if (sideOf(role) === "measured") return undefined;
    const term = {
        topologyKey: "kubernetes.io/hostname",
        labelSelector: { matchLabels: { "app.kubernetes.io/instance": ctx.stack, [SIDE_LABEL]: "measured" } },
    };
    return {
        podAntiAffinity: ctx.apart
            ? { requiredDuringSchedulingIgnoredDuringExecution: [term] }
            : { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: term }] },
    };
}

export function labelsOf(service: string, stack: string): Record<string, string> {
    return { "app.kubernetes.io/name": service, "app.kubernetes.io/instance": stack, "app.kubernetes.io/part-of": "flask-gevent-lab" };
}

/** Just what picks a service's pods. */
export function selectorOf(service: string): Record<string, string> {
    return { "app.kubernetes.io/name": service };
}

export function resourcesOf(role: CpuRole, ctx: KubeContext): { requests?: Record<string, string>; limits?: Record<string, string> } {
    return {
        ...(ctx.cpuRequests[role] ? { requests: { cpu: ctx.cpuRequests[role]! } } : {}),
        ...(ctx.cpuLimits[role] ? { limits: { cpu: ctx.cpuLimits[role]! } } : {}),
    };
}

/** A Deployment of one service: `replicas` pods, ready when the spec's readiness check passes. */
export function deploymentManifest(spec: ServiceSpec, role: CpuRole, image: string, replicas: number, configMap: string | undefined, ctx: KubeContext) {
    const check = spec.ready.kind === "http"
        ? { httpGet: { path: spec.ready.path, port: spec.port } }
        : { tcpSocket: { port: spec.port } };
    return {
        metadata: { name: spec.name, namespace: ctx.namespace, labels: labelsOf(spec.name, ctx.stack) },
        spec: {
            replicas,
            selector: { matchLabels: selectorOf(spec.name) },
            template: {
                // The files' hash: a changed config rolls the pods (a mounted ConfigMap alone would not restart them).
                metadata: {
                    labels: { ...labelsOf(spec.name, ctx.stack), [SIDE_LABEL]: sideOf(role) },
                    annotations: { "flask-gevent-lab/files": filesHash(spec.files) },
                },
                spec: {
                    affinity: affinityOf(role, ctx),
                    automountServiceAccountToken: false,
                    enableServiceLinks: false,
                    terminationGracePeriodSeconds: 10,
                    containers: [{
                        name: spec.name,
                        image,
                        imagePullPolicy: ctx.imagePullPolicy,
                        command: podCommand(spec),
                        lifecycle: { preStop: { exec: { command: preStopCommand(spec) } } },
                        env: [...Object.entries(spec.env).map(([name, value]) => ({ name, value })), markerEnv(ctx.namespace, role)],
                        ports: [{ containerPort: spec.port, name: "service" }],
                        // The spec's own check, until it first passes; a pod that never answers is restarted.
                        startupProbe: { ...check, periodSeconds: 1, failureThreshold: ctx.readyTimeoutSeconds },
                        // Then only a TCP accept, which the kernel answers even while every worker is busy: an
                        // HTTP check would drop a busy one-request-at-a-time server from its Service mid-load.
                        readinessProbe: { tcpSocket: { port: spec.port }, periodSeconds: 2, timeoutSeconds: 5, failureThreshold: 3 },
                        resources: resourcesOf(role, ctx),
                        ...(configMap ? { volumeMounts: [{ name: "files", mountPath: FILES_MOUNT, readOnly: true }] } : {}),
                    }],
                    ...(configMap ? { volumes: [{ name: "files", configMap: { name: configMap } }] } : {}),
                },
            },
        },
    };
}

function filesHash(files: Record<string, string>): string {
    return createHash("sha256").update(JSON.stringify(Object.entries(files).sort())).digest("hex").slice(0, 16);
}

/** The spec's files, for the Deployment to mount. */
export function configMapManifest(spec: ServiceSpec, ctx: KubeContext) {
    return {
        metadata: { name: `${spec.name}-files`, namespace: ctx.namespace, labels: labelsOf(spec.name, ctx.stack) },
        data: spec.files,
    };
}

/** A ClusterIP Service in front of the service's pods, on the service's own port. */
export function serviceManifest(spec: ServiceSpec, ctx: KubeContext) {
    return {
        metadata: { name: spec.name, namespace: ctx.namespace, labels: labelsOf(spec.name, ctx.stack) },
        spec: {
            type: "ClusterIP",
            selector: selectorOf(spec.name),
            ports: [{ name: "service", port: spec.port, targetPort: spec.port, protocol: "TCP" }],
        },
    };
}

/** What a load Job runs. */
export interface LoadJobParams {
    stack: string;
    namespace: string;
    /** The image holding the driver (the base image: ab). */
    image: string;
    imagePullPolicy: KubeContext["imagePullPolicy"];
    /** Pods, each running its share (JOB_COMPLETION_INDEX picks it). */
    parts: number;
    command: string[];
    resources: ReturnType<typeof resourcesOf>;
    /** On the pod template: a change replaces the Job, so the load runs again. */
    annotations: Record<string, string>;
    /** The Job fails after this long. */
    activeDeadlineSeconds: number;
    /** As KubeContext's: the drivers' pods must keep off the measured side's nodes. */
    apart: boolean;
}

/** The labels of a load's pods (not a service's). */
export function loadLabels(stack: string): Record<string, string> {
    return { "app.kubernetes.io/name": "load", "app.kubernetes.io/instance": stack, "app.kubernetes.io/part-of": "flask-gevent-lab" };
}

/** What a load's CPU sampler runs, and whose it is. */
export interface CpuSamplerParams {
    namespace: string;
    /** The DaemonSet's name. */
    name: string;
    /** The load's Job, its owner: deleting the Job (a destroy, a new run) deletes the sampler, even after an interrupted up. */
    job: { name: string; uid: string };
    /** An image with python3 (the base image). */
    image: string;
    imagePullPolicy: KubeContext["imagePullPolicy"];
    command: string[];
}

/** The label picking a sampler's pods: its name. */
export const CPU_SAMPLER_LABEL = "flask-gevent-lab/cpu-sampler";

/**
 * A DaemonSet sampling every node's CPU while a load runs (lib/load/clusterCpu.ts): its pods see the host's processes
 * (hostPID) and nothing else of it, on every node, tainted ones too. Of neither side (affinityOf): it keeps no pod
 * off a node.
 */
export function cpuSamplerManifest(p: CpuSamplerParams) {
    const labels = { "app.kubernetes.io/name": "cpu-sampler", "app.kubernetes.io/part-of": "flask-gevent-lab", [CPU_SAMPLER_LABEL]: p.name };
    return {
        apiVersion: "apps/v1",
        kind: "DaemonSet",
        metadata: {
            name: p.name, namespace: p.namespace, labels,
            ownerReferences: [{ apiVersion: "batch/v1", kind: "Job", name: p.job.name, uid: p.job.uid }],
        },
        spec: {
            selector: { matchLabels: { [CPU_SAMPLER_LABEL]: p.name } },
            template: {
                metadata: { labels },
                spec: {
                    hostPID: true,
                    automountServiceAccountToken: false,
                    enableServiceLinks: false,
                    terminationGracePeriodSeconds: 1,
                    tolerations: [{ operator: "Exists" }],
                    // Its program reads Linux's /proc.
                    nodeSelector: { "kubernetes.io/os": "linux" },
                    containers: [{
                        name: "sampler", image: p.image, imagePullPolicy: p.imagePullPolicy, command: p.command,
                        env: [{ name: "NODE_NAME", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } }],
                    }],
                },
            },
        },
    };
}

/** An Indexed Job of `parts` pods started together, none retried (a failed share fails the load). */
export function jobManifest(p: LoadJobParams) {
    return {
        metadata: {
            namespace: p.namespace, labels: loadLabels(p.stack),
            // The load's own resource waits for the Job and reads its pods' results; a Job that did
            // not complete is replaced at the next up, so the load runs again.
            annotations: { "pulumi.com/skipAwait": "true", "pulumi.com/replaceUnready": "true" },
        },
        spec: {
            completionMode: "Indexed",
            completions: p.parts,
            parallelism: p.parts,
            backoffLimit: 0,
            activeDeadlineSeconds: p.activeDeadlineSeconds,
            template: {
                metadata: { labels: loadLabels(p.stack), annotations: p.annotations },
                spec: {
                    restartPolicy: "Never",
                    automountServiceAccountToken: false,
                    enableServiceLinks: false,
                    containers: [{
                        name: "driver", image: p.image, imagePullPolicy: p.imagePullPolicy, command: p.command, resources: p.resources,
                        // Recorded with the pod's result: where each share ran.
                        env: [{ name: "NODE_NAME", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } }, markerEnv(p.namespace, "driver")],
                    }],
                    affinity: affinityOf("driver", p),
                },
            },
        },
    };
}

/** What a node has left for a stack's pods: the CPU that pods of other namespaces don't request, and pod slots. */
export interface NodeRoom {
    name: string;
    cpuCores: number;
    pods: number;
    /** Its allocatable CPU, before any pod's request. */
    allocatableCores: number;
}

interface NodeObject {
    metadata: { name: string };
    spec?: { unschedulable?: boolean; taints?: { key?: string; effect: string }[] };
    status?: { allocatable?: Record<string, string>; conditions?: { type: string; status: string }[] };
}

type ContainerObject = { resources?: { requests?: Record<string, string>; limits?: Record<string, string> } };

interface PodObject {
    metadata: { namespace: string };
    spec: { nodeName?: string; containers: ContainerObject[]; initContainers?: ContainerObject[] };
    status?: { phase?: string };
}

/** The CPU a pod takes from its node as the scheduler counts it: its containers', or its largest init container's if more. */
function podRequest(pod: PodObject): number {
    // A limit without a request is the request too. (A quantity this can't read counts as none: the scheduler has the last word.)
    const request = (c: ContainerObject) => cpuCores(c.resources?.requests?.cpu ?? c.resources?.limits?.cpu ?? "0") || 0;
    const containers = pod.spec.containers.reduce((sum, c) => sum + request(c), 0);
    return Math.max(containers, ...(pod.spec.initContainers ?? []).map(request));
}

/** Why a node takes none of the stack's pods; null where it takes them. */
export function nodeRefusal(node: NodeObject): string | null {
    if (node.spec?.unschedulable) return "cordoned";
    const taint = (node.spec?.taints ?? []).find((t) => t.effect === "NoSchedule" || t.effect === "NoExecute");
    if (taint) return `tainted ${taint.key ?? ""}:${taint.effect}`;
    if (!node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True")) return "not Ready";
    return null;
}

/**
 * Each node the stack's pods can land on (Ready, schedulable, no taint that keeps untolerating pods off), with what
 * the running pods outside `namespace` leave of it: the stack's own pods are replaced or kept by its next up.
 */
export function nodeRooms(nodes: NodeObject[], pods: PodObject[], namespace: string): NodeRoom[] {
    return nodes.filter((n) => nodeRefusal(n) === null).map((node) => {
        const running = pods.filter((p) => p.spec.nodeName === node.metadata.name && p.metadata.namespace !== namespace
            && p.status?.phase !== "Succeeded" && p.status?.phase !== "Failed");
        const requested = running.reduce((sum, p) => sum + podRequest(p), 0);
        const allocatable = node.status?.allocatable ?? {};
        return {
            name: node.metadata.name,
            cpuCores: cpuCores(allocatable.cpu ?? "0") - requested,
            pods: Number(allocatable.pods ?? 0) - running.length,
            allocatableCores: cpuCores(allocatable.cpu ?? "0"),
        };
    });
}

/** The CPU each of a stack's service pods requests, by side (see affinityOf). */
export interface ServicePods {
    measured: number[];
    measuring: number[];
}

/**
 * How many of `wanted` load pods (`loadPodCores` requested each) the nodes take once the stack's service pods are
 * placed, each pod on the node with the most CPU left, as the scheduler spreads them; services false where the
 * services alone don't fit. `apart` (affinityOf's): the upstream first, the measured side only where no measuring pod
 * is, and the load only where no measured pod is; an estimate (the services' pods are created at once, in any order:
 * on nodes alike it comes to the same).
 */
export function loadPodsThatFit(rooms: NodeRoom[], pods: ServicePods, loadPodCores: number, wanted: number, apart: boolean): { services: boolean; load: number } {
    const left = rooms.map((r) => ({ ...r, sides: new Set<string>() }));
    const place = (side: "measured" | "measuring", avoid?: string) => (cores: number) => {
        const node = left.filter((r) => r.pods >= 1 && r.cpuCores >= cores - 1e-9 && !(apart && avoid && r.sides.has(avoid)))
            .sort((a, b) => b.cpuCores - a.cpuCores)[0];
        if (!node) return false;
        node.cpuCores -= cores;
        node.pods -= 1;
        node.sides.add(side);
        return true;
    };
    const biggestFirst = (cores: number[]) => [...cores].sort((a, b) => b - a);
    const services = apart
        ? biggestFirst(pods.measuring).every(place("measuring")) && biggestFirst(pods.measured).every(place("measured", "measuring"))
        : biggestFirst([...pods.measured, ...pods.measuring]).every(place("measured"));
    if (!services) return { services: false, load: 0 };
    let load = 0;
    while (load < wanted && place("measuring", "measured")(loadPodCores)) load++;
    return { services: true, load };
}
