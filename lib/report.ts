// The matrix's results file and its renderings (terminal table, report.md):
// "What to pick" first, then every figure with its spread. Pure.
import { figureText, Measured, METRICS, Outcome, rank, rankCapacity, Ranking } from "./decide";
import { probedAgain } from "./load/capacity";
import { CPU_ROLES, CpuUsage } from "./load/cpu";
import { LoadResult } from "./load/result";
import { SlowClientsChange } from "./load/slowClients";
import { Bottleneck } from "./load/verdict";
import { spreadOf } from "./stats";
import { tutorialText } from "./tutorial";

export interface Timings {
    deploySeconds: number;
    loadSeconds: number;
    destroySeconds: number;
}

export interface MatrixRow {
    scenario: string;
    status: "ok" | "failed";
    serverMode: string;
    /** The server and its shape, in one line. */
    server: string;
    ingress: string;
    result: LoadResult | null;
    /** The harness's own figure for the same load (the slow API directly). */
    baseline: LoadResult | null;
    /** The tutorial's req/s; null where it published none, undefined for a scenario beyond it (lib/tutorial.ts). */
    tutorialRps: number | null | undefined;
    /** Why it failed, and the last lines of its log. */
    error: string | null;
    timings: Timings;
}

export interface SweepPoint {
    scenario: string;
    concurrency: number;
    requests: number;
    status: "ok" | "failed";
    result: LoadResult | null;
    baseline: LoadResult | null;
    /** The failure's cause, for levels the client or server could not hold. */
    error: string | null;
    /** The cpuAffinity setting this level ran with ("": no split). */
    split: string;
}

export interface MatrixResults {
    /** The file's format (lib/runs.ts RESULTS_FORMAT); absent in the files written before it was recorded. */
    format?: string;
    startedAt: string;
    wallSeconds: number;
    environment: Record<string, string>;
    /** Load overrides given to every scenario (empty: each scenario's own load). */
    loadOverrides: Record<string, string>;
    rows: MatrixRow[];
    sweep: SweepPoint[];
}

export const COLUMNS = [
    "scenario", "server", "driver", "runs", "req/s [95 % interval]", "rank", "tutorial", "limit", "efficiency", "failed", "time (s)", "p95 (ms)",
    "threads before/peak", "harness baseline", "driver ceiling", "bottleneck", "peak CPU (cores)",
] as const;

const num = (v: number | null | undefined, digits = 2) => (v === null || v === undefined ? "-" : String(Number(v.toFixed(digits))));
const pct = (v: number | null | undefined) => (v === null || v === undefined ? "-" : `${(v * 100).toFixed(1)}%`);

/** The verdict in a table cell: what held the run back, a role that ran out of CPU marked as such. */
export function verdictCell(b: Bottleneck | null | undefined): string {
    if (!b) return "-";
    if (b.verdict === "machine") return "machine (all cores)";
    return (CPU_ROLES as readonly string[]).includes(b.verdict) ? `${b.verdict} (CPU)` : b.verdict;
}

/** Peak cores per role that ran, the machine's, and what others used on average: "driver 0.97, app 1.2; machine 1.9/2 (others 0.1 avg)". */
export function cpuCell(cpu: CpuUsage | null | undefined): string {
    if (!cpu) return "-";
    const roles = CPU_ROLES.filter((r) => r in cpu.roles).map((r) => `${r} ${num(cpu.roles[r]?.peakCores)}`);
    return `${roles.join(", ")}; machine ${num(cpu.machine.peakBusyCores)}/${cpu.cores} (others ${num(cpu.machine.othersAvgCores)} avg)`;
}

/** The scenarios that ran. */
export function measuredRows(results: MatrixResults): Measured[] {
    return results.rows.flatMap((row) => (row.result ? [{ scenario: row.scenario, result: row.result }] : []));
}

/** Every scenario of the run as a comparison sees it: its result, or null where it failed. */
export function outcomesOf(results: MatrixResults): Outcome[] {
    return results.rows.map((row) => ({ scenario: row.scenario, result: row.result }));
}

/** Each scenario's tie group for req/s at its load (1: the best group), "-" where it was alone at its load. */
function rpsRanks(results: MatrixResults): Map<string, string> {
    const ranks = new Map<string, string>();
    for (const ranking of rank(measuredRows(results), METRICS.rps)) {
        ranking.groups.forEach((g, i) => g.scenarios.forEach((s) => ranks.set(s, String(i + 1))));
    }
    return ranks;
}

/** One table row per scenario; a failed scenario shows FAILED and the figures it lacks as "-". */
export function tableRows(results: MatrixResults): string[][] {
    const ranks = rpsRanks(results);
    return results.rows.map((row) => {
        const r = row.result;
        return [
            row.scenario,
            row.server + (row.ingress !== "none" ? `, behind ${row.ingress}` : ""),
            r ? `${r.driver} ${r.driverVersion}${r.keepAlive ? ", keep-alive" : ""}` : "-",
            r ? String(r.repeats.length) : "-",
            row.status === "ok" ? figureText(r!.repeats.map((run) => run.requestsPerSecond)) : "FAILED",
            ranks.get(row.scenario) ?? "-",
            tutorialText(row.tutorialRps, (v) => num(v)),
            num(r?.limitRps),
            pct(r?.efficiency),
            num(r?.failed, 0),
            num(r?.timeTakenSeconds, 3),
            num(r?.latencyMs.p95, 0),
            r ? `${num(r.threadsBefore, 0)} / ${num(r.threadsPeak, 0)}` : "-",
            num(row.baseline?.requestsPerSecond),
            num(r?.driverCeilingRps),
            verdictCell(r?.bottleneck),
            cpuCell(r?.cpu),
        ];
    });
}

export function renderTerminalTable(results: MatrixResults): string {
    const rows = [COLUMNS as readonly string[], ...tableRows(results)];
    const widths = COLUMNS.map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd()).join("\n");
}

function markdownTable(header: readonly string[], rows: string[][]): string {
    const line = (cells: readonly string[]) => `| ${cells.map((c) => c.replace(/\|/g, "\\|")).join(" | ")} |`;
    return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

export function sweepRows(results: MatrixResults): string[][] {
    return results.sweep.map((p) => [
        p.scenario, p.split || "none", p.result?.driver ?? "-", String(p.concurrency), String(p.requests),
        p.status === "ok" ? num(p.result?.requestsPerSecond) : "FAILED",
        num(p.result?.limitRps), pct(p.result?.efficiency), num(p.result?.failed, 0), num(p.result?.latencyMs.p95, 0),
        p.result ? `${num(p.result.threadsBefore, 0)} / ${num(p.result.threadsPeak, 0)}` : "-",
        num(p.baseline?.requestsPerSecond),
        verdictCell(p.result?.bottleneck), cpuCell(p.result?.cpu),
        p.error ? p.error.split("\n")[0].slice(0, 160) : "",
    ]);
}

export const SWEEP_COLUMNS = ["scenario", "cpu split", "driver", "clients", "requests", "req/s", "limit", "efficiency", "failed", "p95 (ms)",
    "threads before/peak", "harness baseline", "bottleneck", "peak CPU (cores)", "cause of failure"];

/** Each run's verdict: what ran, and the verdict in words with the rule and figures that gave it (for report.md and the page). */
export function verdicts(results: MatrixResults): { what: string; bottleneck: Bottleneck }[] {
    const entry = (what: string, r: LoadResult | null) => (r?.bottleneck ? [{ what, bottleneck: r.bottleneck }] : []);
    return [
        ...results.rows.flatMap((row) => entry(row.scenario, row.result)),
        ...results.sweep.flatMap((p) => entry(`sweep ${p.scenario}, ${p.concurrency} clients${p.split ? `, split ${p.split}` : ""}`, p.result)),
    ];
}

/** One question's answer: each load's groups of ties, best first. */
function answer(question: string, rankings: Ranking[], how: string): string[] {
    if (!rankings.length) return [`**${question}** Not measured here: no two scenarios ran the same load with this figure.`, ""];
    return [
        `**${question}** ${how}`, "",
        ...rankings.flatMap((r) => [
            `- at ${r.load}:`,
            ...r.groups.map((g, i) => `  ${i + 1}. ${i === 0 ? "**" + g.scenarios.join(", ") + "**" : g.scenarios.join(", ")}: ${g.evidence}`),
            ...(r.unmeasured.length ? [`  (not measured: ${r.unmeasured.join(", ")})`] : []),
        ]),
        "",
    ];
}

/** "What to pick": each question a person choosing a server asks, answered with the winner or the group of ties and its evidence. */
export function whatToPick(results: MatrixResults): string[] {
    const measured = measuredRows(results);
    const runs = Math.max(0, ...measured.map((m) => m.result.repeats.length));
    const how = runs > 1
        ? `Median [95 % t-interval of the mean] over ${runs} runs each; a group holds the best and every scenario Welch's t-test at 5 % does not set apart from it.`
        : "One run each: no spread was measured, so no difference can be told from noise (run the matrix with --repeats 3).";
    const capacity = rankCapacity(measured);
    return [
        "## What to pick", "",
        ...answer("Most req/s at the tutorial's load.", rank(measured, METRICS.rps), how),
        ...(capacity ? [
            `**Highest capacity at the objective** (${capacity.objective}): one search each; two capacities tie where their brackets, ` +
            "from the highest rate that met the objective to the lowest that missed it, overlap.", "",
            ...capacity.groups.map((g, i) => `${i + 1}. ${i === 0 ? "**" + g.scenarios.join(", ") + "**" : g.scenarios.join(", ")}: ${g.evidence}`), "",
        ] : ["**Highest capacity at the objective.** Not searched in this run (./lab matrix --capacity).", ""]),
        ...answer("Fewest threads for the same load.", rank(measured, METRICS.threads), "Most threads the app had at once in each run."),
        ...answer("Cheapest in CPU per request.", rank(measured, METRICS.cpu),
            "CPU seconds of the app, nginx and PostgreSQL per request (the slow API and the driver are the harness, not the server); containers' CPU can't be read."),
    ];
}

/** The harness's own noise: the baseline (the same load straight at the slow API) repeated, per load: the A/A spread. */
export function noiseFloor(results: MatrixResults): string[] {
    const seen = new Map<string, LoadResult>();
    for (const row of results.rows) if (row.baseline) seen.set(`${row.baseline.requests}/${row.baseline.concurrency}/${row.baseline.delaySeconds}`, row.baseline);
    const lines = [...seen.values()].map((b) => {
        const s = spreadOf(b.repeats.map((r) => r.requestsPerSecond));
        const spread = s.ci95 ? `95 % interval ${num(s.ci95[0], 1)}-${num(s.ci95[1], 1)}, CV ${(100 * s.cv!).toFixed(1)} %, min ${num(s.min)}, max ${num(s.max)}` : "one run: no spread measured";
        return `- ${b.requests} requests, ${b.concurrency} clients, ${b.delaySeconds} s, ${b.driver}: ${num(s.median)} req/s over ${s.n} run(s) (${spread})`;
    });
    return lines.length ? ["## The harness's own noise", "",
        "The same load straight at the slow API, repeated like every scenario: the spread two identical setups show (A/A). " +
        "A difference between scenarios smaller than this is not one.", "", ...lines, ""] : [];
}

/** Where slow clients were held: what they did to each scenario's main load, against the same load without them. */
function slowClientsSection(results: MatrixResults): string[] {
    const held = measuredRows(results).filter((m) => m.result.slowClients);
    if (!held.length) return [];
    const change = (c: SlowClientsChange, digits: number) => `${num(c.without, digits)} -> ${num(c.with, digits)}` +
        (c.ratio === null ? "" : ` (${c.ratio >= 1 ? "+" : ""}${Math.round((c.ratio - 1) * 100)} %${c.comparison === "tie" ? ", within noise" : c.comparison === "unknown" ? ", one run each" : ""})`);
    return [
        "## Slow clients", "",
        "Connections that send a request's head a line a second and never end it (slowloris), held open during the runs; " +
        "each scenario ran the same load without them first. **answered/s** counts only the requests answered " +
        "(a driver's req/s counts the ones that timed out too).", "",
        markdownTable(["scenario", "slow clients (connected)", "answered/s without -> with", "p95 (ms) without -> with", "failed without -> with", "reopened"],
            held.map(({ scenario, result }) => {
                const e = result.slowClients!;
                return [scenario, `${e.clients} (${e.connected})`, change(e.answeredPerSecond, 2), change(e.p95Ms, 0),
                    `${e.failed.without} -> ${e.failed.with}`, String(e.reopened)];
            })), "",
    ];
}

/** Each capacity search: the capacity, who broke it at the knee, and every probe. */
function capacitySection(results: MatrixResults): string[] {
    const searched = measuredRows(results).filter((m) => m.result.capacity);
    if (!searched.length) return [];
    const probeColumns = ["rate asked", "reached", "p50 (ms)", "p99 (ms)", "failed", "met", "verdict"];
    return [
        "## Capacity at the objective", "",
        "Constant arrival rates (oha -q with --latency-correction: each latency counts from when its request should have been sent), " +
        "doubled until a probe missed the objective, then bisected to within 5 %.", "",
        ...searched.flatMap(({ scenario, result }) => {
            const c = result.capacity!;
            return [
                `### ${scenario}: ${c.capacityRps === null ? `below the first probe (${c.knee?.askedRps} req/s)` : `${c.capacityRps} req/s`}` +
                    `${c.bound === "at-least-max" ? " or more (the search's ceiling passed)" : ""}`, "",
                c.knee ? `At the knee, ${c.knee.askedRps} req/s: ${c.knee.why}; **${c.knee.bottleneck.words}**. ${c.knee.bottleneck.rule}` : "No probe missed the objective.", "",
                markdownTable(probeColumns, c.probes.map((p, i) => [num(p.askedRps), num(p.reachedRps), num(p.latencyMs.p50, 0), num(p.latencyMs.p99, 0),
                    String(p.failed), p.passed ? "yes" : probedAgain(c.probes, i) ? "no, probed again" : "no", p.passed ? "" : verdictCell(p.bottleneck)])), "",
            ];
        }),
    ];
}

/** report.md: the page's figures as text; its charts are in report.html beside it. */
export function renderReport(results: MatrixResults): string {
    const env = Object.entries(results.environment).map(([k, v]) => `- ${k}: ${v}`).join("\n");
    const failed = results.rows.filter((r) => r.status === "failed");
    const timings = results.rows.map((r) => [r.scenario, num(r.timings.deploySeconds, 1), num(r.timings.loadSeconds, 1), num(r.timings.destroySeconds, 1)]);
    const noisy = results.rows.filter((r) => r.result?.spreadNote).map((r) => `- ${r.scenario}: ${r.result!.spreadNote}`);
    return [
        `# flask-gevent-lab matrix, ${results.startedAt}`,
        "",
        `Every scenario deployed, load-tested and destroyed in turn on this machine (${results.wallSeconds.toFixed(0)} s in all).`,
        Object.keys(results.loadOverrides).length
            ? `Load given to every scenario: ${Object.entries(results.loadOverrides).map(([k, v]) => `${k}=${v}`).join(", ")}.`
            : "Each scenario ran the tutorial's own load.",
        "Every figure as a chart, runs compared over time: [report.html](report.html) (one page, opens from disk; `./lab report`).",
        "",
        ...whatToPick(results),
        ...noiseFloor(results),
        "## Every scenario", "",
        "**req/s**: the median over the runs, with the 95 % t-interval of their mean. **rank**: its group of ties at its load (1: the best group). " +
        "**limit**: Little's law, min(clients, what the server holds at once) / delay. **efficiency**: req/s / limit. " +
        "**harness baseline**: the same load straight at the slow API (what the driver and this machine reach without Flask). " +
        "**driver ceiling**: the best the driver can show against an ideal server: ApacheBench sends one request before opening its other clients, " +
        "so it needs delay x (1 + ceil((n-1)/c)); oha and k6 open all at once, delay x ceil(n/c). " +
        "**failed**: over every run, checked against the slow API's own count of its answers. " +
        "**bottleneck**: what held the run back, in this order: latency-bound at the limit (>= 95 % of what the limit and the driver allow); " +
        "a role (driver, upstream: the slow API, app, ingress, postgres) at >= 90 % of the cores it can use over its busiest second, " +
        "or one of its processes at >= 90 % of the one core a GIL-bound or single-threaded process can use; " +
        "slow-clients: slow clients held, below 85 % of the limit, and they held so many of the requests the server holds at once (threads, connection slots) that fewer than the clients were left; " +
        "concurrency: the slow API or PostgreSQL held at most 80 % of the clients at once, and half that on average, or all the server's threads at once; " +
        "the machine with < 5 % idle; latency-bound near the limit (>= 85 %); " +
        "listen-backlog: the kernel's listen queue overflowed for >= 1 % of the requests; " +
        "a role in bursts: one GIL-bound process at >= 90 % of its core over a quarter second; else unexplained, with its figures. " +
        "**peak CPU**: the most cores each role used over any second; others: cores busy on average with processes outside the run's roles.",
        "Tutorial figures: data/tutorial.json (the tutorial's Docker Compose runs, another machine).",
        "",
        markdownTable(COLUMNS, tableRows(results)),
        "",
        ...(noisy.length ? ["Runs that disagreed:", "", ...noisy, ""] : []),
        ...capacitySection(results),
        ...slowClientsSection(results),
        ...(failed.length ? ["## Failures", "", ...failed.map((r) => `### ${r.scenario}\n\n\`\`\`\n${r.error}\n\`\`\`\n`)] : []),
        ...(results.sweep.length ? [
            "## Concurrency sweep", "",
            "Same delay, more clients: where each thread pool saturates and where gevent keeps scaling. " +
            "A level the client or the server could not hold shows FAILED with its cause.", "",
            markdownTable(SWEEP_COLUMNS, sweepRows(results)), "",
        ] : []),
        ...(verdicts(results).length
            ? ["## Who ran out first", "", ...verdicts(results).map((v) => `- ${v.what}: **${v.bottleneck.words}**. ${v.bottleneck.rule}`), ""]
            : []),
        "## Time per scenario", "",
        markdownTable(["scenario", "deploy (s)", "load (s)", "destroy (s)"], timings),
        "",
        "## Environment", "",
        env,
        "",
    ].join("\n");
}
