// Slow clients (slowloris): connections that send a request's head a line at a
// time and never finish it, held open during the main load. A server that gives
// each connection a thread from a pool loses a thread to each; one that reads
// requests in an event loop (a gevent worker's greenlets) loses a little memory. What they did to the main load, judged against the same load without
// them. Pure: the bytes, the bounds and the comparison.
import { compareSamples, Comparison, median } from "../stats";

/** What the comparison reads of a measured run (a RunResult has it). */
export interface RunAnswers {
    complete: number;
    failed: number;
    timeTakenSeconds: number;
    latencyMs: { p95: number | null };
}

/** The most slow clients a load may hold: each is a socket of the provider's and a connection of the server's. */
export const MAX_SLOW_CLIENTS = 2000;
/** Seconds between two header lines: shorter than the servers' read timeouts that would drop the client. */
export const SLOW_CLIENT_INTERVAL_SECONDS = 1;

/** A slow client's first bytes: a real request line, so that the server takes the connection as a request, and no end of head. */
export function slowRequestHead(url: string): string {
    const u = new URL(url);
    return `GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nUser-Agent: flask-gevent-lab-slow-client\r\n`;
}

/** The n-th line trickled after the head: a header that says nothing, never the blank line that ends the head. */
export function slowHeaderLine(n: number): string {
    return `X-Slow-${n}: ${n}\r\n`;
}

/** How long a run may take while slow clients are held: every request may wait its whole timeout, a round of clients at a time. */
export function starvedRunSeconds(requests: number, concurrency: number, timeoutSeconds: number): number {
    return Math.ceil(requests / concurrency) * timeoutSeconds;
}

/** The problem with a slow-client count, or null: a whole number within the bound. */
export function slowClientsProblem(count: number): string | null {
    if (!Number.isInteger(count) || count < 0) return `${count} is not a whole number >= 0`;
    if (count > MAX_SLOW_CLIENTS) return `${count} is more than ${MAX_SLOW_CLIENTS}, the most the lab holds (each is a socket on both ends)`;
    return null;
}

/** What the slow clients did while they were held. */
export interface SlowClientsHeld {
    /** Connections asked for. */
    clients: number;
    /** Of them, connected when the runs began (a full listen backlog keeps the rest waiting). */
    connected: number;
    /** Connections opened in all, the first ones included: a server that drops a slow client sees it come back. */
    opened: number;
    /** Of them, opened again after the server closed one. */
    reopened: number;
}

/** A figure with and without the slow clients, and whether they differ beyond the noise of the runs. */
export interface SlowClientsChange {
    without: number | null;
    with: number | null;
    /** with / without; null where either is missing or without is 0. */
    ratio: number | null;
    /** "lower"/"higher" beyond the noise, "tie" within it, "unknown" with one run of each. */
    comparison: Comparison;
}

/** How the main load fared with slow clients held, against the same load without them (the result's headline is the load with them). */
export interface SlowClientsEffect extends SlowClientsHeld {
    /** Measured runs of the same load without them, before them. */
    runsWithout: number;
    /** Requests answered (not failed) per second: a driver's req/s counts the ones that timed out too. */
    answeredPerSecond: SlowClientsChange;
    p95Ms: SlowClientsChange;
    /** Failed requests over the runs without, and with. */
    failed: { without: number; with: number };
}

function change(without: (number | null)[], withSlow: (number | null)[]): SlowClientsChange {
    const a = without.filter((v): v is number => v !== null);
    const b = withSlow.filter((v): v is number => v !== null);
    const w = a.length ? median(a) : null;
    const s = b.length ? median(b) : null;
    return {
        without: w, with: s,
        ratio: w !== null && s !== null && w > 0 ? Math.round((s / w) * 1000) / 1000 : null,
        comparison: compareSamples(b, a).comparison,
    };
}

function answeredPerSecond(r: RunAnswers): number {
    return r.timeTakenSeconds > 0 ? Math.round(((r.complete - r.failed) / r.timeTakenSeconds) * 100) / 100 : 0;
}

export function slowClientsEffect(held: SlowClientsHeld, without: RunAnswers[], withSlow: RunAnswers[]): SlowClientsEffect {
    const sum = (runs: RunAnswers[]) => runs.reduce((n, r) => n + r.failed, 0);
    return {
        ...held,
        runsWithout: without.length,
        answeredPerSecond: change(without.map(answeredPerSecond), withSlow.map(answeredPerSecond)),
        p95Ms: change(without.map((r) => r.latencyMs.p95), withSlow.map((r) => r.latencyMs.p95)),
        failed: { without: sum(without), with: sum(withSlow) },
    };
}

/** One line: what the slow clients did to req/s and p95. */
export function slowClientsText(e: SlowClientsEffect): string {
    const pct = (c: SlowClientsChange) => (c.ratio === null ? "" : ` (${c.ratio >= 1 ? "+" : ""}${Math.round((c.ratio - 1) * 100)} %` +
        `${c.comparison === "tie" ? ", within noise" : c.comparison === "unknown" ? ", one run each" : ""})`);
    const v = (x: number | null, unit: string) => (x === null ? "none" : `${Math.round(x * 10) / 10}${unit}`);
    const held = e.connected < e.clients ? `${e.connected} of ${e.clients} connected` : `${e.clients}`;
    return `${held} held open (${e.reopened} reopened after the server dropped them): ` +
        `answered/s ${v(e.answeredPerSecond.without, "")} -> ${v(e.answeredPerSecond.with, "")}${pct(e.answeredPerSecond)}, ` +
        `p95 ${v(e.p95Ms.without, " ms")} -> ${v(e.p95Ms.with, " ms")}${pct(e.p95Ms)}, ` +
        `failed ${e.failed.without} -> ${e.failed.with}`;
}
