// ./lab matrix: every scenario in turn (up, load, record, destroy) through the
// Automation API, then results.json, report.md and report.html (every figure as a chart) under
// results/matrix-<timestamp>/ (each stack's own run records in its stacks/<stack>/).
// Keeps going past a failed scenario and exits non-zero at the end if any failed.
// First removes the stacks an interrupted earlier run left behind.
//
//   ./lab matrix [--scenarios a,b] [--requests N] [--concurrency C] [--delay D]
//                [--sweep a,b] [--levels 50,200,1000,2000] [--waves 5]
//                [--set scenario:key=value ...]   (one scenario's config, e.g. to try a variant)
//                [--driver ab|oha|k6]             (every stack's loadDriver)
//                [--platform local|docker|kubernetes]   (every stack's platform; kubernetes: ./lab cluster up first)
//                [--replicas N] [--parallelism N]       (kubernetes: app pods, load pods)
//                [--cpu-affinity "driver=0 upstream=1 app=1"]   (every stack's cpuAffinity)
//                [--sweep-split "driver=0 upstream=1 app=1"]    (each sweep level without, then with this split)
//                [--repeats N]                    (measured runs per scenario, default 3: every figure with its spread)
//                [--warmup S]                     (seconds of load before each scenario's runs; default its stack's, 3)
//                [--keep-alive]                   (every stack's loadKeepAlive: clients keep their connections)
//                [--app-cpu-ms MS]                (every stack's appCpuMs: CPU each request burns in the app)
//                [--timeout S]                    (every stack's loadTimeoutSeconds: each request's timeout and the run's limit)
//                [--slow-clients N]               (every stack's slowClients: N slowloris connections held during its runs; needs --driver oha)
//                [--capacity]                     (also search each scenario's capacity at its p99 objective, with oha)
//                [--capacity-only]                (./lab capacity: one run, no baseline, the search; results/capacity-<time>/)
// Every scenario's settings are checked before anything starts.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { EngineEvent, LocalWorkspace, OutputMap, Stack } from "@pulumi/pulumi/automation";
import { LoadResult } from "../lib/load/result";
import { MatrixResults, MatrixRow, renderReport, renderTerminalTable, SweepPoint, Timings, whatToPick } from "../lib/report";
import { parseRun, RESULTS_FORMAT } from "../lib/runs";
import { resolveSettings } from "../lib/settings";
import { defaultVenv } from "../platforms/localTools";
import { listScenarios, MATRIX_STACK, readStackConfig, stackLocks } from "../lib/stacks";
import { tutorialRps } from "../lib/tutorial";
import { MatrixPlan, sameWorkSeconds, Work } from "../lib/progress";
import { checkLevels, list, readFlags } from "./flags";
import { Progress } from "./progress";
import { writeHtmlReport } from "./report";

const ROOT = path.join(__dirname, "..");

interface Options {
    scenarios: string[];
    load: Record<string, string>;
    /** Config for single scenarios, from --set. */
    perScenario: Record<string, Record<string, string>>;
    sweep: string[];
    levels: number[];
    waves: number;
    /** The sweep runs each level without and with this cpuAffinity. */
    sweepSplit?: string;
    /** What the run is, naming its results folder: a matrix, or a capacity search. */
    kind: "matrix" | "capacity";
}

function parseArgs(argv: string[]): Options {
    const all = listScenarios(ROOT);
    const opts: Options = {
        scenarios: all, load: { loadRepeats: "3" }, perScenario: {}, sweep: [], levels: [50, 200, 1000, 2000], waves: 5, kind: "matrix",
    };
    readFlags(argv, "scripts/matrix.ts", (flag, value) => {
        switch (flag) {
            case "--scenarios": opts.scenarios = list(value()); break;
            case "--requests": opts.load.loadRequests = value(); break;
            case "--concurrency": opts.load.loadConcurrency = value(); break;
            case "--delay": opts.load.loadDelay = value(); break;
            case "--sweep": opts.sweep = list(value()); break;
            case "--levels": opts.levels = list(value()).map(Number); break;
            case "--waves": opts.waves = Number(value()); break;
            case "--driver": opts.load.loadDriver = value(); break;
            case "--platform": opts.load.platform = value(); break;
            case "--replicas": opts.load.replicas = value(); break;
            case "--parallelism": opts.load.loadParallelism = value(); break;
            case "--cpu-affinity": opts.load.cpuAffinity = value(); break;
            case "--sweep-split": opts.sweepSplit = value(); break;
            case "--repeats": opts.load.loadRepeats = value(); break;
            case "--warmup": opts.load.loadWarmupSeconds = value(); break;
            case "--keep-alive": opts.load.loadKeepAlive = "true"; break;
            case "--app-cpu-ms": opts.load.appCpuMs = value(); break;
            case "--timeout": opts.load.loadTimeoutSeconds = value(); break;
            case "--slow-clients": opts.load.slowClients = value(); break;
            case "--capacity": opts.load.capacitySearch = "true"; break;
            case "--capacity-only":
                Object.assign(opts.load, { capacitySearch: "true", loadRepeats: "1", baseline: "false" });
                opts.kind = "capacity";
                break;
            case "--set": {
                const m = value().match(/^([\w-]+):(\w+)=(.*)$/);
                if (!m) throw new Error(`--set takes scenario:key=value`);
                (opts.perScenario[m[1]] ??= {})[m[2]] = m[3];
                break;
            }
            default: return false;
        }
        return true;
    });
    for (const s of [...opts.scenarios, ...opts.sweep, ...Object.keys(opts.perScenario)]) {
        if (!all.includes(s)) throw new Error(`unknown scenario "${s}"; scenarios: ${all.join(", ")}`);
    }
    checkLevels(opts.levels, opts.waves);
    if (!/^[1-9]\d*$/.test(opts.load.loadRepeats)) {
        throw new Error(`--repeats ${opts.load.loadRepeats}: each scenario needs at least one measured run (fix: --repeats 3)`);
    }
    // Every scenario's stack as it will run, refused here rather than one by one later.
    const problems = [...new Set([...opts.scenarios, ...opts.sweep])].flatMap((scenario) => {
        try {
            resolveSettings((key) => ({ ...readStackConfig(ROOT, scenario), ...opts.load, ...opts.perScenario[scenario] })[key]);
            return [];
        } catch (e) {
            return [`${scenario}: ${(e as Error).message.replace(/\n/g, "\n  ")}`];
        }
    });
    if (problems.length) throw new Error(`${problems.join("\n")}\n(the matrix's options and --set give these settings to the scenarios' stacks)`);
    return opts;
}

const outputs = (o: OutputMap) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, v.value]));
const seconds = (since: number) => (Date.now() - since) / 1000;

/** Seconds the load runs took in an up, from the engine's events. */
function loadTimer() {
    const started = new Map<string, number>();
    let total = 0;
    return {
        onEvent(e: EngineEvent) {
            const urn = e.resourcePreEvent?.metadata.urn ?? e.resOutputsEvent?.metadata.urn;
            // This machine's driver, or a cluster's load Job as its result resource waits for it.
            if (!urn || !/dynamic\/(load:Run|kubernetes:LoadRun)::/.test(urn)) return;
            if (e.resourcePreEvent) started.set(urn, Date.now());
            if (e.resOutputsEvent && started.has(urn)) total += seconds(started.get(urn)!);
        },
        get seconds() { return total; },
    };
}

async function matrixStack(name: string, scenario: string, config: Record<string, string>, dir: string, log: fs.WriteStream): Promise<Stack> {
    const stack = await LocalWorkspace.createOrSelectStack({ stackName: name, workDir: ROOT });
    // The stack's per-run records go inside this run's folder, not beside it in results/<stack>/.
    const resultsDir = path.join(dir, "stacks", name.startsWith("sweep-") ? name : scenario);
    const map = Object.fromEntries(Object.entries({ ...readStackConfig(ROOT, scenario), scenario, resultsDir, ...config }).map(([k, v]) => [k, { value: v }]));
    await stack.setAllConfig(map);
    log.write(`=== ${new Date().toISOString()} ${name}: ${JSON.stringify(config)}\n`);
    return stack;
}

/** The engine's "Diagnostics:" section of a failed up: what went wrong, without the progress lines. */
function diagnostics(message: string): string {
    const start = message.indexOf("Diagnostics:");
    const text = start >= 0 ? message.slice(start) : message;
    const end = text.indexOf("\nResources:");
    return (end >= 0 ? text.slice(0, end) : text).trim().split("\n").slice(0, 30).join("\n");
}

function tail(file: string, lines = 25): string {
    return fs.readFileSync(file, "utf8").split("\n").slice(-lines).join("\n");
}

async function destroy(stack: Stack, log: fs.WriteStream): Promise<number> {
    const t = Date.now();
    await stack.destroy({ onOutput: (s) => log.write(s), color: "never" });
    await stack.workspace.removeStack(stack.name);
    fs.rmSync(path.join(ROOT, `Pulumi.${stack.name}.yaml`), { force: true });
    return seconds(t);
}

function environment(driver: string, platform: string): Record<string, string> {
    const run = (cmd: string, args: string[]) => {
        try {
            return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim().split("\n")[0];
        } catch (e) {
            return ((e as { stderr?: string }).stderr ?? "").trim().split("\n")[0] || "not found";
        }
    };
    // The virtualenv the stacks' servers ran from (index.ts finds it the same way).
    const py = path.join(defaultVenv(), "bin", "python");
    // Every package pinned in the requirements, as installed.
    const pinned = fs.readFileSync(path.join(ROOT, "python-apps", "requirements.txt"), "utf8").split("\n")
        .map((line) => line.replace(/#.*/, "").trim().split("==")[0]).filter(Boolean);
    const pyPackages = run(py, ["-c", "import importlib.metadata as m, sys; print(', '.join(f'{p} {m.version(p)}' for p in sys.argv[1:]))", ...pinned]);
    const nginx = execFileSync("sh", ["-c", "nginx -v 2>&1 || /usr/sbin/nginx -v 2>&1 || true"], { encoding: "utf8" }).trim();
    const postgres = execFileSync("sh", ["-c", "$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)/postgres --version 2>&1 || true"], { encoding: "utf8" }).trim();
    return {
        machine: `${os.cpus().length} cores (${os.cpus()[0]?.model ?? "?"}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.type()} ${os.release()}`,
        python: run(py, ["--version"]),
        "python packages": pyPackages,
        nginx,
        postgres,
        pulumi: run("pulumi", ["version"]),
        node: process.version,
        "load driver": driver,
        platform,
    };
}

async function runScenario(scenario: string, opts: Options, baselineFor: Map<string, LoadResult>, dir: string): Promise<MatrixRow> {
    const logFile = path.join(dir, "logs", `${scenario}.log`);
    const log = fs.createWriteStream(logFile, { flags: "a" });
    const config = readStackConfig(ROOT, scenario);
    const loadKey = ["loadRequests", "loadConcurrency", "loadDelay"].map((k) => opts.load[k] ?? config[k] ?? "default").join("/");
    // The harness's baseline depends only on the load: measure it once per distinct load.
    const needBaseline = !baselineFor.has(loadKey);
    const timings: Timings = { deploySeconds: 0, loadSeconds: 0, destroySeconds: 0 };
    const row: MatrixRow = {
        scenario, status: "failed", serverMode: config.serverMode ?? "", server: "", ingress: config.ingress ?? "none",
        result: null, baseline: baselineFor.get(loadKey) ?? null,
        tutorialRps: tutorialRps(scenario),
        error: null, timings,
    };
    let stack: Stack | undefined;
    progress.start(`${scenario}: up + load`);
    try {
        stack = await matrixStack(`matrix-${scenario}`, scenario,
            { ...opts.load, ...opts.perScenario[scenario], baseline: String(needBaseline) }, dir, log);
        const timer = loadTimer();
        const t = Date.now();
        const up = await stack.up({ onOutput: (s) => log.write(s), onEvent: timer.onEvent, color: "never" });
        timings.loadSeconds = timer.seconds;
        timings.deploySeconds = seconds(t) - timer.seconds;
        const out = outputs(up.outputs);
        if (needBaseline && out.baseline) baselineFor.set(loadKey, out.baseline);
        Object.assign(row, {
            status: "ok", serverMode: out.serverMode, server: out.server, ingress: out.ingress,
            result: out.result, baseline: baselineFor.get(loadKey) ?? null,
        });
    } catch (e) {
        log.end();
        await new Promise((r) => log.once("finish", r));
        row.error = `${diagnostics((e as Error).message)}\n--- last lines of ${path.relative(ROOT, logFile)}:\n${tail(logFile, 15)}`;
        return finishFailed(row, stack, dir);
    }
    progress.phase(`${scenario}: destroy`);
    timings.destroySeconds = await destroy(stack, log);
    log.end();
    return row;
}

async function finishFailed(row: MatrixRow, stack: Stack | undefined, dir: string): Promise<MatrixRow> {
    if (stack) {
        progress.phase(`${row.scenario}: destroy`);
        const log = fs.createWriteStream(path.join(dir, "logs", `${row.scenario}.log`), { flags: "a" });
        try {
            row.timings.destroySeconds = await destroy(stack, log);
        } catch (e) {
            row.error += `\n--- destroy failed too: ${(e as Error).message}`;
        }
        log.end();
    }
    return row;
}

/** A sweep's runs: each level, without and then with the --sweep-split if given. */
function sweepRuns(scenario: string, opts: Options): (readonly [split: string, level: number])[] {
    const splits = opts.sweepSplit ? ["", opts.sweepSplit] : [opts.perScenario[scenario]?.cpuAffinity ?? opts.load.cpuAffinity ?? ""];
    return splits.flatMap((sp) => opts.levels.map((l) => [sp, l] as const));
}

async function runSweep(scenario: string, opts: Options, dir: string): Promise<SweepPoint[]> {
    const log = fs.createWriteStream(path.join(dir, "logs", `sweep-${scenario}.log`), { flags: "a" });
    const points: SweepPoint[] = [];
    let stack: Stack | undefined;
    try {
        for (const [split, level] of sweepRuns(scenario, opts)) {
            const requests = level * opts.waves;
            const what = `sweep ${scenario}: ${level} clients${split ? `, split ${split}` : ""}`;
            progress.start(`${what}, ${requests} requests`);
            // One run per level: each is a point on a curve.
            const load = {
                ...opts.load, ...opts.perScenario[scenario], loadConcurrency: String(level), loadRequests: String(requests), cpuAffinity: split,
                loadRepeats: "1", capacitySearch: "false",
            };
            const point: SweepPoint = {
                scenario, concurrency: level, requests, status: "failed", result: null, baseline: null, error: null, split,
            };
            try {
                stack = await matrixStack(`sweep-${scenario}`, scenario, load, dir, log);
                const out = outputs((await stack.up({ onOutput: (s) => log.write(s), color: "never" })).outputs);
                Object.assign(point, { status: "ok", result: out.result, baseline: out.baseline });
            } catch (e) {
                point.error = diagnostics((e as Error).message).split("\n").filter((l) => /error|exited|failed|verify/i.test(l)).slice(0, 4).join("\n");
            }
            points.push(point);
            progress.finish(`${what}: ${point.result ? `${point.result.requestsPerSecond} req/s, ${point.result.failed} failed` : `FAILED: ${point.error?.split("\n")[0] ?? ""}`}`);
        }
    } finally {
        if (stack) await destroy(stack, log);
        log.end();
    }
    return points;
}

/**
 * Stops and removes the matrix's stacks an earlier run left (interrupted, it destroys nothing), so they
 * neither hold ports nor count as scenarios. Their locks must be stale: a live lock is another run's.
 */
async function removeLeftovers(dir: string): Promise<void> {
    const workspace = await LocalWorkspace.create({ workDir: ROOT });
    const stacks = (await workspace.listStacks()).map((s) => s.name).filter((n) => MATRIX_STACK.test(n));
    const stateDir = path.join(ROOT, ".pulumi-state");
    for (const name of stacks) {
        const live = stackLocks(stateDir, name).filter((l) => l.hostname !== os.hostname() || processExists(l.pid));
        if (live.length) {
            throw new Error(`stack ${name} is in use by pid ${live.map((l) => `${l.pid}@${l.hostname}`).join(", ")} ` +
                `(another ./lab matrix?); wait for it, or stop it and run again`);
        }
    }
    for (const name of stacks) {
        console.error(`matrix: removing the stack ${name}, left by an earlier run that did not finish`);
        const stack = await LocalWorkspace.selectStack({ stackName: name, workDir: ROOT });
        // Its locks are stale (their process is gone); pulumi cancel removes them. The engine only warns
        // about operations a killed CLI left pending; destroy stops whatever the stack runs.
        await stack.cancel();
        fs.mkdirSync(path.join(dir, "logs"), { recursive: true });
        const log = fs.createWriteStream(path.join(dir, "logs", "leftovers.log"), { flags: "a" });
        await destroy(stack, log);
        log.end();
    }
    // Stack files whose stack is gone.
    for (const f of fs.readdirSync(ROOT)) {
        const name = f.match(/^Pulumi\.(.+)\.yaml$/)?.[1];
        if (name && MATRIX_STACK.test(name) && !stacks.includes(name)) fs.rmSync(path.join(ROOT, f));
    }
}

function processExists(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch (e) {
        return (e as NodeJS.ErrnoException).code === "EPERM";
    }
}

/** Every scenario and sweep level is a step (a capacity search is part of its scenario's up). */
let progress: Progress;

/** How long the newest of the last runs of the same work took: the estimate until a step of this one finished. */
function earlierRun(kind: Options["kind"], plan: MatrixPlan): Work["earlier"] {
    const dir = path.join(ROOT, "results");
    const folders = fs.existsSync(dir) ? fs.readdirSync(dir).filter((d) => d.startsWith(`${kind}-`)).sort().reverse().slice(0, 20) : [];
    const earlier = folders.flatMap((d): MatrixResults[] => {
        const file = path.join(dir, d, "results.json");
        try {
            return [parseRun(fs.readFileSync(file, "utf8"), file)];
        } catch {
            return []; // an interrupted run wrote none; an older one is not this work
        }
    });
    const seconds = sameWorkSeconds(earlier, plan);
    return seconds === undefined ? undefined : { seconds, from: "the last run" };
}

async function main() {
    const opts = parseArgs(process.argv.slice(2));
    const startedAt = new Date();
    const dir = path.join(ROOT, "results", `${opts.kind}-${startedAt.toISOString().replace(/[:.]/g, "-")}`);
    await removeLeftovers(dir);
    fs.mkdirSync(path.join(dir, "logs"), { recursive: true });
    const baselineFor = new Map<string, LoadResult>();
    const rows: MatrixRow[] = [];
    const plan: MatrixPlan = {
        scenarios: opts.scenarios, loadOverrides: opts.load,
        sweep: opts.sweep.flatMap((s) => sweepRuns(s, opts).map(([split, level]) => `${s} ${level} ${split}`)),
    };
    progress = new Progress(opts.kind, plan.scenarios.length + plan.sweep.length, earlierRun(opts.kind, plan));
    for (const scenario of opts.scenarios) {
        const row = await runScenario(scenario, opts, baselineFor, dir);
        rows.push(row);
        const r = row.result;
        progress.finish(`${scenario}: ${row.status === "ok"
            ? `${r!.requestsPerSecond} req/s, ${r!.failed} failed (deploy ${row.timings.deploySeconds.toFixed(1)} s, ` +
              `load ${row.timings.loadSeconds.toFixed(1)} s, destroy ${row.timings.destroySeconds.toFixed(1)} s)`
            : `FAILED: ${row.error!.split("\n")[0]}`}`);
    }
    const sweep: SweepPoint[] = [];
    for (const scenario of opts.sweep) sweep.push(...await runSweep(scenario, opts, dir));
    progress.stop();

    const driver = rows.find((r) => r.result)?.result;
    const results: MatrixResults = {
        format: RESULTS_FORMAT,
        startedAt: startedAt.toISOString(),
        wallSeconds: seconds(startedAt.getTime()),
        environment: environment(driver ? `${driver.driver} ${driver.driverVersion}` : "none ran", opts.load.platform ?? "local"),
        loadOverrides: opts.load,
        rows,
        sweep,
    };
    const json = path.join(dir, "results.json");
    fs.writeFileSync(json, JSON.stringify(results, null, 2) + "\n");
    fs.writeFileSync(path.join(dir, "report.md"), renderReport(results));
    writeHtmlReport([{ name: path.basename(dir), file: json, results }], path.join(dir, "report.html"));
    console.log(renderTerminalTable(results));
    console.log(`\n${whatToPick(results).join("\n").replace(/\*\*/g, "")}`);
    console.log(`${path.relative(process.cwd(), dir)}/: results.json, report.md, report.html (${results.wallSeconds.toFixed(0)} s)`);
    const failed = rows.filter((r) => r.status === "failed").map((r) => r.scenario);
    if (failed.length) {
        console.error(`failed: ${failed.join(", ")}`);
        process.exitCode = 1;
    }
}

main().catch((e) => {
    progress?.stop();
    console.error(`matrix: ${(e as Error).message}`);
    process.exitCode = 2;
});
