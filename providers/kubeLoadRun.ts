// The result of a load that ran as an Indexed Job in a cluster, as a Node.js
// dynamic resource: waits for the Job (its own resource skips the provider's
// wait), reads each pod's one-line result from its log (its warm-up, then each
// measured run of its share), merges each run across the pods exactly, judges
// each run and combines them into one normalized result (medians, spread, as
// on this machine), runs a capacity search's probes in the same pods where
// asked (each released together, read back and judged before the next),
// appends it under results/<stack>/, and fails the up if more requests failed
// than allowed. A new Job (a new target, a new run
// id) is a new result; a result over the failure threshold deletes its Job, so
// the next up (after a refresh) measures again as on the other platforms. Each
// role's CPU and the app's threads are sampled while the Job runs, so the result
// names who ran out first, as on this machine: by a sampler pod on every node
// (a DaemonSet the Job owns, started before the pods' release, read and deleted
// after the Job), or where the pods' node is this machine from its /proc (by
// the marker every container carries), or both. kubectl talks to the cluster:
// the kubeconfig's credentials are whatever it supports.
import { execFile } from "child_process";
import * as os from "os";
import * as pulumi from "@pulumi/pulumi";
import { CPU_SAMPLER_LABEL, cpuSamplerManifest, CpuSamplerParams, ROLE_MARKER } from "../lib/kubernetes";
import { ClusterCpu, clusterCpu, containerRoles, parseSamplerLog, PodContainers, samplerNote } from "../lib/load/clusterCpu";
import { CpuRole, CpuSnapshot, CpuUsage, RoleLimit, snapshotsSpanning, summarizeCpu, unseenUnreadable } from "../lib/load/cpu";
import { capacityOf, CapacityResult, CapacitySearch, nextRate, Probe, probeConnections, probeOf } from "../lib/load/capacity";
import { mergePodResults } from "../lib/load/merge";
import { loadResult, representativeRun } from "../lib/load/repeats";
import { LoadPodSpec, loadPodSeconds, POD_BARRIER, PodDriver, probeShare } from "../lib/load/split";
import { judgeRun, LoadResult, PodRun } from "../lib/load/result";
import { countThreads, ProcessProbe } from "../lib/probes";
import { SAMPLE_MS, startSampling } from "../lib/sampling";
import { keepResult, replaceOnChange } from "./results";

export interface KubeLoadRunInputs {
    kubectl: string;
    kubeconfig: string;
    /** "" for the kubeconfig's current context. */
    context: string;
    namespace: string;
    /** The Job's name, and its uid (a new Job is a new run). */
    job: string;
    jobUid: string;
    /** Target, query string included. */
    url: string;
    requests: number;
    concurrency: number;
    delaySeconds: number;
    driver: PodDriver;
    /** Pods of the Job. */
    parts: number;
    /** The most the split driver can reach against an ideal server (-1: none). */
    ceilingRps: number;
    timeoutSeconds: number;
    /** Measured runs, after the warm-up. */
    repeats: number;
    /** Seconds of load at the load's clients before the measured runs; 0 for none. */
    warmupSeconds: number;
    /** Seconds each pod waits to be released before each measured run. */
    barrierSeconds: number;
    /** Requests the target can hold at once (Infinity as -1). */
    capacity: number;
    /** Milliseconds of CPU each request burns in the app's handler; 0: none. */
    appCpuMs: number;
    /** Whether the pods' ab kept its connections (-k). */
    keepAlive: boolean;
    /** The most the app's CPU allows (Infinity as -1): its pods' processes over the cores they may use. */
    cpuLimitRps: number;
    /** -1 for never. */
    maxFailedRequests: number;
    resultsDir: string;
    /** Whose threads are counted before and during the load (the app's pods, where their node is this machine). */
    threads: ProcessProbe;
    /** Each role's processes, the load's pods' included, sampled during the Job where their node is this machine; {}: none. */
    roles: Partial<Record<CpuRole, ProcessProbe>>;
    /** The most cores one process of a role can use (1 for GIL-bound Python and for ab). */
    roleProcessCores: Partial<Record<CpuRole, number>>;
    /** A role's CPU limit in cores, over all its pods; absent: none. */
    roleCores: Partial<Record<CpuRole, number>>;
    /** The roles the load's CPU is read for (the cluster's sampler). */
    cpuRoles: CpuRole[];
    /** What the CPU sampler's pods run (lib/load/clusterCpu.ts); null: no sampler in the cluster. */
    cpuSampler: Pick<CpuSamplerParams, "image" | "imagePullPolicy" | "command"> | null;
    /** A capacity search in the pods after the runs (oha); null: none. */
    capacitySearch: CapacitySearch | null;
    /** Its probes as the pods run them (for the deadline); absent: none. */
    probes?: LoadPodSpec["probes"];
}

/** Epoch seconds on this machine's sampler's clock (performance.now). */
function onLocalClock(epochSeconds: number): number {
    return (epochSeconds * 1000 - performance.timeOrigin) / 1000;
}

/** Snapshots of the roles' CPU, on the clock `clock` turns epoch seconds into, over `cores`. */
interface CpuSeries {
    snapshots: CpuSnapshot[];
    clock: (epochSeconds: number) => number;
    cores: number;
    /** Per role, the cores of the nodes it ran on, where the cluster's sampler tells (ClusterCpu's). */
    roleCores?: Partial<Record<CpuRole, number>>;
}

/**
 * CPU per role over one run of the pods, from the snapshots spanning it; null when none of the roles' processes
 * was seen or nothing was sampled.
 */
function cpuOfRun(inputs: KubeLoadRunInputs, series: CpuSeries, pods: PodRun[]): CpuUsage | null {
    const start = Math.min(...pods.map((p) => Date.parse(p.startedAt) / 1000));
    const end = Math.max(...pods.map((p) => Date.parse(p.startedAt) / 1000 + p.timeTakenSeconds));
    const spanning = unseenUnreadable(snapshotsSpanning(series.snapshots, series.clock(start), series.clock(end)));
    if (!spanning.length || Object.values(spanning[0].roles).every((r) => r === null)) return null;
    // Samples lost at an edge (a sampler's log rotated, its pod restarted) would pass part of the run off as all of it.
    if (spanning[0].at > series.clock(start) || spanning[spanning.length - 1].at < series.clock(end)) return null;
    const limits = Object.fromEntries((Object.keys(spanning[0].roles) as CpuRole[]).map((role) =>
        [role, { cores: lowest(inputs.roleCores[role], series.roleCores?.[role]), processCores: inputs.roleProcessCores[role] }])) as Partial<Record<CpuRole, RoleLimit>>;
    return summarizeCpu(spanning, series.cores, limits);
}

/** A limit passed through the engine as -1 where there is none (it can't hold Infinity). */
function unbounded(limit: number): number {
    return limit < 0 ? Infinity : limit;
}

/** The lower of two caps, either missing. */
function lowest(a: number | undefined, b: number | undefined): number | undefined {
    return a === undefined ? b : b === undefined ? a : Math.min(a, b);
}

/** How long the sampler's pods may take to run on every node; the load then goes on without them. */
const SAMPLER_READY_SECONDS = 60;

/** A load's sampler DaemonSet, by name (also its pods' CPU_SAMPLER_LABEL). */
interface CpuSampler {
    name: string;
}

function kubectlJson(inputs: KubeLoadRunInputs, args: string[]) {
    return kubectl(inputs, [...args, "-o", "json"]).then((out) => JSON.parse(out));
}

/**
 * Starts the load's CPU sampler (a DaemonSet the Job owns) and waits until it runs on every node; where it can't (the
 * cluster forbids the host's PIDs, no node takes it in time), deletes it and says why: the load then runs without it.
 */
async function startCpuSampler(inputs: KubeLoadRunInputs): Promise<CpuSampler | { reason: string }> {
    const sampler = { name: `cpu-sampler-${inputs.jobUid.slice(0, 8)}` };
    const manifest = cpuSamplerManifest({ namespace: inputs.namespace, name: sampler.name, job: { name: inputs.job, uid: inputs.jobUid }, ...inputs.cpuSampler! });
    try {
        // One left by an up that was stopped while this Job's load ran.
        await deleteCpuSampler(inputs, sampler, true);
        await kubectl(inputs, ["create", "-f", "-"], JSON.stringify(manifest));
    } catch (e) {
        return { reason: `the CPU sampler could not be created: ${(e as Error).message}` };
    }
    const until = Date.now() + SAMPLER_READY_SECONDS * 1000;
    let reason = `its pods did not run on every node within ${SAMPLER_READY_SECONDS} s`;
    while (Date.now() < until) {
        try {
            const status = (await kubectlJson(inputs, ["get", "daemonset", sampler.name])).status ?? {};
            if (status.desiredNumberScheduled > 0 && status.numberReady === status.desiredNumberScheduled) return sampler;
            // A pod the cluster refuses (a pod security level that forbids the host's PIDs) is never going to run.
            const refused = (await kubectlJson(inputs, ["get", "events", "--field-selector", `involvedObject.name=${sampler.name},reason=FailedCreate`])).items;
            if (refused.length) {
                reason = refused[refused.length - 1].message;
                break;
            }
        } catch (e) {
            reason = (e as Error).message;
            // Deleted with its owner: the Job is gone.
            if (NOT_FOUND.test(reason)) break;
        }
        await new Promise((r) => setTimeout(r, 500));
    }
    await deleteCpuSampler(inputs, sampler);
    return { reason: `the CPU sampler did not run: ${reason}` };
}

/** Every node's samples, as snapshots of the roles of the namespace's containers; why not, where they can't be had. */
async function readCpuSampler(inputs: KubeLoadRunInputs, sampler: CpuSampler): Promise<ClusterCpu | { reason: string }> {
    try {
        const pods = (await kubectlJson(inputs, ["get", "pods", "-l", `${CPU_SAMPLER_LABEL}=${sampler.name}`])).items as Pod[];
        const logs = await Promise.all(pods.map((pod) => kubectl(inputs, ["logs", pod.metadata.name])));
        const containers = (await kubectlJson(inputs, ["get", "pods"])).items as PodContainers[];
        const roles = containerRoles(containers, ROLE_MARKER, inputs.namespace);
        // Only the roles this load measures (a baseline: the slow API and its driver).
        for (const [id, role] of roles) if (!inputs.cpuRoles.includes(role)) roles.delete(id);
        const cpu = clusterCpu(logs.map(parseSamplerLog), roles);
        if (cpu.snapshots.length < 2) return { reason: `the CPU sampler's pods (${sampler.name}) printed fewer than two samples` };
        const seen = cpu.snapshots.some((s) => Object.values(s.roles).some((processes) => Object.keys(processes ?? {}).length > 0));
        return seen ? cpu : { reason: `the CPU sampler's pods saw no process of the load's containers` };
    } catch (e) {
        // The load ran: without the samples it still has its figures.
        return { reason: `the CPU sampler's samples could not be read: ${(e as Error).message}` };
    }
}

async function deleteCpuSampler(inputs: KubeLoadRunInputs, sampler: CpuSampler, wait = false): Promise<void> {
    await kubectl(inputs, ["delete", "daemonset", sampler.name, "--ignore-not-found", `--wait=${wait}`]).catch(() => undefined);
}

/** kubectl's output; `input` is written to its stdin. */
function kubectl(inputs: KubeLoadRunInputs, args: string[], input?: string): Promise<string> {
    const global = ["--kubeconfig", inputs.kubeconfig, ...(inputs.context ? ["--context", inputs.context] : []), "-n", inputs.namespace];
    return new Promise((resolve, reject) => {
        const child = execFile(inputs.kubectl, [...global, ...args], { maxBuffer: 256 * 2 ** 20, timeout: 60_000 }, (error, stdout, stderr) => {
            if (error) return reject(new Error(`kubectl ${args.slice(0, 3).join(" ")}: ${(stderr || error.message).trim()}`));
            resolve(stdout);
        });
        if (input !== undefined) child.stdin!.end(input);
    });
}

interface JobStatus {
    succeeded?: number;
    failed?: number;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
}

/** Container states a pod does not leave by waiting: its image can't be had, or its spec is wrong. */
const STUCK = ["ErrImageNeverPull", "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError", "CreateContainerError"];

/** Why the Job can't succeed, if its status or a pod's says so. */
function jobFailure(status: JobStatus, pods: Pod[]): string | undefined {
    const failed = status.conditions?.find((c) => c.type === "Failed" && c.status === "True");
    if (failed) return `failed (${failed.reason}: ${failed.message})`;
    for (const pod of pods) {
        const waiting = pod.status?.containerStatuses?.find((c) => STUCK.includes(c.state?.waiting?.reason ?? ""))?.state?.waiting;
        if (waiting) return `can't start pod ${pod.metadata.name}: ${waiting.reason}: ${waiting.message ?? ""}`;
    }
    return undefined;
}

/** The Job's status and pods; `error` where kubectl failed this time (an API server busy with the load). Throws when the Job is gone. */
async function pollJob(inputs: KubeLoadRunInputs): Promise<{ status: JobStatus; pods: Pod[] } | { error: string }> {
    try {
        const status = ((await kubectlJson(inputs, ["get", "job", inputs.job])).status ?? {}) as JobStatus;
        return { status, pods: await jobPods(inputs) };
    } catch (e) {
        const error = (e as Error).message;
        if (NOT_FOUND.test(error)) {
            throw new Error(`load job ${inputs.namespace}/${inputs.job} is gone (deleted after a load that failed, or by hand): ` +
                "a refresh recreates it, so `./lab up` or `pulumi up --refresh` measures again");
        }
        return { error };
    }
}

/**
 * Polls the Job every `everyMs` until `done` says so, failing with the pods' state and logs when the Job
 * can't succeed or the deadline passes. A kubectl that fails now and then is tried again until then.
 */
async function pollUntil(inputs: KubeLoadRunInputs, deadline: { at: number; seconds: number }, everyMs: number, what: string,
    done: (status: JobStatus, pods: Pod[]) => Promise<boolean>): Promise<void> {
    let lastError = "";
    for (;;) {
        const polled = await pollJob(inputs);
        if ("error" in polled) lastError = polled.error;
        else {
            const why = jobFailure(polled.status, polled.pods);
            if (why) throw new Error(`load job ${inputs.namespace}/${inputs.job} ${why}\n${await diagnose(inputs)}`);
            if (await done(polled.status, polled.pods)) return;
        }
        if (Date.now() > deadline.at) {
            throw new Error(`load job ${inputs.namespace}/${inputs.job} ${what} within ${deadline.seconds} s` +
                `${lastError ? ` (last error: ${lastError})` : ""}\n${await diagnose(inputs)}`);
        }
        await new Promise((r) => setTimeout(r, everyMs));
    }
}

/** The deadline of everything the pods do, from now: their program's longest, and time to start them. */
function jobDeadline(inputs: KubeLoadRunInputs): { at: number; seconds: number } {
    const seconds = loadPodSeconds(inputs) + 150;
    return { at: Date.now() + seconds * 1000, seconds };
}

/** Waits until every pod of the Job has succeeded, polling every 2 s (this machine may be the node under load). */
async function waitForJob(inputs: KubeLoadRunInputs, deadline: { at: number; seconds: number }): Promise<void> {
    await pollUntil(inputs, deadline, 2000, "did not finish", async (status) => (status.succeeded ?? 0) >= inputs.parts);
}

/** A pod's barrier file: its text, or null where the pod can't be reached or hasn't written it. */
async function barrierFile(inputs: KubeLoadRunInputs, pod: string, file: string): Promise<string | null> {
    try {
        return (await kubectl(inputs, ["exec", pod, "--", "cat", `${POD_BARRIER.dir}/${file}`])).trim();
    } catch {
        return null;
    }
}

/**
 * Writes `text` as each pod's go file (lib/load/split.ts, POD_BARRIER), trying a pod twice. A pod this can't
 * reach is never released: it fails on its own, and the Job with it.
 */
async function tellPods(inputs: KubeLoadRunInputs, pods: string[], text: string): Promise<void> {
    const go = `${POD_BARRIER.dir}/${POD_BARRIER.go}`;
    const tell = (pod: string) => kubectl(inputs, ["exec", pod, "--", "sh", "-c", `echo ${text} > ${go}.tmp && mv ${go}.tmp ${go}`]);
    await Promise.allSettled(pods.map((pod) => tell(pod).catch(() => tell(pod))));
}

/**
 * Releases the Job's pods together for one step (lib/load/split.ts, barrierSeconds): waits until every pod says
 * it is ready for `step`, then gives each the same start time, far enough ahead for every kubectl exec to arrive
 * before it, and `values`. Fails, with the pods' state, when the Job fails or a pod is not ready in time. The
 * pods' names, by completion index.
 */
async function releaseStep(inputs: KubeLoadRunInputs, deadline: { at: number; seconds: number }, step: string, what: string,
    values: string[] = []): Promise<{ pods: string[]; at: number }> {
    let pods: Pod[] = [];
    let slowestSeconds = 0;
    await pollUntil(inputs, deadline, 500, `was not ready for ${what}`, async (_, all) => {
        pods = all;
        const asked = Date.now();
        const ready = await Promise.all(pods.map((pod) => barrierFile(inputs, pod.metadata.name, POD_BARRIER.ready)));
        slowestSeconds = (Date.now() - asked) / 1000;
        return pods.length === inputs.parts && ready.every((r) => r === step);
    });
    // As far ahead as a round of kubectl exec took, three times over, and at least a second.
    const at = Date.now() / 1000 + Math.min(10, Math.max(1, 3 * slowestSeconds));
    const names = pods.map((p) => p.metadata.name);
    await tellPods(inputs, names, [step, at.toFixed(3), ...values].join(" "));
    return { pods: [...pods].sort((a, b) => completionIndex(a) - completionIndex(b)).map((p) => p.metadata.name), at };
}

/** Releases the Job's pods together before each measured run. */
async function releaseRuns(inputs: KubeLoadRunInputs, deadline: { at: number; seconds: number }): Promise<void> {
    for (let run = 0; run < inputs.repeats; run++) await releaseStep(inputs, deadline, String(run), `run ${run + 1} of ${inputs.repeats}`);
}

/**
 * The capacity search in the pods, after their runs: each probe's rate and connections split over the pods,
 * released together; their results merged exactly, as a run's are, and judged with the CPU the cluster's
 * sampler (or this machine's) read over it; then the pods are told to stop.
 */
async function searchInPods(inputs: KubeLoadRunInputs, search: CapacitySearch, deadline: { at: number; seconds: number },
    cpuSeries: () => Promise<CpuSeries | null>): Promise<CapacityResult> {
    const probes: Probe[] = [];
    let pods: string[] = [];
    let step = 0;
    for (let rate = nextRate(search, probes); rate !== null; rate = nextRate(search, probes), step++) {
        const token = `p${step}`;
        const share = probeShare(rate, probeConnections(search.sloP99Ms, rate), inputs.parts);
        const released = await releaseStep(inputs, deadline, token, `probe ${step + 1} (${rate} req/s)`, [String(share.rate), String(share.connections)]);
        pods = released.pods;
        // Not read while it runs: each read is a kubectl exec on the machine under load.
        await new Promise((r) => setTimeout(r, Math.max(0, (released.at + search.probeSeconds) * 1000 - Date.now())));
        let results: string[] = [];
        await pollUntil(inputs, deadline, 500, `did not finish probe ${step + 1} (${rate} req/s)`, async () => {
            results = await Promise.all(pods.map((pod) => barrierFile(inputs, pod, POD_BARRIER.probe).then((r) => r ?? "")));
            return results.every((r) => r.includes(`"token":"${token}"`));
        });
        const [merged] = mergePodResults(results, { driver: inputs.driver, parts: inputs.parts, repeats: 1 }).runs;
        const series = await cpuSeries();
        probes.push(probeOf(rate, search.probeSeconds, search.sloP99Ms, merged, {
            cpu: series && cpuOfRun(inputs, series, merged.pods), held: null, listen: null, upstream: null,
            capacity: unbounded(inputs.capacity), delaySeconds: inputs.delaySeconds,
            startedAt: merged.pods.map((p) => p.startedAt).sort()[0],
        }));
    }
    await tellPods(inputs, pods.length ? pods : (await jobPods(inputs)).map((p) => p.metadata.name), `p${step} stop`);
    return capacityOf(search, probes);
}

const NOT_FOUND = /NotFound|not found/;

async function jobPods(inputs: KubeLoadRunInputs): Promise<Pod[]> {
    return (await kubectlJson(inputs, ["get", "pods", "-l", `batch.kubernetes.io/job-name=${inputs.job}`])).items as Pod[];
}

/** The pods' phases, the namespace's recent warnings and each pod's log tail: why a load did not run. */
async function diagnose(inputs: KubeLoadRunInputs): Promise<string> {
    const parts: string[] = [];
    const tryRun = async (title: string, args: string[], tail = 3000) => {
        try {
            parts.push(`--- ${title}\n${(await kubectl(inputs, args)).slice(-tail)}`);
        } catch (e) {
            parts.push(`--- ${title}: ${(e as Error).message}`);
        }
    };
    await tryRun("pods", ["get", "pods", "-l", `batch.kubernetes.io/job-name=${inputs.job}`, "-o", "wide"]);
    await tryRun("warnings", ["get", "events", "--field-selector", "type=Warning", "--sort-by", ".lastTimestamp"]);
    await tryRun("logs", ["logs", "--tail", "20", "--prefix", "-l", `batch.kubernetes.io/job-name=${inputs.job}`]);
    return parts.join("\n");
}

interface Pod {
    metadata: { name: string; annotations?: Record<string, string> };
    status?: { containerStatuses?: { state?: { waiting?: { reason?: string; message?: string } } }[] };
}

function completionIndex(pod: Pod): number {
    return Number(pod.metadata.annotations?.["batch.kubernetes.io/job-completion-index"]);
}

/** Each pod's log, by completion index ("" for an index without a pod). */
async function collect(inputs: KubeLoadRunInputs): Promise<string[]> {
    const pods = await jobPods(inputs);
    const logs = Array.from({ length: inputs.parts }, () => "");
    for (const pod of pods) {
        const index = completionIndex(pod);
        if (index >= 0 && index < inputs.parts) logs[index] = await kubectl(inputs, ["logs", pod.metadata.name]);
    }
    return logs;
}

export async function measureJob(inputs: KubeLoadRunInputs): Promise<LoadResult> {
    // A Job that is gone fails here, at once, rather than after its sampler's wait.
    const first = await pollJob(inputs);
    // One that ran already (a setting of this resource alone changed, or an up was stopped as it read it): its pods'
    // lines are still there to read, but nothing is left to release or sample, nor its search's probes.
    const ran = "status" in first && (first.status.succeeded ?? 0) >= inputs.parts;
    if (ran && inputs.capacitySearch) {
        throw new Error(`load job ${inputs.namespace}/${inputs.job} ran before this load resource read it, and its search's probes can't be read ` +
            "again: `pulumi config set loadRunId <anything new>` runs it again");
    }
    const localThreadsBefore = countThreads(inputs.threads);
    const sampling = startSampling(inputs.roles, inputs.threads);
    const deadline = jobDeadline(inputs);
    // Started while the pods warm up, running on every node before they are released.
    const started = inputs.cpuSampler && !ran ? await startCpuSampler(inputs) : null;
    let samples: ClusterCpu | { reason: string } | null = started && "reason" in started ? started : null;
    const local: CpuSeries = { snapshots: sampling.snapshots, clock: onLocalClock, cores: os.cpus().length };
    let capacity: CapacityResult | undefined;
    try {
        if (!ran) await releaseRuns(inputs, deadline);
        if (inputs.capacitySearch) {
            capacity = await searchInPods(inputs, inputs.capacitySearch, deadline, async () => {
                if (!started || !("name" in started)) return local;
                // The sample after the probe's end, at most two sampling periods on.
                await new Promise((r) => setTimeout(r, 2 * SAMPLE_MS + 100));
                const read = await readCpuSampler(inputs, started);
                return "snapshots" in read ? { ...read, clock: (t: number) => t } : local;
            });
        }
        await waitForJob(inputs, deadline);
        if (started && "name" in started) samples = await readCpuSampler(inputs, started);
    } finally {
        sampling.stop();
        if (started && "name" in started) await deleteCpuSampler(inputs, started);
    }
    const cluster = samples && "snapshots" in samples ? samples : null;
    const series = cluster ? { ...cluster, clock: (t: number) => t } : local;
    const appThreads = cluster?.appThreads.filter((t) => t > 0) ?? [];
    const threadsBefore = cluster ? appThreads[0] ?? null : localThreadsBefore;
    const threadsPeak = cluster ? (appThreads.length ? Math.max(...appThreads) : null) : sampling.threadsPeak();
    const merged = mergePodResults(await collect(inputs), { driver: inputs.driver, parts: inputs.parts, repeats: inputs.repeats });
    const runs = merged.runs.map(({ pods, podsStartSkewSeconds, ...figures }) => judgeRun(figures, {
        requests: inputs.requests, concurrency: inputs.concurrency, delaySeconds: inputs.delaySeconds,
        capacity: unbounded(inputs.capacity), ceilingRps: inputs.ceilingRps < 0 ? null : inputs.ceilingRps,
        appCpuMs: inputs.appCpuMs, cpuLimitRps: unbounded(inputs.cpuLimitRps),
        // The sampler keeps one peak for the whole Job (warm-up included): every run gets it.
        threadsBefore, threadsPeak, cpu: cpuOfRun(inputs, series, pods),
        // The Job runs on its own: the slow API's count and the listen queue can't be read at its edges from here.
        held: null, listen: null, upstream: null,
        startedAt: pods.map((p) => p.startedAt).sort()[0],
    }));
    const { driver, url, requests, concurrency, delaySeconds } = inputs;
    const representative = merged.runs[representativeRun(runs)];
    return loadResult({ driver, driverVersion: merged.driverVersion, url, requests, concurrency, delaySeconds, appCpuMs: inputs.appCpuMs, keepAlive: inputs.keepAlive, cpuAffinity: {}, warmup: merged.warmup },
        runs, {
            platform: "kubernetes", pods: representative.pods,
            podsStartSkewSeconds: Math.max(...merged.runs.map((r) => r.podsStartSkewSeconds)),
            cpuSampler: samplerNote(samples, Object.keys(inputs.roles).length > 0, cluster ? cpuOfRun(inputs, local, representative.pods) : null),
            ...(capacity ? { capacity } : {}),
        });
}

const provider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: KubeLoadRunInputs) {
        const result = await measureJob(inputs);
        try {
            keepResult(inputs.resultsDir, result, inputs.maxFailedRequests);
        } catch (e) {
            // A Job runs once: left in place, the next up would read this same result again instead of measuring.
            await kubectl(inputs, ["delete", "job", inputs.job, "--ignore-not-found", "--wait=true"]);
            throw new Error(`${(e as Error).message}; its Job is deleted, so \`./lab up\` (or \`pulumi up --refresh\`) measures again`);
        }
        return { id: `${inputs.job}-${result.startedAt}`, outs: { ...inputs, result } };
    },
    async diff(_id: string, olds: KubeLoadRunInputs, news: KubeLoadRunInputs) {
        return replaceOnChange(olds, news);
    },
    async read(id: string, state: KubeLoadRunInputs) {
        // Its Job gone (the namespace deleted by hand, a new cluster): the next up measures again.
        try {
            await kubectl(state, ["get", "job", state.job, "-o", "name"]);
            return { id, props: state };
        } catch (e) {
            if (NOT_FOUND.test((e as Error).message)) return { id: "" };
            throw e;
        }
    },
    async delete() {
        // The Job is its own resource; the JSON stays under results/.
    },
};

/** A load run as a Job's merged result. */
export class KubeLoadRun extends pulumi.dynamic.Resource {
    declare readonly result: pulumi.Output<LoadResult>;

    constructor(name: string, args: pulumi.Inputs, opts?: pulumi.CustomResourceOptions) {
        super(provider, name, { ...args, result: undefined }, opts, "kubernetes", "LoadRun");
    }
}
