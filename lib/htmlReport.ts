// report.html: one self-contained page of one or more runs (the latest in full; over many,
// each scenario's req/s over time and the changes from the run before). Charts are Vega-Lite
// specs built here as data and drawn in the page by the inlined Vega; every chart's figures are
// also a table. Pure: the chart library's code comes in as text.
import { changeText, compareRuns, comparisonNotes, loadOf, variantOf } from "./decide";
import { probedAgain } from "./load/capacity";
import { CPU_ROLES } from "./load/cpu";
import { LoadResult } from "./load/result";
import { COLUMNS, MatrixResults, MatrixRow, measuredRows, outcomesOf, SWEEP_COLUMNS, sweepRows, tableRows, verdicts, whatToPick } from "./report";
import { Run } from "./runs";
import { spreadOf } from "./stats";
import { atTutorialLoad } from "./tutorial";

/** A script the page inlines: the chart library, with where it came from. */
export interface InlineScript {
    name: string;
    version: string;
    license: string;
    code: string;
}

/** A Vega-Lite spec, as data. */
export type ChartSpec = Record<string, unknown>;

export interface Chart {
    id: string;
    title: string;
    /** What it shows and how to read it. */
    caption: string;
    spec: ChartSpec;
    /** The same figures as a table. */
    table: { header: string[]; rows: string[][] };
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const round = (v: number | null | undefined, digits = 2) => (v === null || v === undefined ? null : Number(v.toFixed(digits)));
const text = (v: number | null | undefined, digits = 2) => (v === null || v === undefined ? "-" : String(round(v, digits)));

const PERCENTILES = [["p50", "p50"], ["p90", "p90"], ["p95", "p95"], ["p99", "p99"], ["p999", "p99.9"]] as const;
const BASE = { $schema: "https://vega.github.io/schema/vega-lite/v6.json", config: { view: { stroke: null }, font: "system-ui, sans-serif" } };
const SCENARIO_X = { field: "scenario", type: "nominal", sort: null, axis: { labelAngle: -35, title: null } };

/** The rows of a run by the load they ran (scenarios compare only at one load), the most run first; a failed row goes with it. */
function rowsByLoad(results: MatrixResults): { words: string; rows: MatrixRow[] }[] {
    const groups = new Map<string, { words: string; rows: MatrixRow[] }>();
    for (const row of results.rows.filter((r) => r.result)) {
        const load = loadOf(row.result!);
        groups.set(load.key, { words: load.words, rows: [...(groups.get(load.key)?.rows ?? []), row] });
    }
    // The load most scenarios ran first: the tutorial's, in a full matrix.
    const all = [...groups.values()].sort((a, b) => b.rows.length - a.rows.length);
    const failed = results.rows.filter((r) => !r.result);
    if (failed.length) all.length ? all[0].rows.push(...failed) : all.push({ words: "no scenario ran", rows: failed });
    return all;
}

/** req/s per scenario at each load, linear: the median bar, the 95 % interval of the mean, each run, the limit, the driver's ceiling, the tutorial's figure. */
export function rpsCharts(results: MatrixResults): Chart[] {
    const groups = rowsByLoad(results);
    return groups.map(({ words, rows }, i) => rpsChart(rows, groups.length > 1 ? { id: `rps-${i + 1}`, load: words } : { id: "rps", load: words }));
}

function rpsChart(matrixRows: MatrixRow[], { id, load }: { id: string; load: string }): Chart {
    const points: Record<string, unknown>[] = [];
    const rows: string[][] = [];
    for (const row of matrixRows) {
        const r = row.result;
        if (!r) {
            points.push({ scenario: row.scenario, figure: "failed", value: 0 });
            rows.push([row.scenario, "FAILED", "-", "-", "-", "-", text(row.tutorialRps)]);
            continue;
        }
        const s = spreadOf(r.repeats.map((x) => x.requestsPerSecond));
        points.push({ scenario: row.scenario, figure: "measured (median)", value: round(s.median), lo: round(s.ci95?.[0]), hi: round(s.ci95?.[1]), runs: r.repeats.length });
        for (const x of r.repeats) points.push({ scenario: row.scenario, figure: "each run", value: round(x.requestsPerSecond) });
        if (r.limitRps !== null) points.push({ scenario: row.scenario, figure: "limit", value: round(r.limitRps) });
        if (r.driverCeilingRps !== null) points.push({ scenario: row.scenario, figure: "driver ceiling", value: round(r.driverCeilingRps) });
        if (row.tutorialRps && atTutorialLoad(row.scenario, r.requests, r.concurrency)) points.push({ scenario: row.scenario, figure: "tutorial", value: row.tutorialRps });
        rows.push([row.scenario, text(s.median), s.ci95 ? `${text(s.ci95[0])}-${text(s.ci95[1])}` : "one run", r.repeats.map((x) => text(x.requestsPerSecond)).join(", "),
            text(r.limitRps), text(r.driverCeilingRps), text(row.tutorialRps)]);
    }
    const figures = ["measured (median)", "each run", "limit", "driver ceiling", "tutorial"];
    const color = { field: "figure", type: "nominal", title: null, scale: { domain: figures, range: ["#9ecae9", "#1d3557", "#222222", "#e45756", "#f58518"] } };
    const y = { field: "value", type: "quantitative", title: "requests per second" };
    const only = (...f: string[]) => ({ filter: { field: "figure", oneOf: f } });
    return {
        id, title: `Requests per second per scenario, at ${load}`,
        caption: "Linear scale. Bar: the median of the runs; whisker: the 95 % interval of their mean (where there were repeats); dots: each run. " +
            "Black tick: the limit (Little's law); red tick: the best the driver can show against an ideal server; orange diamond: the tutorial's figure (another machine), where this was its load.",
        spec: {
            ...BASE, width: { step: 56 }, height: 320, data: { values: points },
            encoding: { x: SCENARIO_X },
            layer: [
                { transform: [only("measured (median)")], mark: { type: "bar", width: { band: 0.6 } }, encoding: { y, color, tooltip: [{ field: "scenario" }, { field: "value", title: "req/s" }, { field: "runs" }] } },
                { transform: [only("measured (median)"), { filter: "datum.lo != null" }], mark: { type: "rule", strokeWidth: 1.5 }, encoding: { y: { field: "lo", type: "quantitative" }, y2: { field: "hi" } } },
                { transform: [only("each run")], mark: { type: "point", filled: true, size: 18 }, encoding: { y, color } },
                { transform: [only("limit", "driver ceiling")], mark: { type: "tick", thickness: 2, size: 40 }, encoding: { y, color, tooltip: [{ field: "figure" }, { field: "value" }] } },
                { transform: [only("tutorial")], mark: { type: "point", shape: "diamond", filled: true, size: 90 }, encoding: { y, color, tooltip: [{ field: "figure" }, { field: "value" }] } },
                { transform: [only("failed")], mark: { type: "text", text: "FAILED", angle: 270, align: "left", dx: -4, color: "#d62728", fontWeight: "bold" }, encoding: { y: { datum: 0 } } },
            ],
        },
        table: { header: ["scenario", "req/s (median)", "95 % interval", "each run", "limit", "driver ceiling", "tutorial"], rows },
    };
}

/** Latency percentiles per scenario at each load, p50 to p99.9 (ab reports no p99.9: its line stops at p99). */
export function latencyCharts(results: MatrixResults): Chart[] {
    const groups = rowsByLoad(results).map((g) => ({ ...g, rows: g.rows.filter((r) => r.result) })).filter((g) => g.rows.length);
    return groups.map(({ words, rows }, i) => latencyChart(rows, groups.length > 1 ? { id: `latency-${i + 1}`, load: words } : { id: "latency", load: words }));
}

function latencyChart(matrixRows: MatrixRow[], { id, load }: { id: string; load: string }): Chart {
    const ran = matrixRows.map((row) => ({ scenario: row.scenario, result: row.result! }));
    const points = ran.flatMap(({ scenario, result }) => PERCENTILES.flatMap(([key, label], order) =>
        result.latencyMs[key] === null ? [] : [{ scenario, percentile: label, order, ms: round(result.latencyMs[key], 1) }]));
    return {
        id, title: `Latency percentiles per scenario, at ${load}`,
        caption: "Milliseconds each request took, at each percentile, in the run with the median req/s.",
        spec: {
            ...BASE, width: 520, height: 300, data: { values: points },
            mark: { type: "line", point: true },
            encoding: {
                x: { field: "percentile", type: "ordinal", sort: PERCENTILES.map(([, l]) => l), title: "percentile" },
                y: { field: "ms", type: "quantitative", title: "latency (ms)" },
                color: { field: "scenario", type: "nominal", scale: { scheme: "tableau20" }, sort: null },
                tooltip: [{ field: "scenario" }, { field: "percentile" }, { field: "ms" }],
            },
        },
        table: {
            header: ["scenario", ...PERCENTILES.map(([, l]) => `${l} (ms)`), "max (ms)"],
            rows: ran.map(({ scenario, result }) => [scenario, ...PERCENTILES.map(([k]) => text(result.latencyMs[k], 0)), text(result.latencyMs.max, 0)]),
        },
    };
}

/** CPU per role as stacked bars (average cores over the run), the machine's cores as a line, and the verdict. */
export function cpuChart(results: MatrixResults): Chart {
    const ran = measuredRows(results).filter((m) => m.result.cpu);
    const roles = [...CPU_ROLES, "others"];
    const points = ran.flatMap(({ scenario, result }) => [
        ...CPU_ROLES.flatMap((role, roleOrder) => (result.cpu!.roles[role] ? [{ scenario, role, roleOrder, cores: round(result.cpu!.roles[role]!.avgCores) }] : [])),
        { scenario, role: "others", roleOrder: CPU_ROLES.length, cores: round(result.cpu!.machine.othersAvgCores) },
    ]);
    const cores = Math.max(0, ...ran.map((m) => m.result.cpu!.cores));
    return {
        id: "cpu", title: "CPU per role",
        caption: `Cores each role used on average over the run with the median req/s; others: processes outside the run's roles. The line: the machine's ${cores} cores. ` +
            "A role missing from a bar could not be read there (a container).",
        spec: {
            ...BASE, width: { step: 56 }, height: 280,
            layer: [
                {
                    data: { values: points }, mark: "bar",
                    encoding: {
                        x: SCENARIO_X, y: { field: "cores", type: "quantitative", aggregate: "sum", title: "cores (average)" },
                        color: { field: "role", type: "nominal", scale: { domain: roles }, title: "role" },
                        order: { field: "roleOrder" }, tooltip: [{ field: "scenario" }, { field: "role" }, { field: "cores" }],
                    },
                },
                { data: { values: [{ cores }] }, mark: { type: "rule", strokeDash: [6, 4] }, encoding: { y: { field: "cores", type: "quantitative" } } },
            ],
        },
        table: {
            header: ["scenario", ...roles.map((r) => `${r} (cores)`), "verdict"],
            rows: ran.map(({ scenario, result }) => [scenario, ...CPU_ROLES.map((r) => text(result.cpu!.roles[r]?.avgCores)),
                text(result.cpu!.machine.othersAvgCores), result.bottleneck.words]),
        },
    };
}

/** The app's threads before the load and at its peak: the tutorial's `top -H` story. */
export function threadsChart(results: MatrixResults): Chart {
    const ran = measuredRows(results).filter((m) => m.result.threadsPeak !== null);
    const points = ran.flatMap(({ scenario, result }) => [
        { scenario, when: "before", threads: result.threadsBefore }, { scenario, when: "peak", threads: result.threadsPeak }]);
    return {
        id: "threads", title: "The app's threads, before the load and at its peak",
        caption: "Threads of the app's processes (sampled): a thread pool grows with the clients, greenlets do not.",
        spec: {
            ...BASE, width: { step: 56 }, height: 260, data: { values: points }, mark: "bar",
            encoding: {
                x: SCENARIO_X, xOffset: { field: "when", sort: ["before", "peak"] }, y: { field: "threads", type: "quantitative", title: "threads" },
                color: { field: "when", type: "nominal", sort: ["before", "peak"], title: null }, tooltip: [{ field: "scenario" }, { field: "when" }, { field: "threads" }],
            },
        },
        table: { header: ["scenario", "threads before", "threads at peak"], rows: ran.map(({ scenario, result }) => [scenario, text(result.threadsBefore, 0), text(result.threadsPeak, 0)]) },
    };
}

/** A sweep's curves: req/s (with the limit, dashed) and p99 against the clients. */
export function sweepChart(results: MatrixResults): Chart {
    const series = (p: { scenario: string; split: string }) => p.scenario + (p.split ? ` (split ${p.split})` : "");
    const points = results.sweep.filter((p) => p.result).map((p) => ({
        series: series(p), clients: p.concurrency, rps: round(p.result!.requestsPerSecond), limit: round(p.result!.limitRps),
        p99: round(p.result!.latencyMs.p99 ?? p.result!.latencyMs.p95, 0),
    }));
    const x = { field: "clients", type: "quantitative", scale: { type: "log" }, title: "clients" };
    const color = { field: "series", type: "nominal", title: null };
    return {
        id: "sweep", title: "Concurrency sweep: req/s and p99 against the clients",
        caption: "Left: req/s (solid) and the limit (dashed); right: p99 latency (p95 where the driver has no p99). One run per level.",
        spec: {
            ...BASE, data: { values: points },
            hconcat: [
                {
                    width: 380, height: 260,
                    layer: [
                        { mark: { type: "line", point: true }, encoding: { x, y: { field: "rps", type: "quantitative", title: "requests per second" }, color, tooltip: [{ field: "series" }, { field: "clients" }, { field: "rps" }] } },
                        { mark: { type: "line", strokeDash: [4, 4], opacity: 0.6 }, encoding: { x, y: { field: "limit", type: "quantitative" }, color } },
                    ],
                },
                { width: 380, height: 260, mark: { type: "line", point: true }, encoding: { x, y: { field: "p99", type: "quantitative", title: "p99 latency (ms)" }, color, tooltip: [{ field: "series" }, { field: "clients" }, { field: "p99" }] } },
            ],
        },
        table: { header: [...SWEEP_COLUMNS], rows: sweepRows(results) },
    };
}

/** Each capacity search: p99 against the rate asked, the objective as a line. */
export function capacityChart(results: MatrixResults): Chart {
    const searched = measuredRows(results).filter((m) => m.result.capacity);
    const probes = searched.flatMap(({ scenario, result }) => result.capacity!.probes.map((p) => ({
        scenario, asked: round(p.askedRps), reached: round(p.reachedRps), p99: round(p.latencyMs.p99, 0), met: p.passed ? "met" : "missed",
    })));
    const objective = searched[0]?.result.capacity!.sloP99Ms ?? 0;
    const asked = { field: "asked", type: "quantitative", title: "rate asked (req/s)" };
    const p99 = { field: "p99", type: "quantitative", title: "p99 latency (ms)" };
    const color = { field: "scenario", type: "nominal" };
    const tooltip = [{ field: "scenario" }, { field: "asked" }, { field: "reached" }, { field: "p99" }, { field: "met" }];
    return {
        id: "capacity", title: "Capacity: the rate reached and p99 against the rate asked",
        caption: `Each probe of each search (constant arrival rate, oha). Left: the rate reached; right: p99, the dashed line the objective, p99 <= ${objective} ms. A ringed point missed it.`,
        spec: {
            ...BASE,
            hconcat: [
                {
                    width: 360, height: 280, data: { values: probes }, mark: { type: "line", point: true },
                    encoding: { x: asked, y: { field: "reached", type: "quantitative", title: "rate reached (req/s)" }, color, order: { field: "asked" }, tooltip },
                },
                {
                    width: 360, height: 280,
                    layer: [
                        { data: { values: probes }, mark: { type: "line", point: true }, encoding: { x: asked, y: p99, color, order: { field: "asked" }, tooltip } },
                        { data: { values: probes.filter((p) => p.met === "missed") }, mark: { type: "point", filled: false, size: 120, color: "#d62728" }, encoding: { x: asked, y: p99 } },
                        { data: { values: [{ objective }] }, mark: { type: "rule", strokeDash: [6, 4], color: "#d62728" }, encoding: { y: { field: "objective", type: "quantitative" } } },
                    ],
                },
            ],
        },
        table: {
            header: ["scenario", "rate asked", "reached", "p99 (ms)", "objective", "the search's capacity (req/s)", "at the knee"],
            rows: searched.flatMap(({ scenario, result }) => {
                const c = result.capacity!;
                const capacity = c.capacityRps === null ? "below the first probe" : text(c.capacityRps);
                return c.probes.map((p, i) => [scenario, text(p.askedRps), text(p.reachedRps), text(p.latencyMs.p99, 0),
                    p.passed ? "met" : probedAgain(c.probes, i) ? "missed, probed again" : "missed", capacity,
                    c.knee?.askedRps === p.askedRps && !probedAgain(c.probes, i) ? p.bottleneck.words : ""]);
            }),
        },
    };
}

/** Over many runs: each scenario's req/s per run, one chart per load that more than one run measured. */
export function overTimeCharts(runs: Run[]): Chart[] {
    const byLoad = new Map<string, { words: string; points: Record<string, unknown>[]; runs: Set<string> }>();
    for (const run of runs) {
        for (const { scenario, result } of measuredRows(run.results)) {
            const load = variantOf(result);
            const entry = byLoad.get(load.key) ?? { words: load.words, points: [], runs: new Set<string>() };
            const s = spreadOf(result.repeats.map((x) => x.requestsPerSecond));
            entry.points.push({ scenario, run: run.name, time: run.results.startedAt, rps: round(s.median), lo: round(s.ci95?.[0] ?? s.median), hi: round(s.ci95?.[1] ?? s.median) });
            entry.runs.add(run.name);
            byLoad.set(load.key, entry);
        }
    }
    return [...byLoad.values()].filter((e) => e.runs.size > 1).map((e, i) => {
        const x = { field: "time", type: "temporal", title: "run started" };
        const color = { field: "scenario", type: "nominal", scale: { scheme: "tableau20" } };
        return {
            id: `over-time-${i + 1}`, title: `req/s over time, at ${e.words}`,
            caption: `${e.runs.size} runs at this load: each scenario's median, and the 95 % interval of its mean where it had repeats.`,
            spec: {
                ...BASE, width: 600, height: 280, data: { values: e.points },
                layer: [
                    { mark: { type: "line", point: true }, encoding: { x, y: { field: "rps", type: "quantitative", title: "requests per second", scale: { zero: false } }, color, tooltip: [{ field: "scenario" }, { field: "run" }, { field: "rps" }] } },
                    { mark: "rule", encoding: { x, y: { field: "lo", type: "quantitative" }, y2: { field: "hi" }, color } },
                ],
            },
            table: { header: ["run", "scenario", "req/s (median)", "95 % interval"], rows: e.points.map((p) => [String(p.run), String(p.scenario), String(p.rps), `${p.lo}-${p.hi}`]) },
        };
    });
}

/** The charts of one run: those it has figures for. */
export function runCharts(results: MatrixResults): Chart[] {
    const ran = measuredRows(results);
    return [
        ...rpsCharts(results),
        ...latencyCharts(results),
        ...(ran.some((m) => m.result.cpu) ? [cpuChart(results)] : []),
        ...(ran.some((m) => m.result.threadsPeak !== null) ? [threadsChart(results)] : []),
        ...(ran.some((m) => m.result.capacity) ? [capacityChart(results)] : []),
        ...(results.sweep.some((p) => p.result) ? [sweepChart(results)] : []),
    ];
}

function table(header: readonly string[], rows: string[][]): string {
    return `<div class="scroll"><table class="sortable"><thead><tr>${header.map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead>` +
        `<tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join("")}</tr>`).join("")}</tbody></table></div>`;
}

/** The few markdown forms "What to pick" uses (bold, list items, indentation) as HTML. */
function markdownLines(lines: string[]): string {
    const inline = (s: string) => esc(s).replace(/\*\*(.+?)\*\*/g, "<strong>$1</strong>");
    return lines.filter((l) => l.trim() && !l.startsWith("## ")).map((l) => {
        const depth = l.match(/^ */)![0].length >= 2 ? 2 : l.startsWith("- ") ? 1 : 0;
        return `<p class="md${depth}">${inline(l.replace(/^\s*- /, "").trim())}</p>`;
    }).join("\n");
}

function chartHtml(c: Chart): string {
    const json = JSON.stringify(c.spec).replace(/</g, "\\u003c");
    return `<figure id="${c.id}"><figcaption><h3>${esc(c.title)}</h3><p>${esc(c.caption)}</p></figcaption>` +
        `<div class="chart" data-chart="${c.id}"></div><script type="application/json" id="spec-${c.id}">${json}</script>` +
        `<details><summary>the figures as a table</summary>${table(c.table.header, c.table.rows)}</details></figure>`;
}


function changesHtml(from: Run, to: Run): string {
    const comparison = compareRuns(outcomesOf(from.results), outcomesOf(to.results));
    const rows = comparison.changes.map((c) => `<tr class="${c.verdict.replace(/ /g, "-")}"><td>${esc(c.scenario)}</td><td>${esc(c.metric)}</td><td>${esc(c.a)}</td><td>${esc(c.b)}</td>` +
        `<td>${changeText(c)}</td><td>${esc(c.verdict)}${c.p !== null ? ` (p = ${c.p.toFixed(3)})` : ""}</td></tr>`).join("");
    return `<section id="changes"><h2>Changes from ${esc(from.name)} to ${esc(to.name)}</h2>` +
        `<p>Each figure's median in both, B against A: better or worse only beyond the noise (Welch's t-test over the runs at 5 %); ` +
        `where a side had one run, no spread was measured. Capacity: one search each, a change only where the brackets do not overlap. ` +
        `A scenario that failed in one of them: its status.</p>` +
        (comparison.changes.length ? `<table class="sortable changes"><thead><tr><th>scenario</th><th>figure</th><th>${esc(from.name)}</th><th>${esc(to.name)}</th><th>change</th><th>verdict</th></tr></thead><tbody>${rows}</tbody></table>`
            : "<p><strong>Nothing to compare: no scenario ran in both.</strong></p>") +
        comparisonNotes(comparison, from.name, to.name).map((n) => `<p class="warning">${esc(n)}.</p>`).join("") + "</section>";
}

/**
 * The run before `latest` to compare it with: the newest earlier one that measured one of its scenarios at the
 * same load, else at any load (the page then says the loads differ).
 */
function previousOf(runs: Run[], latest: Run): Run | undefined {
    const earlier = runs.slice(0, runs.indexOf(latest)).reverse();
    const shares = (key: (m: { scenario: string; result: LoadResult }) => string) => {
        const keys = new Set(measuredRows(latest.results).map(key));
        return earlier.find((r) => measuredRows(r.results).some((m) => keys.has(key(m))));
    };
    return shares((m) => `${m.scenario} ${variantOf(m.result).key}`) ?? shares((m) => m.scenario);
}

function header(run: Run): string {
    const r = run.results;
    const driver = measuredRows(r)[0]?.result ?? r.sweep.find((p) => p.result)?.result;
    const load = Object.entries(r.loadOverrides).map(([k, v]) => `${k}=${v}`).join(", ") || "each scenario's own (the tutorial's)";
    const facts: [string, string][] = [
        ["started", r.startedAt],
        ...(r.rows.length ? [["took", `${r.wallSeconds.toFixed(0)} s`], ["load given to every scenario", load]] as [string, string][] : []),
        ...(driver ? [["driver", `${driver.driver} ${driver.driverVersion}${driver.keepAlive ? ", keep-alive" : ""}`] as [string, string]] : []),
        ...(r.rows.length ? [["loads", rowsByLoad(r).map((g) => `${g.words} (${g.rows.map((row) => row.scenario).join(", ")})`).join("; ")]] as [string, string][] : []),
        ...Object.entries(r.environment),
    ];
    return `<dl class="facts">${facts.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join("")}</dl>`;
}

/** A run's own sections: what to pick, the charts, every scenario, failures, the verdicts in words. */
function runHtml(run: Run, relativeJson: string): string {
    const r = run.results;
    const failed = r.rows.filter((row) => row.status === "failed");
    const verdictItems = verdicts(r).map((v) => `<li><strong>${esc(v.what)}</strong>: ${esc(v.bottleneck.words)}. ${esc(v.bottleneck.rule)}</li>`);
    return [
        `<section id="run"><h2>${esc(run.name)}</h2>${header(run)}<p>The raw figures: <a href="${esc(relativeJson)}">${esc(relativeJson)}</a>.</p></section>`,
        r.rows.length ? `<section id="pick"><h2>What to pick</h2>${markdownLines(whatToPick(r))}</section>` : "",
        `<section id="charts"><h2>Figures</h2>${runCharts(r).map(chartHtml).join("\n")}</section>`,
        r.rows.length ? `<section id="scenarios"><h2>Every scenario</h2>${table(COLUMNS, tableRows(r))}</section>` : "",
        failed.length ? `<section id="failures"><h2>Failures</h2>${failed.map((row) => `<h3>${esc(row.scenario)}: FAILED</h3><pre>${esc(row.error ?? "")}</pre>`).join("")}</section>` : "",
        verdictItems.length ? `<section id="verdicts"><h2>Who ran out first</h2><ul>${verdictItems.join("")}</ul></section>` : "",
    ].join("\n");
}

const STYLE = `
body { font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1200px; padding: 1em 2em; color: #1b1b1b; }
h1 { font-size: 1.6em; margin-bottom: .2em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: .2em; margin-top: 1.6em; }
figure { margin: 1.5em 0; } figcaption h3 { margin: 0; } figcaption p { margin: .2em 0 .6em; color: #555; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .15em 1em; font-size: .9em; }
dl.facts dt { color: #666; } dl.facts dd { margin: 0; word-break: break-word; }
table { border-collapse: collapse; font-size: .85em; margin: .5em 0; }
th, td { border: 1px solid #ddd; padding: .25em .5em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; cursor: pointer; user-select: none; } th[aria-sort=ascending]::after { content: " \\25B2"; } th[aria-sort=descending]::after { content: " \\25BC"; }
tr.better td { background: #e6f4ea; } tr.worse td { background: #fde8e8; } tr.within-noise td { color: #555; }
p.md1 { margin: .1em 0 .1em 1.2em; } p.md1::before { content: "\\2022  "; } p.md2 { margin: .1em 0 .1em 2.6em; }
pre { background: #f7f7f7; padding: .8em; overflow-x: auto; font-size: .8em; }
.chart-error { color: #b00020; font-weight: bold; } p.warning { background: #fff4e5; padding: .4em .6em; }
.scroll { overflow-x: auto; }
`;

// Draws every chart with the inlined Vega (SVG: its marks are elements a test can count), and sorts a table by
// the column clicked. window.reportReady settles when every chart is drawn or has shown its error.
const BOOT = `
window.reportReady = Promise.all([...document.querySelectorAll("[data-chart]")].map(async (el) => {
  try {
    const spec = JSON.parse(document.getElementById("spec-" + el.dataset.chart).textContent);
    const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: "svg", container: el, hover: true });
    await view.runAsync();
    el.dataset.drawn = "true";
  } catch (e) {
    el.textContent = "This chart could not be drawn: " + e.message;
    el.className += " chart-error";
    console.error("chart " + el.dataset.chart + ": " + e.message);
  }
}));
// A figure ("150 [145-155]" sorts as 150); a date or any other text sorts as text.
const cellValue = (td) => { const t = td.textContent, n = parseFloat(t); return isNaN(n) || /^\d{4}-\d\d-\d\d/.test(t) ? t : n; };
for (const th of document.querySelectorAll("table.sortable th")) {
  th.addEventListener("click", () => {
    const table = th.closest("table"), body = table.tBodies[0], i = th.cellIndex;
    const up = th.getAttribute("aria-sort") !== "ascending";
    for (const other of th.parentNode.children) other.removeAttribute("aria-sort");
    th.setAttribute("aria-sort", up ? "ascending" : "descending");
    const rows = [...body.rows].sort((a, b) => {
      const x = cellValue(a.cells[i]), y = cellValue(b.cells[i]);
      // Figures first and "-" or FAILED last, whichever the direction.
      if ((typeof x === "number") !== (typeof y === "number")) return typeof x === "number" ? -1 : 1;
      const order = typeof x === "number" ? x - y : String(x).localeCompare(String(y));
      return up ? order : -order;
    });
    body.append(...rows);
  });
}
`;

/**
 * The page. `runs` oldest first; the newest run of scenarios is shown in full, every one in the over-time charts,
 * and the changes from the newest before it that measured one of its scenarios at the same load. `jsonLink` gives each run's JSON as a link from where the page is written.
 */
export function renderHtmlReport(runs: Run[], scripts: InlineScript[], jsonLink: (run: Run) => string): string {
    if (!runs.length) throw new Error("no run to report");
    // In full: the newest run of scenarios (a harness file only where there is nothing else).
    const latest = [...runs].reverse().find((r) => r.results.rows.length) ?? runs[runs.length - 1];
    const previous = previousOf(runs, latest);
    const changes = previous ? changesHtml(previous, latest) : "";
    const overTime = overTimeCharts(runs);
    const list = runs.length > 1
        ? `<section id="runs"><h2>The ${runs.length} runs in this page</h2>${table(["run", "started", "scenarios", "JSON"],
            runs.map((r) => [r.name, r.results.startedAt, [...r.results.rows.map((row) => row.scenario), ...new Set(r.results.sweep.map((p) => `sweep ${p.scenario}`))].join(", "), jsonLink(r)]))}</section>`
        : "";
    const inlined = scripts.map((s) => `<script>/* ${esc(s.name)} ${esc(s.version)} (${esc(s.license)}), inlined so the page needs no network */\n${s.code}\n</script>`).join("\n");
    return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>flask-gevent-lab: ${esc(latest.name)}</title><style>${STYLE}</style></head>
<body>
<h1>flask-gevent-lab: ${esc(latest.name)}</h1>
<p>How each way of serving the tutorial's Flask app did on this machine${runs.length > 1 ? `, over ${runs.length} runs (the latest in full)` : ""}. Every figure is also a table under its chart.</p>
${changes}
${overTime.length ? `<section id="over-time"><h2>Over time</h2>${overTime.map(chartHtml).join("\n")}</section>` : ""}
${runHtml(latest, jsonLink(latest))}
${list}
${inlined}
<script>${BOOT}</script>
</body></html>
`;
}
