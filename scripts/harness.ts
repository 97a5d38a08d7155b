// The harness's own limits (scripts/bench-harness.sh runs this): the bare slow
// API, no Flask, loaded by each driver at each concurrency, without and with a
// CPU split; prints req/s against the limit and who ran out first per level,
// and writes every normalized result to results/harness-<time>.json.
//
//   scripts/bench-harness.sh [--drivers ab,oha] [--levels 200,1000,2000,5000] [--waves 5]
//                            [--split "driver=0 upstream=1" | --no-split] [--delay 1] [--timeout 60]
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import * as path from "path";
import { cpuCell, verdictCell } from "../lib/report";
import { CpuAffinity, formatCpuAffinity, parseCpuAffinity } from "../lib/load/cpu";
import { LoadResult } from "../lib/load/result";
import { LOAD_DRIVERS, LoadDriverChoice } from "../lib/settings";
import { withCpuAffinity, withRaisedFileLimit } from "../lib/procfs";
import { findDriver } from "../platforms/localTools";
import { measure } from "../providers/loadRun";
import { checkLevels, list, readFlags } from "./flags";

const ROOT = path.join(__dirname, "..");

interface Options {
    drivers: LoadDriverChoice[];
    levels: number[];
    waves: number;
    /** "" runs without a split only. */
    split: string;
    delay: number;
    timeoutSeconds: number;
}

function parseArgs(argv: string[]): Options {
    const opts: Options = { drivers: ["ab", "oha"], levels: [200, 1000, 2000, 5000], waves: 5, split: "driver=0 upstream=1", delay: 1, timeoutSeconds: 60 };
    readFlags(argv, "scripts/harness.ts", (flag, value) => {
        switch (flag) {
            case "--drivers": opts.drivers = list(value()) as LoadDriverChoice[]; break;
            case "--levels": opts.levels = list(value()).map(Number); break;
            case "--waves": opts.waves = Number(value()); break;
            case "--split": opts.split = value(); break;
            case "--no-split": opts.split = ""; break;
            case "--delay": opts.delay = Number(value()); break;
            case "--timeout": opts.timeoutSeconds = Number(value()); break;
            default: return false;
        }
        return true;
    });
    const bad = opts.drivers.filter((d) => !LOAD_DRIVERS.includes(d));
    if (bad.length) throw new Error(`--drivers: unknown ${bad.join(", ")}; valid: ${LOAD_DRIVERS.join(", ")}`);
    checkLevels(opts.levels, opts.waves);
    parseCpuAffinity(opts.split);
    return opts;
}

function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const { port } = server.address() as net.AddressInfo;
            server.close(() => resolve(port));
        });
    });
}

function answers(url: string): Promise<boolean> {
    return new Promise((resolve) => {
        http.get(url, { agent: false, timeout: 1000 }, (res) => { res.resume(); resolve(res.statusCode === 200); })
            .on("error", () => resolve(false))
            .on("timeout", function (this: http.ClientRequest) { this.destroy(); });
    });
}

/** The slow API as its own process group (its pgid: child.pid), pinned as the split says, with the open-files limit raised. */
export async function startSlowApi(affinity: CpuAffinity, log: string): Promise<{ child: ChildProcess; url: string }> {
    const port = await freePort();
    const python = path.join(ROOT, ".lab", "venv", "bin", "python");
    if (!fs.existsSync(python)) throw new Error(`no Python virtualenv at ${python}: run ./lab setup`);
    const [command, ...args] = withRaisedFileLimit(withCpuAffinity([python, path.join(ROOT, "python-apps", "slow_api", "api.py")], affinity.upstream));
    const out = fs.openSync(log, "a");
    const child = spawn(command, args, {
        detached: true, stdio: ["ignore", out, out], env: { ...process.env, HOST: "127.0.0.1", PORT: String(port) },
    });
    fs.closeSync(out);
    const url = `http://127.0.0.1:${port}/`;
    const deadline = Date.now() + 30_000;
    while (!(await answers(`${url}?delay=0`))) {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the slow API did not start; see ${log}`);
        await new Promise((r) => setTimeout(r, 100));
    }
    return { child, url };
}

export function stop(child: ChildProcess): void {
    try { process.kill(-child.pid!, "SIGKILL"); } catch { /* gone */ }
}

const COLUMNS = ["driver", "cpu split", "clients", "requests", "req/s", "limit", "of limit", "driver ceiling", "failed", "p95 (ms)", "bottleneck", "peak CPU (cores)"];

function row(r: LoadResult): string[] {
    return [`${r.driver} ${r.driverVersion}`, formatCpuAffinity(r.cpuAffinity) || "none", String(r.concurrency), String(r.requests),
        String(r.requestsPerSecond), String(r.limitRps), `${((r.efficiency ?? 0) * 100).toFixed(1)} %`, String(r.driverCeilingRps),
        String(r.failed), String(r.latencyMs.p95 ?? "-"), verdictCell(r.bottleneck), cpuCell(r.cpu)];
}

async function main() {
    const opts = parseArgs(process.argv.slice(2));
    const started = Date.now();
    const stamp = new Date().toISOString().replace(/[:.]/g, "-");
    fs.mkdirSync(path.join(ROOT, "results"), { recursive: true });
    const log = path.join(ROOT, "results", `harness-${stamp}.log`);
    const drivers = opts.drivers.map((d) => findDriver(d));
    const results: LoadResult[] = [];
    const failures: string[] = [];
    console.log(`| ${COLUMNS.join(" | ")} |\n|${COLUMNS.map(() => "---").join("|")}|`);
    for (const split of opts.split ? ["", opts.split] : [""]) {
        const affinity = parseCpuAffinity(split);
        const api = await startSlowApi(affinity, log);
        const cleanup = () => { stop(api.child); process.exit(130); };
        process.once("SIGINT", cleanup);
        try {
            for (const driver of drivers) {
                for (const level of opts.levels) {
                    const requests = Math.max(2000, level * opts.waves);
                    try {
                        const result = await measure({
                            url: `${api.url}?delay=${opts.delay}`, expectBody: "slow api response",
                            driver: driver.name, driverPath: driver.path, driverVersion: driver.version,
                            k6Script: path.join(ROOT, "k6", "load.js"),
                            requests, concurrency: level, delaySeconds: opts.delay, timeoutSeconds: opts.timeoutSeconds,
                            repeats: 1, warmupSeconds: 0, upstreamUrl: api.url,
                            capacity: -1, threads: { kind: "group", pgid: api.child.pid! },
                            roles: { upstream: { kind: "group", pgid: api.child.pid! } },
                            // aiohttp serves on one thread.
                            roleProcessCores: { upstream: 1 },
                            cpuAffinity: affinity, maxFailedRequests: -1, resultsDir: "", target: "", runId: "",
                        });
                        results.push(result);
                        console.log(`| ${row(result).join(" | ")} |`);
                    } catch (e) {
                        const why = `${driver.name} at ${level} clients${split ? `, split ${split}` : ""}: ${(e as Error).message.split("\n")[0]}`;
                        failures.push(why);
                        console.log(`| ${driver.name} | ${split || "none"} | ${level} | ${requests} | FAILED | | | | | | ${why.slice(0, 120)} | |`);
                    }
                }
            }
        } finally {
            process.removeListener("SIGINT", cleanup);
            stop(api.child);
        }
    }
    const file = path.join(ROOT, "results", `harness-${stamp}.json`);
    fs.writeFileSync(file, JSON.stringify({ options: opts, results, failures }, null, 2) + "\n");
    for (const level of opts.levels) {
        const best = results.filter((r) => r.concurrency === level).sort((a, b) => b.requestsPerSecond - a.requestsPerSecond)[0];
        if (best) {
            console.log(`best at ${level} clients: ${best.requestsPerSecond} req/s (${((best.efficiency ?? 0) * 100).toFixed(1)} % of the limit) ` +
                `with ${best.driver}, split ${formatCpuAffinity(best.cpuAffinity) || "none"}; ${best.bottleneck?.rule ?? "no CPU figures"}`);
        }
    }
    console.log(`\n${path.relative(process.cwd(), file)} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
    if (failures.length) process.exitCode = 1;
}

// The e2e tests start the slow API with the same function.
if (require.main === module) {
    main().catch((e) => {
        console.error(`harness: ${(e as Error).message}`);
        process.exitCode = 2;
    });
}
