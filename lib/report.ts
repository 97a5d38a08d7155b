// The matrix's results file and its renderings (terminal table, report.md). Pure.
import { Bottleneck, CPU_ROLES, CpuUsage } from "./load/cpu";
import { LoadResult } from "./load/result";

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
    /** The tutorial's req/s; null where it published none. */
    tutorialRps: number | null;
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
    startedAt: string;
    wallSeconds: number;
    environment: Record<string, string>;
    /** Load overrides given to every scenario (empty: each scenario's own load). */
    loadOverrides: Record<string, string>;
    rows: MatrixRow[];
    sweep: SweepPoint[];
}

const COLUMNS = [
    "scenario", "server", "driver", "req/s", "tutorial", "limit", "efficiency", "failed", "time (s)", "p95 (ms)",
    "threads before/peak", "harness baseline", "driver ceiling", "bottleneck", "peak CPU (cores)",
] as const;

const num = (v: number | null | undefined, digits = 2) => (v === null || v === undefined ? "-" : String(Number(v.toFixed(digits))));
const pct = (v: number | null | undefined) => (v === null || v === undefined ? "-" : `${(v * 100).toFixed(1)}%`);

/** "latency-bound", "machine", or the role that ran out of CPU. */
export function verdictCell(b: Bottleneck | null | undefined): string {
    if (!b) return "-";
    return b.verdict === "none" ? "latency-bound" : b.verdict === "machine" ? "machine (all cores)" : `${b.verdict} (CPU)`;
}

/** Peak cores per role that ran, the machine's, and what others used on average: "driver 0.97, app 1.2; machine 1.9/2 (others 0.1 avg)". */
export function cpuCell(cpu: CpuUsage | null | undefined): string {
    if (!cpu) return "-";
    const roles = CPU_ROLES.filter((r) => r in cpu.roles).map((r) => `${r} ${num(cpu.roles[r]?.peakCores)}`);
    return `${roles.join(", ")}; machine ${num(cpu.machine.peakBusyCores)}/${cpu.cores} (others ${num(cpu.machine.othersAvgCores)} avg)`;
}

/** One table row per scenario; a failed scenario shows FAILED and the figures it lacks as "-". */
export function tableRows(results: MatrixResults): string[][] {
    return results.rows.map((row) => {
        const r = row.result;
        return [
            row.scenario,
            row.server + (row.ingress !== "none" ? `, behind ${row.ingress}` : ""),
            r ? `${r.driver} ${r.driverVersion}` : "-",
            row.status === "ok" ? num(r?.requestsPerSecond) : "FAILED",
            row.tutorialRps === null ? "not published" : num(row.tutorialRps),
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

const SWEEP_COLUMNS = ["scenario", "cpu split", "driver", "clients", "requests", "req/s", "limit", "efficiency", "failed", "p95 (ms)",
    "threads before/peak", "harness baseline", "bottleneck", "peak CPU (cores)", "cause of failure"];

/** Each run's verdict with the rule and figures that gave it. */
function verdicts(results: MatrixResults): string[] {
    const line = (what: string, r: LoadResult | null) => (r?.bottleneck ? [`- ${what}: ${r.bottleneck.rule}`] : []);
    return [
        ...results.rows.flatMap((row) => line(row.scenario, row.result)),
        ...results.sweep.flatMap((p) => line(`sweep ${p.scenario}, ${p.concurrency} clients${p.split ? `, split ${p.split}` : ""}`, p.result)),
    ];
}

export function renderReport(results: MatrixResults, charts: { rps?: string; sweep?: string; latency?: string }): string {
    const env = Object.entries(results.environment).map(([k, v]) => `- ${k}: ${v}`).join("\n");
    const failed = results.rows.filter((r) => r.status === "failed");
    const timings = results.rows.map((r) => [r.scenario, num(r.timings.deploySeconds, 1), num(r.timings.loadSeconds, 1), num(r.timings.destroySeconds, 1)]);
    return [
        `# flask-gevent-lab matrix, ${results.startedAt}`,
        "",
        `Every scenario deployed, load-tested and destroyed in turn on this machine (${results.wallSeconds.toFixed(0)} s in all).`,
        Object.keys(results.loadOverrides).length
            ? `Load given to every scenario: ${Object.entries(results.loadOverrides).map(([k, v]) => `${k}=${v}`).join(", ")}.`
            : "Each scenario ran the tutorial's own load.",
        "",
        "**limit**: Little's law, min(clients, what the server holds at once) / delay. **efficiency**: req/s / limit. " +
        "**harness baseline**: the same load straight at the slow API (what ApacheBench and this machine reach without Flask). " +
        "**driver ceiling**: the best the driver can show against an ideal server: ApacheBench sends one request before opening its other clients, " +
        "so it needs delay x (1 + ceil((n-1)/c)); oha and k6 open all at once, delay x ceil(n/c). " +
        "**bottleneck**: who ran out of CPU first during the run: latency-bound when it reached >= 95 % of what the limit and the driver allow; " +
        "else a role (driver, upstream: the slow API, app, ingress, postgres) at >= 90 % of the cores it can use at its busiest second, " +
        "or with one process at >= 90 % of the one core a GIL-bound or single-threaded process can use; else the machine with < 5 % idle; " +
        "else latency-bound (no CPU ran out: the clients, the delay, queues explain the figure). " +
        "**peak CPU**: the most cores each role used over any second; others: cores busy on average with processes outside the run's roles.",
        "Tutorial figures: data/tutorial.json (the tutorial's Docker Compose runs, another machine).",
        "",
        markdownTable(COLUMNS, tableRows(results)),
        "",
        charts.rps ? `![requests per second](${charts.rps})` : "",
        "",
        charts.latency ? `![latency percentiles](${charts.latency})` : "",
        "",
        ...(failed.length ? ["## Failures", "", ...failed.map((r) => `### ${r.scenario}\n\n\`\`\`\n${r.error}\n\`\`\`\n`)] : []),
        ...(results.sweep.length ? [
            "## Concurrency sweep", "",
            "Same delay, more clients: where each thread pool saturates and where gevent keeps scaling. " +
            "A level the client or the server could not hold shows FAILED with its cause.", "",
            markdownTable(SWEEP_COLUMNS, sweepRows(results)), "",
            charts.sweep ? `![concurrency sweep](${charts.sweep})` : "", "",
        ] : []),
        ...(verdicts(results).length ? ["## Who ran out first", "", ...verdicts(results), ""] : []),
        "## Time per scenario", "",
        markdownTable(["scenario", "deploy (s)", "load (s)", "destroy (s)"], timings),
        "",
        "## Environment", "",
        env,
        "",
    ].join("\n");
}
