// Who ran out first, and what held the run back: a verdict from what was
// measured (CPU per role, what the server held at once, the kernel's listen
// queue), never a default. Pure.
import { BURST_WINDOW_SECONDS, CPU_ROLES, CpuRole, CpuUsage, PEAK_WINDOW_SECONDS } from "./cpu";

/** Requests a stage held at once during a run. */
export interface Held {
    /** Most at once. */
    peak: number;
    /** Time-average: by Little's law, the stage's throughput x its time per request. */
    avg: number;
}

/** What the server held at once, seen from the stages behind it. */
export interface Concurrency {
    /** Requests the slow API held (the app's calls to it), from its own count. */
    upstream: Held | null;
    /** Queries PostgreSQL ran at once, from its backends' process titles; null without a database or where they can't be read. */
    postgres: Held | null;
}

/** The kernel's listen-queue counters (TcpExt ListenOverflows, ListenDrops) during a run, in the app's network namespace. */
export interface ListenQueue {
    overflows: number;
    drops: number;
    /** Whose namespace was read: "this machine's" or the app's own (a pod's). */
    namespace: string;
}

export const VERDICTS = ["latency-bound", ...CPU_ROLES, "machine", "slow-clients", "concurrency", "listen-backlog", "unexplained"] as const;
export type Verdict = (typeof VERDICTS)[number];

export interface Bottleneck {
    /**
     * What held the run back: latency-bound (the clients and the delay explain the figure), a role that ran out of
     * CPU, the machine (every core busy), slow clients (they held the threads the load needed), concurrency (the server
     * held fewer requests at once than were offered),
     * listen-backlog (connections overflowed the listen queue), or unexplained (no rule fits: see the figures).
     */
    verdict: Verdict;
    /** The same in a sentence, for people. */
    words: string;
    /** The rule that gave the verdict, with its figures. */
    rule: string;
}

export interface VerdictInput {
    /** req/s over the lower of the Little's-law limit and the driver's ceiling; null where there is none (an open-model probe). */
    reached: number | null;
    cpu: CpuUsage | null;
    /** Requests the load offered at once: a closed loop's clients; at a constant rate, rate x delay. */
    offered: number;
    /** Requests the server can hold at once (its threads; Infinity: one per request). */
    capacity: number;
    requestsPerSecond: number;
    /** Seconds the slow API sleeps per request. */
    delaySeconds: number;
    held: Concurrency | null;
    listen: ListenQueue | null;
    /** Requests the run sent. */
    requests: number;
    /** Whether the app's CPU (appCpuMs) set the limit, rather than Little's law; false when it burns none. */
    cpuLimited?: boolean;
    /** Slow clients held open during the run (lib/load/slowClients.ts); absent: none. */
    slowClients?: number;
}

/** A run that reached this share of what the limit and the driver allow is at its limit. */
export const LIMIT_REACHED = 0.95;
/** A run that reached this share is near it: latency-bound, when nothing else was found. */
export const NEAR_LIMIT = 0.85;
/** A role at or above this share of its usable cores ran out of CPU. */
export const ROLE_SATURATED = 0.9;
/** The machine with less idle than this ran out of CPU. */
export const MACHINE_IDLE_BELOW = 0.05;
/** A stage whose peak stayed at or below this share of what was offered held the run back... */
export const HELD_BELOW = 0.8;
/** ...when it was kept that full on average (its peak was no passing spike). */
export const HELD_FULL = 0.5;
/** A stage that held this share of the server's capacity at its peak found the server full. */
export const CAPACITY_FULL = 0.9;
/** Listen-queue overflows at or above this share of the requests delayed the run (each waits for a SYN retry). */
export const OVERFLOW_SHARE = 0.01;

const percent = (share: number) => `${Math.round(share * 100)} %`;
const fixed = (v: number, digits = 2) => String(Number(v.toFixed(digits)));

interface RoleShare {
    role: CpuRole;
    share: number;
    what: string;
}

/** Each measured role's highest share of what it can use: of its cores as a whole, or of one process's (a GIL holds a Python process to one core). */
function roleShares(cpu: CpuUsage): RoleShare[] {
    return CPU_ROLES.flatMap((role) => {
        const r = cpu.roles[role];
        if (!r || r.usableCores <= 0) return [];
        const whole = { role, share: r.peakCores / r.usableCores, what: `the ${r.usableCores} core(s) it can use (peak ${r.peakCores})` };
        const one = r.processCores
            ? { role, share: r.peakProcessCores / r.processCores, what: `the ${r.processCores} core(s) one of its processes can use (peak ${r.peakProcessCores})` }
            : undefined;
        return [one && one.share > whole.share ? one : whole];
    }).sort((a, b) => b.share - a.share);
}

/** Each role whose processes are held to fewer cores than it has (GIL-bound Python, ab): its busiest process's share of them over a burst. */
function burstShares(cpu: CpuUsage): { role: CpuRole; share: number; overSecond: number; processCores: number }[] {
    return CPU_ROLES.flatMap((role) => {
        const r = cpu.roles[role];
        return r?.processCores ? [{ role, share: r.burstProcessCores / r.processCores, overSecond: r.peakProcessCores / r.processCores, processCores: r.processCores }] : [];
    }).sort((a, b) => b.share - a.share);
}

/** The stage that held the fewest of what was offered, as a share of it. */
function tightestStage(input: VerdictInput): { stage: "upstream" | "postgres"; held: Held; share: number } | undefined {
    const stages = (["postgres", "upstream"] as const).flatMap((stage) => {
        const held = input.held?.[stage];
        return held && input.offered > 0 ? [{ stage, held, share: held.peak / input.offered }] : [];
    });
    return stages.sort((a, b) => a.share - b.share)[0];
}

const STAGE_WORDS = {
    upstream: (n: number) => `${n} request${n === 1 ? "" : "s"} at once in the slow API`,
    postgres: (n: number) => `${n} quer${n === 1 ? "y" : "ies"} at once in PostgreSQL`,
};

/**
 * The verdict, in order: latency-bound at the limit (>= 95 % of what the limit and the driver allow); a role
 * that ran out of CPU (>= 90 % of the cores it can use, or one of its processes of its one core, over its
 * busiest second); slow clients (below 85 % of the limit, with slow clients holding so many of the server's threads
 * that fewer than the load's clients were left); concurrency (a stage behind the server held at most 80 % of what the load offered, and was
 * kept at least half that full on average; or, at a constant rate or with more clients than the server holds, it
 * held >= 90 % of what the server holds at once: its threads were all busy); the machine (< 5 % idle);
 * latency-bound near the limit (>= 85 %); the listen backlog (overflows >= 1 % of the requests); a GIL-bound
 * process at >= 90 % of its core over a quarter second (bursts a second's average hides); else unexplained, with the figures.
 */
export function verdictOf(input: VerdictInput): Bottleneck {
    const shares = input.cpu ? roleShares(input.cpu) : [];
    const worst = shares[0];
    const idle = input.cpu ? `machine ${percent(input.cpu.machine.minIdle)} idle at its busiest` : "no CPU figures";
    const busiest = worst ? `; busiest role ${worst.role} at ${percent(worst.share)} of ${worst.what}` : "";
    const stage = tightestStage(input);
    const heldText = stage ? `; ${stage.stage} held ${fixed(stage.held.avg, 1)} on average, ${stage.held.peak} at most, of ${fixed(input.offered, 1)} offered` : "";
    // Little's law: the slow API holds each request `delay`, so what the clients waited beyond it was spent elsewhere.
    const upstream = input.held?.upstream;
    const outside = upstream && input.requestsPerSecond > 0 && input.reached !== null
        ? Math.max(0, (input.offered - upstream.avg) / input.requestsPerSecond) : null;
    const outsideText = outside === null ? "" : `; each request spent ${fixed(outside)} s on average outside the slow API (in the server, its queues, the driver)`;
    const reachedText = input.reached === null ? "" : `${percent(input.reached)} of what the limit and the driver allow`;

    if (input.reached !== null && input.reached >= LIMIT_REACHED && input.cpuLimited) {
        return {
            verdict: "app",
            words: `app ran out of CPU first: at its CPU limit (${reachedText}), each process one request's handler at a time (GIL)`,
            rule: `app at its CPU limit: ${reachedText} (>= ${percent(LIMIT_REACHED)}), the limit being its processes' cores x 1000 / appCpuMs; ${idle}${busiest}`,
        };
    }
    if (input.reached !== null && input.reached >= LIMIT_REACHED) {
        return {
            verdict: "latency-bound",
            words: `latency-bound: at its limit (${reachedText}); nothing ran out`,
            rule: `latency-bound: ${reachedText} (>= ${percent(LIMIT_REACHED)}); ${idle}${busiest}`,
        };
    }
    if (worst && worst.share >= ROLE_SATURATED) {
        return {
            verdict: worst.role,
            words: `${worst.role} ran out of CPU first (${percent(worst.share)} of ${worst.what.replace(/ \(peak.*\)$/, "")})`,
            rule: `${worst.role} at ${percent(worst.share)} of ${worst.what} (>= ${percent(ROLE_SATURATED)}); ${idle}`,
        };
    }
    const slow = input.slowClients ?? 0;
    const left = Math.max(0, input.capacity - slow);
    if (slow > 0 && Number.isFinite(input.capacity) && left < input.offered && (input.reached === null || input.reached < NEAR_LIMIT)) {
        const after = left === 0 ? "none was left where they spread evenly: requests waited for one until they timed out"
            : `at most ${left} were left for ${fixed(input.offered, 1)} clients`;
        return {
            verdict: "slow-clients",
            words: `slow clients: ${slow} connections that never end their request each hold one of the ${input.capacity} requests the server holds at once ` +
                `(a thread or a connection slot); ${after}`,
            rule: `slow-clients: ${slow} held open, ${input.capacity} the server holds at once, ${left} left < ${fixed(input.offered, 1)} offered` +
                `${reachedText ? `; ${reachedText} (< ${percent(NEAR_LIMIT)})` : ""}; ${idle}${busiest}${heldText}`,
        };
    }
    if (stage && stage.share <= HELD_BELOW && stage.held.avg >= HELD_FULL * stage.held.peak) {
        const how = stage.held.peak <= 1 ? "it serializes them" : "the rest queued";
        return {
            verdict: "concurrency",
            words: `concurrency: the server held at most ${STAGE_WORDS[stage.stage](stage.held.peak)} for ${fixed(input.offered, 1)} offered: ${how}`,
            rule: `concurrency: ${stage.stage} held at most ${stage.held.peak} (${percent(stage.share)} of the ${fixed(input.offered, 1)} offered, ` +
                `<= ${percent(HELD_BELOW)}), ${fixed(stage.held.avg, 2)} on average (>= ${percent(HELD_FULL)} of its peak); ${idle}${busiest}`,
        };
    }
    const full = Math.max(1, Math.floor(CAPACITY_FULL * input.capacity));
    if (stage && Number.isFinite(input.capacity) && stage.held.peak >= full && (input.reached === null || input.offered > input.capacity)) {
        return {
            verdict: "concurrency",
            words: `concurrency: ${input.capacity === 1 ? "the server's one thread was busy" : `the server's ${input.capacity} threads were all busy`} at the peak ` +
                `(${STAGE_WORDS[stage.stage](stage.held.peak)}): requests queued for one`,
            rule: `concurrency: ${stage.stage} held ${stage.held.peak} at its peak, >= ${percent(CAPACITY_FULL)} of the ${input.capacity} ` +
                `the server holds at once, ${fixed(stage.held.avg, 2)} on average, for ${fixed(input.offered, 1)} offered; ${idle}${busiest}`,
        };
    }
    if (input.cpu && input.cpu.machine.minIdle < MACHINE_IDLE_BELOW) {
        return {
            verdict: "machine",
            words: `the machine ran out of CPU (every core busy; other programs used ${input.cpu.machine.othersAvgCores} cores on average)`,
            rule: `machine: ${idle} (< ${percent(MACHINE_IDLE_BELOW)}), no role at >= ${percent(ROLE_SATURATED)} of its cores${busiest}; ` +
                `processes outside the run's roles used ${input.cpu.machine.othersAvgCores} core(s) on average`,
        };
    }
    const overflows = input.listen?.overflows ?? 0;
    const overflowNote = overflows ? `; the listen queue overflowed ${overflows} times` : "";
    if (input.reached !== null && input.reached >= NEAR_LIMIT) {
        return {
            verdict: "latency-bound",
            words: `latency-bound: near its limit (${reachedText}); nothing ran out${overflowNote}`,
            rule: `latency-bound: ${reachedText} (>= ${percent(NEAR_LIMIT)}), no role at >= ${percent(ROLE_SATURATED)} of its cores, ${idle}${busiest}${heldText}${outsideText}${overflowNote}`,
        };
    }
    if (input.listen && overflows > 0 && overflows >= OVERFLOW_SHARE * input.requests) {
        return {
            verdict: "listen-backlog",
            words: `listen backlog: connections overflowed the listen queue ${overflows} times and waited for the client's SYN retry`,
            rule: `listen-backlog: ${overflows} ListenOverflows (${input.listen.drops} ListenDrops) in ${input.listen.namespace} network namespace ` +
                `for ${input.requests} requests (>= ${percent(OVERFLOW_SHARE)}); ${idle}${busiest}${heldText}`,
        };
    }
    const burst = input.cpu ? burstShares(input.cpu)[0] : undefined;
    if (burst && burst.share >= ROLE_SATURATED) {
        return {
            verdict: burst.role,
            words: `${burst.role} ran out of CPU in bursts: one of its processes used ${percent(burst.share)} of its core over a quarter ` +
                `second (${percent(burst.overSecond)} over its busiest second), and requests queued for it meanwhile`,
            rule: `${burst.role} in bursts: one process at ${percent(burst.share)} of its ${burst.processCores} core(s) over ${BURST_WINDOW_SECONDS} s ` +
                `(>= ${percent(ROLE_SATURATED)}), ${percent(burst.overSecond)} over ${PEAK_WINDOW_SECONDS} s; ${reachedText}; ${idle}${heldText}${outsideText}`,
        };
    }
    const figures = [reachedText, idle + busiest.replace(/^; /, ", "), heldText.replace(/^; /, ""), outsideText.replace(/^; /, "")].filter(Boolean).join("; ");
    return {
        verdict: "unexplained",
        words: `unexplained: no rule fits (${reachedText || "no limit to compare with"}); see the figures`,
        rule: `unexplained: ${figures}`,
    };
}
