// The answer on one screen: what a stack's load found, in a dozen lines, with
// where the whole result is. Pure.
import { slowClientsText } from "./load/slowClients";
import { CapacityResult } from "./load/capacity";
import { CpuSamplerNote, LoadResult } from "./load/result";
import { Spread } from "./stats";
import { tutorialText } from "./tutorial";

export interface SummaryInput {
    scenario: string;
    /** The app's server and shape, in one line. */
    server: string;
    ingress: string;
    platform: string;
    result: LoadResult;
    /** The same load straight at the slow API; null without one. */
    baseline: LoadResult | null;
    /** The tutorial's req/s; null where it published none, undefined for a scenario beyond it (lib/tutorial.ts). */
    tutorialRps: number | null | undefined;
    /** How to see everything: the command and the result's file. */
    fullResult: string;
}

const n = (v: number | null | undefined, digits = 2) => (v === null || v === undefined ? "-" : String(Number(v.toFixed(digits))));
const pct = (v: number) => `${Math.round(v * 100)} %`;
const ms = (v: number | null) => (v === null ? "-" : `${Math.round(v)} ms`);

/** "163.08 (95 % interval 158.1-168.0, CV 1.2 %, 3 runs)"; a single run says so. */
export function withSpread(value: number, spread: Spread | null | undefined, unit = ""): string {
    if (!spread || !spread.ci95) return `${n(value)}${unit} (one run: no spread measured)`;
    const [lo, hi] = spread.ci95;
    return `${n(value)}${unit} (95 % interval ${n(lo, 1)}-${n(hi, 1)}, CV ${(100 * (spread.cv ?? 0)).toFixed(1)} %, ${spread.n} runs)`;
}

/** The capacity line: the rate found and who broke it at the knee. */
export function capacityLine(c: CapacityResult): string {
    const objective = `p99 <= ${c.sloP99Ms} ms, no failure`;
    const knee = c.knee ? `; at ${n(c.knee.askedRps)} req/s ${c.knee.why.replace(/^missed: /, "")}: ${c.knee.bottleneck.words}` : "";
    switch (c.bound) {
        case "found": return `${n(c.capacityRps)} req/s at ${objective}${knee}`;
        case "at-least-max": return `at least ${n(c.capacityRps)} req/s at ${objective} (the search's ceiling passed)`;
        case "below-first-probe": return `below the first probe, ${n(c.knee?.askedRps)} req/s, at ${objective}${knee}`;
    }
}

/** At most ~15 lines: the headline against the limit, the driver's ceiling, the baseline and the tutorial, and the verdict. */
/** ", keep-alive (1990 of 2000 answers on kept connections)" where the clients kept theirs; "" otherwise. */
function keepAliveText(r: LoadResult): string {
    if (!r.keepAlive) return "";
    return r.keptAlive === undefined ? ", keep-alive" : `, keep-alive (${r.keptAlive} of ${r.complete} answers on kept connections)`;
}

/** Who read a cluster load's CPU, and why not its sampler pods where not. */
function cpuSamplerText(note: CpuSamplerNote): string {
    if (note.source === "cluster") return "read by a sampler pod on each of the cluster's nodes";
    return `${note.source === "local" ? "read from this machine's /proc" : "not read"}: ${note.reason}`;
}

export function renderSummary(s: SummaryInput): string {
    const r = s.result;
    const runs = r.repeats.length;
    const driver = `${r.driver} ${r.driverVersion}`;
    const against = [
        r.limitRps !== null ? `limit ${n(r.limitRps)}${r.efficiency !== null ? ` (${pct(r.efficiency)})` : ""}` +
            // Results from before appCpuMs have no cpuLimitRps at all.
            (r.cpuLimitRps != null && r.cpuLimitRps <= r.limitRps ? `, set by the app's CPU (${r.appCpuMs} ms a request)` : "") : "",
        r.driverCeilingRps !== null ? `${r.driver}'s ceiling ${n(r.driverCeilingRps)}` : "",
        s.baseline ? `baseline ${n(s.baseline.requestsPerSecond)}` : "",
        s.tutorialRps === undefined ? "beyond the tutorial" : `tutorial ${tutorialText(s.tutorialRps, (v) => n(v))}`,
    ].filter(Boolean).join(", ");
    const held = r.held?.postgres ?? r.held?.upstream;
    const heldWhere = r.held?.postgres ? "PostgreSQL ran" : "the slow API held";
    const unseen = r.failures.unseenByDriver ? ` (${r.failures.unseenByDriver} of them unseen by ${r.driver})` : "";
    const lines = [
        `${s.scenario}: ${s.server}${s.ingress !== "none" ? `, behind ${s.ingress}` : ""} (${s.platform})`,
        `  load        ${r.requests} requests, ${r.concurrency} clients, ${n(r.delaySeconds)} s delay, ${driver}${keepAliveText(r)}; ` +
            `${runs} run${runs > 1 ? "s" : ""}${r.warmup ? ` after a ${n(r.warmup.seconds)} s warm-up` : ""}` +
            (r.pods ? `; ${r.pods.length} load pods, released together (their starts at most ${n(r.podsStartSkewSeconds ?? 0, 3)} s apart)` : ""),
        `  req/s       ${withSpread(r.requestsPerSecond, r.spread?.requestsPerSecond)}`,
        `  against     ${against}`,
        `  latency     p50 ${ms(r.latencyMs.p50)}, p95 ${ms(r.latencyMs.p95)}, p99 ${ms(r.latencyMs.p99)}`,
        `  failed      ${r.failed} of ${r.requests * runs}${unseen}; ` +
            (r.failures.checkedAgainst ? `checked against ${r.failures.checkedAgainst}` : `as ${r.driver} counted them`),
        `  threads     ${n(r.threadsBefore, 0)} before the load, ${n(r.threadsPeak, 0)} at its peak`,
        ...(r.cpuSampler ? [`  cpu         ${cpuSamplerText(r.cpuSampler)}`] : []),
        ...(held ? [`  held        ${heldWhere} ${n(held.avg, 1)} at once on average, ${held.peak} at most, for ${r.concurrency} clients`] : []),
        `  verdict     ${r.bottleneck.words}`,
        ...(r.spreadNote ? [`  spread      ${r.spreadNote}`] : []),
        ...(r.capacity ? [`  capacity    ${capacityLine(r.capacity)}`] : []),
        ...(r.slowClients ? [`  slow        ${slowClientsText(r.slowClients)}`] : []),
        `  everything  ${s.fullResult}`,
    ];
    return lines.join("\n");
}
