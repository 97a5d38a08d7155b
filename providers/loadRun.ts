// One verified load against a deployed endpoint, as a Node.js dynamic
// resource: created after the topology is ready, replaced (so re-run) whenever
// the topology or a load setting changes, or loadRunId is bumped.
//
// create: GET the URL once and check status and body (a wrong answer fails the
// up and shows it); warm up at the load's clients, then GET again, which waits
// behind whatever the warm-up left queued; run the driver `repeats` times, each
// run sampling the roles' CPU, the app's threads, PostgreSQL's active queries
// and reading the slow API's own count and the listen queue around it; judge
// each run and combine them into one result (medians, spread); search the
// capacity at the latency objective where asked; append it under
// results/<stack>/; fail the up if more requests failed than allowed. The
// driver carries the markers of providers/processScope.ts (FGL_LOAD names this
// resource), so a driver an interrupted up left running is stopped first.
//
// read (refresh): a run whose measured processes are gone reads as gone, so the
// next up measures again.
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { abArgv, abCeilingRps, abWarmupArgv, parseAbCounts, parseAbOutput } from "../lib/load/ab";
import { capacityOf, CapacityResult, CapacitySearch, nextRate, Probe, probeConnections, probeOf, probeTimeoutSeconds } from "../lib/load/capacity";
import { CpuAffinity, cpuList, CpuRole, CpuSnapshot, RoleLimit, summarizeCpu } from "../lib/load/cpu";
import { k6Argv, k6WarmupArgv, parseK6Summary } from "../lib/load/k6";
import { ohaArgv, ohaRateArgv, ohaWarmupArgv, parseOhaOutput } from "../lib/load/oha";
import { loadResult } from "../lib/load/repeats";
import {
    allClientsCeilingRps, DriverFigures, DriverName, judgeRun, LoadResult, RunMeasurements, RunResult, Warmup,
} from "../lib/load/result";
import { between, heldOfSamples } from "../lib/load/slowApi";
import { slowClientsEffect, starvedRunSeconds } from "../lib/load/slowClients";
import { withCpuAffinity, withRaisedFileLimit } from "../lib/launch";
import { countThreads, ProcessProbe, readCpuSnapshot, readListenCounters } from "../lib/probes";
import { isAlive, localTargets } from "../lib/procfs";
import { cpuLimitRps } from "../lib/serverModes";
import { startSampling } from "../lib/sampling";
import { MARKERS, markedTargets, stopProcesses } from "./processScope";
import { keepResult, replaceOnChange } from "./results";
import { holdSlowClients } from "./slowClients";
import { readSlowApi, verify } from "./slowApi";

/** A capacity search, and the oha that runs its probes. */
export interface CapacitySearchInputs extends CapacitySearch {
    ohaPath: string;
    ohaVersion: string;
}

export interface LoadRunInputs {
    /** Target, query string included (?delay=). */
    url: string;
    /** Text the body must contain for the endpoint to count as correct. */
    expectBody: string;
    driver: DriverName;
    /** Executable of the driver. */
    driverPath: string;
    driverVersion: string;
    /** k6 script (k6/load.js). */
    k6Script: string;
    requests: number;
    concurrency: number;
    delaySeconds: number;
    timeoutSeconds: number;
    /** Measured runs, after the warm-up. */
    repeats: number;
    /** Seconds of load at the load's clients before the measured runs; 0 for none. */
    warmupSeconds: number;
    /** Requests the target can hold at once (Infinity as -1: JSON has no Infinity). */
    capacity: number;
    /** Milliseconds of CPU each request burns in the app's handler; 0 (or absent): none. */
    appCpuMs?: number;
    /** Processes that run the app's Python, for the CPU limit; absent: 1. */
    appProcesses?: number;
    /** Keep each client's connection (HTTP keep-alive); absent: one per request. */
    keepAlive?: boolean;
    /** Slow clients held open against the target during the measured runs, after the same runs without them; absent or 0: none. */
    slowClients?: number;
    /** Whose threads are counted before and during the load (the app's); its network namespace's listen queue is read. */
    threads: ProcessProbe;
    /** Each role's processes, whose CPU is sampled during the load (the driver is always: the process tree it spawns). */
    roles?: Partial<Record<Exclude<CpuRole, "driver">, ProcessProbe>>;
    /**
     * The most cores one process of each role can keep busy, where it is fewer
     * than the role may run on: 1 for GIL-bound Python (the slow API, the
     * Flask servers' workers) and single-threaded programs (ab: set here).
     */
    roleProcessCores?: Partial<Record<CpuRole, number>>;
    /** The CPUs each role is pinned to: the driver is pinned here, the services where they are started. */
    cpuAffinity?: CpuAffinity;
    /** The slow API behind the target, from this machine (SlowApi.url): its count checks the driver's; "" for none. */
    upstreamUrl?: string;
    /** Search the capacity at the latency objective after the runs; absent: no search. */
    capacitySearch?: CapacitySearchInputs;
    /** Fail the up above this many failed requests (over every run); -1 for never. */
    maxFailedRequests: number;
    /** Where each run is appended as JSON. */
    resultsDir: string;
    /** Identity of what is measured (pids, spec): a new one re-runs the load. */
    target: string;
    /** Bumped by the user to re-run with nothing else changed. */
    runId: string;
    /** The stack's run folder (.lab/<stack>): the driver's FGL_SCOPE marker; none when measured outside a stack. */
    scope?: string;
}

/** Names this resource's driver (one results folder per LoadRun). */
function loadMarker(inputs: LoadRunInputs): string {
    return `${inputs.scope ?? ""}/load:${inputs.resultsDir}`;
}

function driverMarkers(inputs: LoadRunInputs): Record<string, string> {
    return { ...(inputs.scope ? { [MARKERS.scope]: inputs.scope } : {}), [MARKERS.load]: loadMarker(inputs) };
}

interface ProgramRun {
    output: string;
    threadsPeak: number | null;
    /** From the driver's start to its exit. */
    cpu: CpuSnapshot[];
    activeQueries: number[];
}

/** Runs the driver's argv, pinned and marked, sampling the roles until it exits. */
function runProgram(inputs: LoadRunInputs, argv: string[], limitSeconds: number): Promise<ProgramRun> {
    const [command, ...args] = withRaisedFileLimit(withCpuAffinity(argv, inputs.cpuAffinity?.driver));
    const name = path.basename(argv[0]);
    return new Promise((resolve, reject) => {
        const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...driverMarkers(inputs) } });
        let output = "";
        child.stdout.on("data", (d: Buffer) => (output += d.toString()));
        child.stderr.on("data", (d: Buffer) => (output += d.toString()));
        const sampling = startSampling(inputs.roles ?? {}, inputs.threads, child.pid);
        const killer = setTimeout(() => child.kill("SIGKILL"), (limitSeconds + 30) * 1000);
        child.once("error", (e: Error) => { sampling.stop(); clearTimeout(killer); reject(e); });
        child.once("close", (code: number | null, signal: string | null) => {
            sampling.stop();
            clearTimeout(killer);
            if (signal) return reject(new Error(`${name} was killed (${signal}) after ${limitSeconds} s:\n${output.slice(-2000)}`));
            if (code !== 0 && name === "ab") return reject(new Error(`ab exited with ${code}:\n${output.slice(-2000)}`));
            // The driver has exited: its last interval is lost, the services' is kept.
            resolve({
                output, threadsPeak: sampling.threadsPeak(), activeQueries: sampling.activeQueries,
                cpu: [...sampling.snapshots, readCpuSnapshot(inputs.roles ?? {})],
            });
        });
    });
}

/** A run's driver figures and what was measured around it. */
interface Measured extends RunMeasurements {
    figures: DriverFigures;
}

let readers = 0;

/** Runs `argv` once, with everything read around it: the slow API's count, the listen queue, the threads, CPU per role. */
async function measureRun(inputs: LoadRunInputs, argv: string[], parse: (output: string) => DriverFigures, limitSeconds: number): Promise<Measured> {
    const mark = `${process.pid}-${++readers}`;
    const before = await readSlowApi(inputs.upstreamUrl, mark);
    const listenBefore = readListenCounters(inputs.threads);
    const threadsBefore = countThreads(inputs.threads);
    const startedAt = new Date().toISOString();
    const run = await runProgram(inputs, argv, limitSeconds);
    const after = await readSlowApi(inputs.upstreamUrl, mark);
    const listenAfter = readListenCounters(inputs.threads);
    let figures: DriverFigures;
    try {
        figures = parse(run.output);
    } catch (e) {
        throw new Error(`${(e as Error).message}\n--- ${inputs.driver} printed:\n${run.output.slice(-2000)}`);
    }
    const upstream = before && after ? between(before, after) : null;
    return {
        figures,
        threadsBefore,
        threadsPeak: run.threadsPeak,
        cpu: summarizeCpu(run.cpu, os.cpus().length, roleLimits(inputs, path.basename(argv[0]))),
        held: upstream || run.activeQueries.length ? { upstream: upstream?.held ?? null, postgres: heldOfSamples(run.activeQueries) } : null,
        listen: listenBefore && listenAfter
            ? { overflows: listenAfter.overflows - listenBefore.overflows, drops: listenAfter.drops - listenBefore.drops, namespace: listenAfter.namespace }
            : null,
        upstream: upstream?.count ?? null,
        startedAt,
    };
}

/** What each role may use: its pinned CPUs, and per process one core where it is GIL-bound or single-threaded (ab). */
function roleLimits(inputs: LoadRunInputs, driverProgram: string): Partial<Record<CpuRole, RoleLimit>> {
    const affinity = inputs.cpuAffinity ?? {};
    const processCores: Partial<Record<CpuRole, number>> = { ...(driverProgram === "ab" ? { driver: 1 } : {}), ...inputs.roleProcessCores };
    return Object.fromEntries(["driver", ...Object.keys(inputs.roles ?? {})].map((role) =>
        [role, { cpus: affinity[role as CpuRole], processCores: processCores[role as CpuRole] }])) as Partial<Record<CpuRole, RoleLimit>>;
}

/** The cores the app's processes may share: those it is pinned to, else this machine's. */
function appCores(affinity: CpuAffinity | undefined): number {
    return affinity?.app !== undefined ? cpuList(affinity.app).length : os.cpus().length;
}

/** The driver's argv and parser for the closed load, and for its warm-up. */
function closedLoad(inputs: LoadRunInputs, summaryPath: string) {
    const load = { url: inputs.url, requests: inputs.requests, concurrency: inputs.concurrency, timeoutSeconds: inputs.timeoutSeconds, keepAlive: inputs.keepAlive ?? false };
    const readSummary = () => fs.readFileSync(summaryPath, "utf8");
    switch (inputs.driver) {
        case "k6": return {
            argv: k6Argv(inputs.driverPath, inputs.k6Script, load, summaryPath), parse: () => parseK6Summary(readSummary()),
            warmup: k6WarmupArgv(inputs.driverPath, inputs.k6Script, load, inputs.warmupSeconds, summaryPath), warmed: () => parseK6Summary(readSummary()).complete,
        };
        case "oha": return {
            argv: ohaArgv(inputs.driverPath, load), parse: parseOhaOutput,
            warmup: ohaWarmupArgv(inputs.driverPath, load, inputs.warmupSeconds), warmed: (out: string) => parseOhaOutput(out).complete,
        };
        case "ab": return {
            argv: abArgv(inputs.driverPath, load), parse: parseAbOutput,
            warmup: abWarmupArgv(inputs.driverPath, load, inputs.warmupSeconds), warmed: (out: string) => parseAbCounts(out).complete,
        };
    }
}

/**
 * Waits out what a warm-up or a probe left in the server: a GET, which queues behind what is queued; then,
 * where the slow API counts, until it holds nothing (a server of several workers answers the GET from a free
 * one while another still works off its queue). `timeoutSeconds`: how long that may take (default the load's).
 */
async function drain(inputs: LoadRunInputs, timeoutSeconds = inputs.timeoutSeconds): Promise<void> {
    await verify(inputs.url, inputs.expectBody, timeoutSeconds);
    if (!inputs.upstreamUrl) return;
    const deadline = Date.now() + timeoutSeconds * 1000;
    // Idle twice, 100 ms apart: one thread between two queued requests is idle only for a moment.
    for (let idle = 0; idle < 2 && Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
        idle = (await readSlowApi(inputs.upstreamUrl, `drain-${process.pid}`))!.inFlight === 0 ? idle + 1 : 0;
    }
}

/** The warm-up, then a drain of what it left queued in the server. */
async function warmUp(inputs: LoadRunInputs, argv: string[], warmed: (output: string) => number): Promise<Warmup> {
    const run = await runProgram(inputs, argv, inputs.warmupSeconds + inputs.timeoutSeconds);
    await drain(inputs);
    let requests: number | null = null;
    try {
        requests = warmed(run.output);
    } catch { /* a warm-up's count is for the record only */ }
    return { seconds: inputs.warmupSeconds, requests };
}

/** One probe of the capacity search: `rate` req/s for probeSeconds, judged against the objective and explained. */
async function probe(inputs: LoadRunInputs, search: CapacitySearchInputs, rate: number): Promise<Probe> {
    const connections = probeConnections(search.sloP99Ms, rate);
    const timeoutSeconds = probeTimeoutSeconds(search.sloP99Ms);
    const argv = ohaRateArgv(search.ohaPath, { url: inputs.url, rate, seconds: search.probeSeconds, connections, timeoutSeconds });
    const m = await measureRun(inputs, argv, parseOhaOutput, search.probeSeconds + timeoutSeconds + 30);
    // What it left queued in the server would slow the next probe.
    await drain(inputs);
    return probeOf(rate, search.probeSeconds, search.sloP99Ms, m.figures, {
        cpu: m.cpu, held: m.held, listen: m.listen, upstream: m.upstream,
        capacity: inputs.capacity < 0 ? Infinity : inputs.capacity, delaySeconds: inputs.delaySeconds, startedAt: m.startedAt,
    });
}

/** Probes until nextRate says the search is done. */
async function searchCapacity(inputs: LoadRunInputs, search: CapacitySearchInputs): Promise<CapacityResult> {
    const probes: Probe[] = [];
    for (let rate = nextRate(search, probes); rate !== null; rate = nextRate(search, probes)) {
        probes.push(await probe(inputs, search, rate));
    }
    return capacityOf(search, probes);
}

/** Verifies the endpoint, warms up, runs the load `repeats` times, searches the capacity where asked; the combined result. */
export async function measure(inputs: LoadRunInputs): Promise<LoadResult> {
    await verify(inputs.url, inputs.expectBody, 30);
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "fgl-load-"));
    try {
        const load = closedLoad(inputs, path.join(work, "summary.json"));
        const warmup = inputs.warmupSeconds > 0 ? await warmUp(inputs, load.warmup, load.warmed) : null;
        const capacity = inputs.capacity < 0 ? Infinity : inputs.capacity;
        const ceilingRps = (inputs.driver === "ab" ? abCeilingRps : allClientsCeilingRps)(inputs.requests, inputs.concurrency, inputs.delaySeconds);
        const appCpuMs = inputs.appCpuMs ?? 0;
        const cpuLimit = cpuLimitRps(appCpuMs, inputs.appProcesses ?? 1, appCores(inputs.cpuAffinity));
        const measuredRuns = async (limitSeconds: number, slowClients = 0) => {
            const runs: RunResult[] = [];
            for (let i = 0; i < inputs.repeats; i++) {
                const { figures, ...measured } = await measureRun(inputs, load.argv, load.parse, limitSeconds);
                runs.push(judgeRun(figures, {
                    ...measured, requests: inputs.requests, concurrency: inputs.concurrency, delaySeconds: inputs.delaySeconds, capacity, ceilingRps,
                    appCpuMs, cpuLimitRps: cpuLimit, slowClients,
                }));
            }
            return runs;
        };
        let runs = await measuredRuns(inputs.timeoutSeconds);
        let slowClients: LoadResult["slowClients"];
        if (inputs.slowClients) {
            const without = runs;
            const limitSeconds = starvedRunSeconds(inputs.requests, inputs.concurrency, inputs.timeoutSeconds);
            const slow = holdSlowClients(inputs.url, inputs.slowClients, inputs.repeats * (limitSeconds + 30) + 60);
            try {
                await slow.ready;
                // Time for the server to hand each slow head to whatever will wait for its end.
                await new Promise((r) => setTimeout(r, 500));
                runs = await measuredRuns(limitSeconds, inputs.slowClients);
            } finally {
                slowClients = slowClientsEffect(slow.stop(), without, runs);
            }
            // What queued behind them (every request the driver gave up on, still in the server's queues) is answered
            // now, however long the runs took to queue it; the search after this must not meet it.
            await drain(inputs, inputs.repeats * (limitSeconds + 30));
        }
        const searched = inputs.capacitySearch ? await searchCapacity(inputs, inputs.capacitySearch) : undefined;
        const { driver, driverVersion, url, requests, concurrency, delaySeconds } = inputs;
        return loadResult({ driver, driverVersion, url, requests, concurrency, delaySeconds, appCpuMs, keepAlive: inputs.keepAlive ?? false, cpuAffinity: inputs.cpuAffinity ?? {}, warmup }, runs,
            { ...(searched ? { capacity: searched } : {}), ...(slowClients ? { slowClients } : {}) });
    } finally {
        fs.rmSync(work, { recursive: true, force: true });
    }
}

const provider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: LoadRunInputs) {
        // A driver an interrupted up left running would share the machine with this run.
        await stopProcesses(`${inputs.driver} of an earlier run`, () => markedTargets(MARKERS.load, loadMarker(inputs)));
        const result = await measure(inputs);
        keepResult(inputs.resultsDir, result, inputs.maxFailedRequests);
        return { id: `${result.driver}-${result.startedAt}`, outs: { ...inputs, result } };
    },
    async diff(_id: string, olds: LoadRunInputs, news: LoadRunInputs) {
        return replaceOnChange(olds, news);
    },
    async read(id: string, state: LoadRunInputs) {
        // No id: the engine drops the run from the state, and the next up measures again.
        return localTargets(state.target).every((t) => isAlive(t.pid, t.startTime)) ? { id, props: state } : { id: "" };
    },
    async delete() {
        // A past measurement has nothing running; its JSON stays under results/.
    },
};

/** A load test whose result is its output. */
export class LoadRun extends pulumi.dynamic.Resource {
    declare readonly result: pulumi.Output<LoadResult>;

    constructor(name: string, args: pulumi.Inputs, opts?: pulumi.CustomResourceOptions) {
        super(provider, name, { ...args, result: undefined }, opts, "load", "Run");
    }
}
