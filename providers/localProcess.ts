// A long-running service as a local process, managed by the Pulumi engine
// through a Node.js dynamic provider.
//
// Every process of the service (setup commands, server, its workers) carries
// the markers of providers/processScope.ts: FGL_SERVICE=<its folder>.
//
// create: stop what an interrupted up started here and never recorded (its
//   marked processes), refuse a busy port, write the service's files, run its
//   setup, start it detached in its own process group (stdio to a log file:
//   nothing holds the provider's pipes), and wait until it answers. A service
//   that dies or never answers fails the up with its log's last lines, and
//   nothing of it is left running.
// read (refresh): a process that died reads as gone, so the next up starts it.
// diff: a process that died since the last up is replaced, so the next up
//   starts it again.
// delete: the service's own stop signal to each of its processes (the recorded
//   one, checked by pid + start time, and every marked one), SIGKILL after a
//   grace, an error naming what survives a limit; then wait until the port is free.
import { execFileSync, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { portFree } from "../lib/ports";
import { withCpuAffinity, withRaisedFileLimit } from "../lib/launch";
import { isAlive, readProcStat } from "../lib/procfs";
import { ServiceSpec } from "../lib/services";
import { MARKERS, markedTargets, stopProcesses, StopTarget } from "./processScope";

export interface LocalProcessInputs {
    spec: ServiceSpec;
    /** Folder for the service's pid, log and files. */
    dir: string;
    /** Content hash of what the service runs (spec.code and the runtime): an edit replaces it. */
    code: string;
    /** Seconds to wait for readiness. */
    readyTimeoutSeconds: number;
}

export interface LocalProcessState extends LocalProcessInputs {
    pid: number;
    /** Start time in clock ticks: tells a live process from a reused pid. */
    startTime: number;
    logFile: string;
}

const PORT_FREE_TIMEOUT_MS = 15_000;

function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

function logTail(file: string, lines = 30): string {
    try {
        return fs.readFileSync(file, "utf8").split("\n").slice(-lines).join("\n");
    } catch {
        return "(no log)";
    }
}

function probe(spec: ServiceSpec): Promise<boolean> {
    const host = "127.0.0.1";
    return new Promise((resolve) => {
        if (spec.ready.kind === "tcp") {
            const socket = net.connect({ host, port: spec.port });
            socket.setTimeout(1000);
            socket.once("connect", () => { socket.destroy(); resolve(true); });
            socket.once("error", () => resolve(false));
            socket.once("timeout", () => { socket.destroy(); resolve(false); });
        } else {
            const req = http.get({ host, port: spec.port, path: spec.ready.path, timeout: 2000, agent: false }, (res) => {
                res.resume();
                resolve(true);
            });
            req.once("error", () => resolve(false));
            req.once("timeout", () => { req.destroy(); resolve(false); });
        }
    });
}

function userIds(user: string): { uid?: number; gid?: number } {
    if (!user || process.getuid?.() !== 0) return {};
    const uid = Number(execFileSync("id", ["-u", user]).toString().trim());
    const gid = Number(execFileSync("id", ["-g", user]).toString().trim());
    return { uid, gid };
}

/** The service's environment, and the markers that find its processes again (the stack's run folder is dir's parent). */
function childEnv(spec: ServiceSpec, dir: string): Record<string, string> {
    const keep = ["PATH", "HOME", "LANG", "LC_ALL", "TZ"];
    const env: Record<string, string> = {};
    for (const key of keep) if (process.env[key] !== undefined) env[key] = process.env[key] as string;
    return {
        ...env, ...spec.env,
        [MARKERS.scope]: path.dirname(dir), [MARKERS.service]: dir, [MARKERS.stopSignal]: spec.stopSignal,
    };
}

function runSetup(spec: ServiceSpec, dir: string, ids: { uid?: number; gid?: number }) {
    for (const argv of spec.setup) {
        const result = spawnSync(argv[0], argv.slice(1), { cwd: spec.cwd, env: childEnv(spec, dir), ...ids, encoding: "utf8", timeout: 120_000 });
        if (result.status !== 0) {
            throw new Error(`${spec.name}: setup command failed (${argv.join(" ")}):\n${result.stderr || result.stdout || result.error}`);
        }
    }
}

/**
 * Stops the service's processes: every one carrying its marker, and the
 * recorded one while it still runs (state written before the markers existed).
 */
function stopService(spec: ServiceSpec, dir: string, recorded?: { pid: number; startTime: number }, signal = spec.stopSignal): Promise<void> {
    return stopProcesses(spec.name, () => {
        const found: StopTarget[] = markedTargets(MARKERS.service, dir).map((t) => ({ ...t, signal }));
        if (recorded && isAlive(recorded.pid, recorded.startTime) && !found.some((t) => t.pid === recorded.pid)) {
            found.push({ ...recorded, signal });
        }
        return found;
    });
}

async function waitPortFree(host: string, port: number, name: string): Promise<void> {
    const deadline = Date.now() + PORT_FREE_TIMEOUT_MS;
    while (!(await portFree(host, port))) {
        if (Date.now() > deadline) throw new Error(`${name}: port ${port} is still bound ${PORT_FREE_TIMEOUT_MS / 1000} s after stopping`);
        await sleep(100);
    }
}

async function start(inputs: LocalProcessInputs): Promise<LocalProcessState> {
    const { spec, dir } = inputs;

    // An up killed between this start and the engine's record of it left the server running, unknown to the state.
    await stopService(spec, dir);
    if (!(await portFree("127.0.0.1", spec.port))) {
        throw new Error(`${spec.name}: port ${spec.port} is already in use by another program. ` +
            `Stop it, or give the service another port: its component's port (a stack's appPort, apiPort, ingressPort or ` +
            `postgresPort), or, for a leased port, destroy the stack and up again for a new lease.`);
    }
    const ids = userIds(spec.user);
    fs.mkdirSync(dir, { recursive: true });
    if (ids.uid !== undefined && ids.gid !== undefined) fs.chownSync(dir, ids.uid, ids.gid);
    for (const [name, text] of Object.entries(spec.files)) fs.writeFileSync(path.join(dir, name), text);
    runSetup(spec, dir, ids);

    const logFile = path.join(dir, `${spec.name}.log`);
    const out = fs.openSync(logFile, "a");
    fs.writeSync(out, `\n=== ${new Date().toISOString()} ${spec.argv.join(" ")}\n`);
    const [command, ...args] = withRaisedFileLimit(withCpuAffinity(spec.argv, spec.cpus));
    const child = spawn(command, args, {
        cwd: spec.cwd, env: childEnv(spec, dir), detached: true, stdio: ["ignore", out, out], ...ids,
    });
    fs.closeSync(out);
    child.unref();
    // spawn reports a pid even when exec fails: `sh` always starts, and reports its own failure in the log.
    const pid = child.pid!;
    const failed = async (why: string): Promise<never> => {
        await stopService(spec, dir, undefined, "SIGKILL");
        throw new Error(`${spec.name} ${why}. Last lines of ${logFile}:\n${logTail(logFile)}`);
    };
    const stat = readProcStat(pid);
    if (!stat) return failed("exited at once");
    // With its start time: a pid reused by another program is not taken for this service.
    fs.writeFileSync(path.join(dir, `${spec.name}.pid`), `${pid} ${stat.startTime}\n`);

    const deadline = Date.now() + inputs.readyTimeoutSeconds * 1000;
    while (!(await probe(spec))) {
        if (!isAlive(pid, stat.startTime)) return failed("exited before it was ready");
        if (Date.now() > deadline) return failed(`did not answer on port ${spec.port} within ${inputs.readyTimeoutSeconds} s`);
        await sleep(100);
    }
    return { ...inputs, pid, startTime: stat.startTime, logFile };
}

async function stop(state: LocalProcessState): Promise<void> {
    await stopService(state.spec, state.dir, state);
    await waitPortFree("127.0.0.1", state.spec.port, state.spec.name);
    try { fs.unlinkSync(path.join(state.dir, `${state.spec.name}.pid`)); } catch { /* not there */ }
}

const provider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: LocalProcessInputs) {
        const outs = await start(inputs);
        return { id: `${inputs.spec.name}-${outs.pid}`, outs };
    },
    async read(id: string, state: LocalProcessState) {
        // No id: the engine drops the resource from the state, and the next up creates it.
        return isAlive(state.pid, state.startTime) ? { id, props: state } : { id: "" };
    },
    async diff(_id: string, olds: LocalProcessState, news: LocalProcessInputs) {
        const changed = JSON.stringify([olds.spec, olds.dir, olds.code]) !== JSON.stringify([news.spec, news.dir, news.code]);
        const dead = !isAlive(olds.pid, olds.startTime);
        return {
            changes: changed || dead,
            replaces: changed ? ["spec"] : dead ? ["pid"] : [],
            // Same port: the old process must be gone before the new one binds.
            deleteBeforeReplace: true,
        };
    },
    async update(_id: string, olds: LocalProcessState, news: LocalProcessInputs) {
        // Only readyTimeoutSeconds can change without a replace.
        return { outs: { ...olds, readyTimeoutSeconds: news.readyTimeoutSeconds } };
    },
    async delete(_id: string, state: LocalProcessState) {
        await stop(state);
    },
};

/** A service running as a process group on this machine. */
export class LocalProcess extends pulumi.dynamic.Resource {
    declare readonly pid: pulumi.Output<number>;
    declare readonly startTime: pulumi.Output<number>;
    declare readonly logFile: pulumi.Output<string>;

    constructor(name: string, args: pulumi.Inputs, opts?: pulumi.CustomResourceOptions) {
        super(provider, name, { ...args, pid: undefined, startTime: undefined, logFile: undefined }, opts, "local", "Process");
    }
}
