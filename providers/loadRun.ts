// One verified load run against a deployed endpoint, as a Node.js dynamic
// resource: created after the topology is ready, replaced (so re-run) whenever
// the topology or a load setting changes, or loadRunId is bumped.
//
// create: GET the URL once and check status and body (a wrong answer fails the
// up and shows it); count the app's threads; run the driver while sampling the
// threads; parse its output into one normalized result; append it under
// results/<stack>/; fail the up if more requests failed than allowed. The
// driver carries the markers of providers/processScope.ts (FGL_LOAD names this
// resource), so a driver an interrupted up left running is stopped first.
//
// read (refresh): a run whose measured processes are gone reads as gone, so the
// next up measures again.
import { spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { abArgv, abCeilingRps, parseAbOutput } from "../lib/load/ab";
import { bottleneck, CpuAffinity, CpuRole, CpuSnapshot, RoleLimit, summarizeCpu } from "../lib/load/cpu";
import { k6Argv, parseK6Summary } from "../lib/load/k6";
import { ohaArgv, parseOhaOutput } from "../lib/load/oha";
import {
    allClientsCeilingRps, DriverName, efficiency, LoadResult, reachedShare, round, throughputLimit,
} from "../lib/load/result";
import { countThreads, isAlive, localTargets, readCpuSnapshot, startSampling, ThreadsProbe, withCpuAffinity, withRaisedFileLimit } from "../lib/procfs";
import { MARKERS, markedTargets, stopProcesses } from "./processScope";
import { keepResult, replaceOnChange } from "./results";

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
    /** Requests the target can hold at once (Infinity as -1: JSON has no Infinity). */
    capacity: number;
    /** Whose threads are counted before and during the load. */
    threads: ThreadsProbe;
    /** Each role's processes, whose CPU is sampled during the load (the driver is always: the process tree it spawns). */
    roles?: Partial<Record<Exclude<CpuRole, "driver">, ThreadsProbe>>;
    /**
     * The most cores one process of each role can keep busy, where it is fewer
     * than the role may run on: 1 for GIL-bound Python (the slow API, the
     * Flask servers' workers) and single-threaded programs (ab: set here).
     */
    roleProcessCores?: Partial<Record<CpuRole, number>>;
    /** The CPUs each role is pinned to: the driver is pinned here, the services where they are started. */
    cpuAffinity?: CpuAffinity;
    /** Fail the up above this many failed requests; -1 for never. */
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

async function verify(url: string, expectBody: string): Promise<void> {
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        // A fresh connection, as ab makes: servers such as uWSGI's plain HTTP socket don't keep connections alive.
        const req = http.get(url, { timeout: 30_000, agent: false }, (res) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (chunk: string) => (body += chunk));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.once("error", (e: Error) => reject(new Error(`verify ${url}: ${e.message}`)));
        req.once("timeout", () => req.destroy(new Error("no answer within 30 s")));
    });
    if (status !== 200 || !body.includes(expectBody)) {
        throw new Error(`verify ${url}: expected status 200 and a body containing "${expectBody}", ` +
            `got status ${status} and body:\n${body.slice(0, 500)}`);
    }
}

interface DriverRun {
    output: string;
    threadsPeak: number | null;
    /** From the driver's start to its exit. */
    cpu: CpuSnapshot[];
}

function runDriver(inputs: LoadRunInputs, summaryPath: string): Promise<DriverRun> {
    const load = { url: inputs.url, requests: inputs.requests, concurrency: inputs.concurrency, timeoutSeconds: inputs.timeoutSeconds };
    const argv = inputs.driver === "k6" ? k6Argv(inputs.driverPath, inputs.k6Script, load, summaryPath)
        : inputs.driver === "oha" ? ohaArgv(inputs.driverPath, load)
        : abArgv(inputs.driverPath, load);
    const [command, ...args] = withRaisedFileLimit(withCpuAffinity(argv, inputs.cpuAffinity?.driver));
    return new Promise((resolve, reject) => {
        const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...driverMarkers(inputs) } });
        let output = "";
        child.stdout.on("data", (d: Buffer) => (output += d.toString()));
        child.stderr.on("data", (d: Buffer) => (output += d.toString()));
        const sampling = startSampling(inputs.roles ?? {}, inputs.threads, child.pid);
        const killer = setTimeout(() => child.kill("SIGKILL"), (inputs.timeoutSeconds + 30) * 1000);
        child.once("error", (e: Error) => { sampling.stop(); clearTimeout(killer); reject(e); });
        child.once("close", (code: number | null, signal: string | null) => {
            sampling.stop();
            clearTimeout(killer);
            if (signal) return reject(new Error(`${inputs.driver} was killed (${signal}) after ${inputs.timeoutSeconds} s:\n${output.slice(-2000)}`));
            if (code !== 0 && inputs.driver === "ab") return reject(new Error(`ab exited with ${code}:\n${output.slice(-2000)}`));
            // The driver has exited: its last interval is lost, the services' is kept.
            resolve({ output, threadsPeak: sampling.threadsPeak(), cpu: [...sampling.snapshots, readCpuSnapshot(inputs.roles ?? {})] });
        });
    });
}

/** Verifies the endpoint, runs the load, and returns the normalized result. */
export async function measure(inputs: LoadRunInputs): Promise<LoadResult> {
    await verify(inputs.url, inputs.expectBody);
    const threadsBefore = countThreads(inputs.threads);
    const startedAt = new Date().toISOString();
    const summaryPath = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "k6-")), "summary.json");
    let run: DriverRun;
    let figures;
    try {
        run = await runDriver(inputs, summaryPath);
        try {
            figures = inputs.driver === "k6" ? parseK6Summary(fs.readFileSync(summaryPath, "utf8"))
                : inputs.driver === "oha" ? parseOhaOutput(run.output)
                : parseAbOutput(run.output);
        } catch (e) {
            throw new Error(`${(e as Error).message}\n--- ${inputs.driver} printed:\n${run.output.slice(-2000)}`);
        }
    } finally {
        fs.rmSync(path.dirname(summaryPath), { recursive: true, force: true });
    }
    const { threadsPeak, cpu: snapshots } = run;
    const capacity = inputs.capacity < 0 ? Infinity : inputs.capacity;
    const limitRps = throughputLimit(inputs.concurrency, capacity, inputs.delaySeconds);
    const ceiling = (inputs.driver === "ab" ? abCeilingRps : allClientsCeilingRps)(inputs.requests, inputs.concurrency, inputs.delaySeconds);
    const affinity = inputs.cpuAffinity ?? {};
    // ab is one single-threaded process: one core is all it can use.
    const processCores: Partial<Record<CpuRole, number>> = { ...(inputs.driver === "ab" ? { driver: 1 } : {}), ...inputs.roleProcessCores };
    const limits = Object.fromEntries(["driver", ...Object.keys(inputs.roles ?? {})].map((role) =>
        [role, { cpus: affinity[role as CpuRole], processCores: processCores[role as CpuRole] }])) as Partial<Record<CpuRole, RoleLimit>>;
    const cpu = summarizeCpu(snapshots, os.cpus().length, limits);
    return {
        driver: inputs.driver,
        driverVersion: inputs.driverVersion,
        url: inputs.url,
        requests: inputs.requests,
        concurrency: inputs.concurrency,
        delaySeconds: inputs.delaySeconds,
        ...figures,
        limitRps: limitRps === null ? null : round(limitRps, 2),
        efficiency: efficiency(figures.requestsPerSecond, limitRps),
        driverCeilingRps: ceiling === null ? null : round(ceiling, 2),
        threadsBefore,
        threadsPeak: threadsPeak === null ? null : Math.max(threadsPeak, threadsBefore ?? 0),
        cpu,
        bottleneck: cpu && bottleneck(cpu, reachedShare(figures.requestsPerSecond, limitRps, ceiling)),
        cpuAffinity: affinity,
        startedAt,
    };
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
