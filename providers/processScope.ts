// The processes of one stack, found by the environment markers the providers
// give everything they start, and stopped within a bound.
//
// Every process LocalProcess or LoadRun starts carries FGL_SCOPE=<the stack's
// run folder>, and FGL_SERVICE or FGL_LOAD naming its resource, and
// FGL_STOP_SIGNAL. Children inherit them, and they outlive the engine's record:
// a server started by an up that was killed before recording it is still found.
//
// ProcessScope is the resource every process of a stack depends on. Its create
// (a first up, or one after the state was lost) and its delete (the last step
// of every destroy) stop every process of the scope, recorded or not.
import * as os from "os";
import * as pulumi from "@pulumi/pulumi";
import { isAlive, processesWithEnv } from "../lib/procfs";

/** The environment markers, and what their values are. */
export const MARKERS = {
    /** The stack's run folder, .lab/<stack>: unique per clone and stack. */
    scope: "FGL_SCOPE",
    /** A LocalProcess's own folder, .lab/<stack>/<service>. */
    service: "FGL_SERVICE",
    /** One LoadRun resource's driver. */
    load: "FGL_LOAD",
    /** The signal that stops the process gracefully (uWSGI takes SIGTERM as "reload"). */
    stopSignal: "FGL_STOP_SIGNAL",
} as const;

/** A process to stop, checked against pid reuse (pid + start time) before every signal. */
export interface StopTarget {
    pid: number;
    startTime: number;
    signal: NodeJS.Signals;
}

export interface StopBounds {
    /** How long the graceful signal has before SIGKILL. */
    graceMs: number;
    /** How long SIGKILL has before stopping fails. */
    killLimitMs: number;
}

export const STOP_BOUNDS: StopBounds = { graceMs: 10_000, killLimitMs: 10_000 };
const POLL_MS = 100;

function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The live processes carrying key=value, each with the stop signal it was started with (else `fallback`). */
export function markedTargets(key: string, value: string, fallback: NodeJS.Signals = "SIGTERM"): StopTarget[] {
    return processesWithEnv(key, value)
        .filter((p) => p.pid !== process.pid)
        .map((p) => {
            const named = p.env.get(MARKERS.stopSignal) ?? "";
            const signal = (named in os.constants.signals ? named : fallback) as NodeJS.Signals;
            return { pid: p.pid, startTime: p.startTime, signal };
        });
}

/**
 * Stops whatever `find` returns, re-reading it as processes exit or appear (a
 * master may fork while it stops): each gets its own stop signal once, then
 * SIGKILL after the grace; an error names the pids still alive after the limit.
 * A process is signalled only while it is still the one found (pid + start time).
 */
export async function stopProcesses(label: string, find: () => StopTarget[], bounds: StopBounds = STOP_BOUNDS): Promise<void> {
    const send = (t: StopTarget, signal: NodeJS.Signals) => {
        if (!isAlive(t.pid, t.startTime)) return;
        try { process.kill(t.pid, signal); } catch { /* exited meanwhile */ }
    };
    const signalled = new Set<string>();
    let alive = find();
    const graceEnd = Date.now() + bounds.graceMs;
    while (alive.length > 0 && Date.now() < graceEnd) {
        for (const t of alive) {
            const key = `${t.pid}:${t.startTime}`;
            if (!signalled.has(key)) { signalled.add(key); send(t, t.signal); }
        }
        await sleep(POLL_MS);
        alive = find();
    }
    const limit = Date.now() + bounds.killLimitMs;
    while (alive.length > 0 && Date.now() < limit) {
        for (const t of alive) send(t, "SIGKILL");
        await sleep(POLL_MS);
        alive = find();
    }
    if (alive.length > 0) {
        throw new Error(`${label}: ${alive.length === 1 ? "process" : "processes"} ${alive.map((t) => t.pid).join(", ")} ` +
            `still alive ${bounds.killLimitMs / 1000} s after SIGKILL (${bounds.graceMs / 1000} s after ` +
            `${[...new Set(alive.map((t) => t.signal))].join("/")}); stop them by hand and run the command again`);
    }
}

/** Stops every process of the stack whose run folder is `scope`. */
export function stopScope(scope: string): Promise<void> {
    if (!scope) throw new Error("ProcessScope: scope must name the stack's run folder");
    return stopProcesses(`processes of ${scope}`, () => markedTargets(MARKERS.scope, scope));
}

export interface ProcessScopeInputs {
    /** The stack's run folder (.lab/<stack>): what its processes carry as FGL_SCOPE. */
    scope: string;
}

const provider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: ProcessScopeInputs) {
        await stopScope(inputs.scope);
        return { id: inputs.scope, outs: inputs };
    },
    async diff(_id: string, olds: ProcessScopeInputs, news: ProcessScopeInputs) {
        const changed = olds.scope !== news.scope;
        return { changes: changed, replaces: changed ? ["scope"] : [] };
    },
    async delete(_id: string, olds: ProcessScopeInputs) {
        await stopScope(olds.scope);
    },
};

/**
 * The processes of one stack: create it before every process of the stack
 * (they depend on it) so that `pulumi destroy` ends by stopping whatever an
 * interrupted up started and never recorded.
 */
export class ProcessScope extends pulumi.dynamic.Resource {
    declare readonly scope: pulumi.Output<string>;

    constructor(name: string, args: { scope: pulumi.Input<string> }, opts?: pulumi.CustomResourceOptions) {
        super(provider, name, args, opts, "local", "Scope");
    }
}
