import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { codeHash } from "../lib/codeHash";
import { CpuAffinity, CpuRole } from "../lib/load/cpu";
import { LoadResult } from "../lib/load/result";
import { slowClientsProblem, starvedRunSeconds } from "../lib/load/slowClients";
import { checkParallelism, podDriverOf } from "../lib/load/split";
import { ProcessProbe } from "../lib/probes";
import { CAPACITY_PRECISION, defaultSearch, mostProbes, searchProblems } from "../lib/load/capacity";
import { CapacitySettings, LoadDriverChoice } from "../lib/settings";
import { findDriver, LoadDriver } from "../platforms/localTools";
import { defaultRunDir, Platform, PROJECT_ROOT } from "../platforms/platform";
import { LoadRun } from "../providers/loadRun";

/**
 * A load against any URL. Its numbers (requests, clients, delay, runs, timeouts, the search's) stay plain: they are
 * checked before anything is declared (ab's rules, the search's limits), which an Input would put off until the
 * deploy, and they set the run's own timeout. What only reaches the run is an Input.
 */
export interface LoadTestArgs {
    /** Entry point under load, without query string (FlaskApp.url, NginxIngress.url, SlowApi.url). */
    url: pulumi.Input<string>;
    /** A platform that runs loads itself (KubernetesPlatform: a Job in the cluster, with ab or oha); default this machine. */
    platform?: Platform;
    /** Pods the requests and clients are split over, on a platform that runs loads itself; default 1. */
    parallelism?: number;
    /** Total requests (ab -n); default 2000, the tutorial's. */
    requests?: number;
    /** Simultaneous clients (ab -c); default 200, the tutorial's. */
    concurrency?: number;
    /** Seconds the slow API sleeps per request (?delay=); default 1. */
    delaySeconds?: number;
    /** The load generator on this machine: "ab", "k6", "oha", "auto" (k6 where installed, else ab), or one already found; default "auto". */
    driver?: LoadDriverChoice | LoadDriver;
    /** Seconds the run may take, and ab's per-request timeout; default 300. */
    timeoutSeconds?: number;
    /** Fail the up when more requests than this fail; default never. */
    maxFailedRequests?: pulumi.Input<number>;
    /** Change it to re-run the load with nothing else changed; default "". */
    runId?: pulumi.Input<string>;
    /** Text a correct answer contains, checked once before the load; default "slow api response". */
    expectBody?: pulumi.Input<string>;
    /** Requests the target can hold at once, for the Little's-law limit; default Infinity (the clients are the limit). */
    capacity?: number;
    /** Milliseconds of CPU each request burns in the target's handler (FlaskApp.appCpuMs): time beyond the delay, and a CPU limit; default 0. */
    appCpuMs?: number;
    /** Processes that run the target's Python (FlaskApp.processes), each one core at most, for that CPU limit; default 1. */
    appProcesses?: number;
    /** Keep each client's connection for its next request (HTTP keep-alive: ab -k, oha and k6 reusing them); default false, as the tutorial. */
    keepAlive?: pulumi.Input<boolean>;
    /** Slow clients (slowloris: a request head a line a second, never ended) held open during the runs, measured after the same runs without them; default 0. Plain: it doubles the runs. */
    slowClients?: number;
    /** Whose threads are counted before and during the load (DeployedService.threads); default nobody's. */
    threads?: pulumi.Input<ProcessProbe>;
    /** Each role's processes, whose CPU is sampled during the load (the driver's always is). */
    roles?: pulumi.Input<Partial<Record<Exclude<CpuRole, "driver">, pulumi.Input<ProcessProbe>>>>;
    /** The most cores one process of each role can keep busy, where fewer than it may run on (1 for GIL-bound Python). */
    roleProcessCores?: pulumi.Input<Partial<Record<CpuRole, number>>>;
    /** The CPUs each role is pinned to, recorded with the result; the driver is pinned here (the services by their own cpus). */
    cpuAffinity?: pulumi.Input<CpuAffinity>;
    /** Measured runs of the whole load; the result's figures are their medians, with the spread; default 1. */
    repeats?: number;
    /** Whole seconds of load at the load's clients before the measured runs, not counted; default 3 (0: none). */
    warmupSeconds?: number;
    /** The slow API behind the target, from this machine (SlowApi.url): its own count checks the driver's failures and shows what the server held at once. */
    upstreamUrl?: pulumi.Input<string>;
    /** After the load, search the highest constant arrival rate that meets a p99 objective (oha, built once where missing); fields default to the tutorial-scaled search of lib/load/capacity.ts. */
    capacitySearch?: Partial<CapacitySettings>;
    /** oha for the capacity search's probes, already found; default found (built once where missing). */
    rateDriver?: LoadDriver;
    /** Identity of what is measured (DeployedService.identity, space-separated): a new one re-runs the load. */
    target?: pulumi.Input<string>;
    /** Folder each run's JSON is appended to; default none: the result is the resource's output only. */
    resultsDir?: pulumi.Input<string>;
    /** The stack's run folder, whose processes the driver is marked as; default Platform.runDir's default. */
    scope?: string;
}

const K6_SCRIPT = path.join(PROJECT_ROOT, "k6", "load.js");

/**
 * The longest a load resource may take: every run and the warm-up at their limit, the runs with slow clients at theirs and
 * the drain after them as long again, and a search's probes.
 */
function loadSeconds(load: { repeats: number; warmupSeconds: number; timeoutSeconds: number; requests: number; concurrency: number; slowClients: number },
    search?: CapacitySettings): number {
    const { repeats, warmupSeconds, timeoutSeconds } = load;
    const probes = search ? mostProbes({ ...search, precision: CAPACITY_PRECISION }) * (search.probeSeconds + 2 * timeoutSeconds) : 0;
    const slow = load.slowClients ? 2 * repeats * (starvedRunSeconds(load.requests, load.concurrency, timeoutSeconds) + 30) : 0;
    return (repeats + 1) * (timeoutSeconds + 30) + slow + warmupSeconds + probes + 120;
}

/** Verifies an endpoint, loads it with the tutorial's method, and exposes the normalized result. */
export class LoadTest extends pulumi.ComponentResource {
    readonly result: pulumi.Output<LoadResult>;

    constructor(name: string, args: LoadTestArgs, opts?: pulumi.ComponentResourceOptions) {
        super("flask-gevent-lab:components:LoadTest", name, {}, opts);
        const requests = args.requests ?? 2000;
        const concurrency = args.concurrency ?? 200;
        const delaySeconds = args.delaySeconds ?? 1;
        const timeoutSeconds = args.timeoutSeconds ?? 300;
        const repeats = args.repeats ?? 1;
        const warmupSeconds = args.warmupSeconds ?? 3;
        const capacity = args.capacity ?? Infinity;
        const appCpuMs = args.appCpuMs ?? 0;
        const appProcesses = args.appProcesses ?? 1;
        const keepAlive = args.keepAlive ?? false;
        const slowClients = args.slowClients ?? 0;
        const search = args.capacitySearch && { ...defaultSearch(capacity, delaySeconds), ...args.capacitySearch };
        const problems = [
            ...(!Number.isInteger(requests) || requests < 1 ? [`requests: ${requests} is not a whole number >= 1`] : []),
            ...(!Number.isInteger(concurrency) || concurrency < 1 ? [`concurrency: ${concurrency} is not a whole number >= 1`] : []),
            ...(concurrency > requests ? [`concurrency: ${concurrency} clients for ${requests} requests; ApacheBench refuses more clients than requests`] : []),
            ...(!(delaySeconds >= 0) ? [`delaySeconds: ${delaySeconds} is not a number >= 0`] : []),
            ...(!(appCpuMs >= 0) ? [`appCpuMs: ${appCpuMs} is not a number >= 0`] : []),
            ...(!Number.isInteger(appProcesses) || appProcesses < 1 ? [`appProcesses: ${appProcesses} is not a whole number >= 1`] : []),
            ...(!Number.isInteger(repeats) || repeats < 1 ? [`repeats: ${repeats} is not a whole number >= 1`] : []),
            ...(!Number.isInteger(warmupSeconds) || warmupSeconds < 0 ? [`warmupSeconds: ${warmupSeconds} is not a whole number >= 0 (ab's -t takes whole seconds)`] : []),
            ...(slowClientsProblem(slowClients) ? [`slowClients: ${slowClientsProblem(slowClients)}`] : []),
            ...(search ? searchProblems(search, delaySeconds).map((p) => `capacitySearch.${p.field}: ${p.message}`) : []),
        ];
        const parallelism = args.parallelism ?? 1;
        try {
            checkParallelism(requests, concurrency, parallelism);
        } catch (e) {
            problems.push(`parallelism: ${(e as Error).message}`);
        }
        const driverName = typeof args.driver === "object" ? args.driver.name : args.driver ?? "auto";
        if (args.platform?.runLoad) {
            if (!podDriverOf(driverName)) problems.push(`driver: ${driverName} does not run in ${args.platform.kind}'s load pods, which run ab or oha`);
            if (search && podDriverOf(driverName) !== "oha") problems.push(`capacitySearch: in ${args.platform.kind}'s load pods its probes run oha: use driver "oha"`);
            if (slowClients) problems.push(`slowClients: they are held from this machine, to its loopback only; ${args.platform.kind}'s load runs in its pods`);
        } else if (parallelism > 1) {
            problems.push(`parallelism: ${parallelism} needs a platform that runs loads itself (KubernetesPlatform)`);
        }
        if (problems.length) throw new Error(`LoadTest ${name}: invalid arguments:\n  - ${problems.join("\n  - ")}`);
        const url = pulumi.interpolate`${args.url}?delay=${delaySeconds}`;
        const expectBody = args.expectBody ?? "slow api response";
        const resultsDir = args.resultsDir ?? "";
        if (args.platform?.runLoad) {
            this.result = args.platform.runLoad(`${name}-run`, {
                driver: podDriverOf(driverName)!, url, expectBody, requests, concurrency, delaySeconds, timeoutSeconds, repeats, warmupSeconds, capacity, appCpuMs, appProcesses, keepAlive, parallelism,
                maxFailedRequests: args.maxFailedRequests ?? -1, resultsDir, target: args.target ?? "", runId: args.runId ?? "",
                threads: args.threads ?? { kind: "none" }, roles: args.roles ?? {}, roleProcessCores: args.roleProcessCores ?? {},
                ...(search ? { capacitySearch: { ...search, precision: CAPACITY_PRECISION } } : {}),
            }, { parent: this });
            this.registerOutputs({ result: this.result });
            return;
        }
        const driver = typeof args.driver === "object" ? args.driver : findDriver(args.driver ?? "auto");
        if (slowClients && driver.name === "ab") {
            throw new Error(`LoadTest ${name}: invalid arguments:\n  - slowClients: ab gives up its whole run at the first request that waits ` +
                `timeoutSeconds, which slow clients cause; use driver "oha" (or "k6")`);
        }
        const oha = search && (args.rateDriver ?? (driver.name === "oha" ? driver : findDriver("oha")));
        const run = new LoadRun(`${name}-run`, {
            url,
            expectBody,
            driver: driver.name,
            driverPath: driver.path,
            driverVersion: driver.version,
            k6Script: K6_SCRIPT,
            // The script is part of what runs: an edit re-runs the load.
            k6ScriptHash: driver.name === "k6" ? codeHash([K6_SCRIPT]) : "",
            requests,
            concurrency,
            delaySeconds,
            timeoutSeconds,
            repeats,
            warmupSeconds,
            upstreamUrl: args.upstreamUrl ?? "",
            ...(search && oha ? { capacitySearch: { ...search, precision: CAPACITY_PRECISION, ohaPath: oha.path, ohaVersion: oha.version } } : {}),
            capacity: Number.isFinite(capacity) ? capacity : -1,
            appCpuMs,
            appProcesses,
            keepAlive,
            slowClients,
            threads: args.threads ?? { kind: "none" },
            roles: args.roles ?? {},
            roleProcessCores: args.roleProcessCores ?? {},
            cpuAffinity: args.cpuAffinity ?? {},
            maxFailedRequests: args.maxFailedRequests ?? -1,
            resultsDir,
            target: args.target ?? "",
            runId: args.runId ?? "",
            scope: args.scope ?? defaultRunDir(),
        }, { parent: this, customTimeouts: { create: `${loadSeconds({ repeats, warmupSeconds, timeoutSeconds, requests, concurrency, slowClients }, search)}s` } });
        this.result = run.result;
        this.registerOutputs({ result: this.result });
    }
}
