// The harness's own limits (scripts/bench-harness.sh runs this): the bare slow
// API, no Flask, loaded by each driver at each concurrency, without and with a
// CPU split; prints req/s against the limit and who ran out first per level,
// and writes every normalized result to results/harness-<time>.json, and its page beside it (.html).
// --repeats N gives each level's spread; --aa runs each level twice as N runs
// and compares the two (A/A: the harness's own noise floor, which Welch's test
// must call a tie); --driver-max asks oha for rising constant rates against
// nginx answering at once, to find the most it sends here (lib/load/capacity.ts's OHA_MAX_RPS).
//
//   scripts/bench-harness.sh [--drivers ab,oha] [--levels 200,1000,2000,5000] [--waves 5]
//                            [--split "driver=0 upstream=1" | --no-split] [--delay 1] [--timeout 60]
//                            [--repeats N] [--aa] [--driver-max]
import { ChildProcess, execFile, spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { figureText } from "../lib/decide";
import { ohaRateArgv, parseOhaOutput } from "../lib/load/oha";
import { cpuCell, verdictCell } from "../lib/report";
import { compareSamples, median } from "../lib/stats";
import { CpuAffinity, formatCpuAffinity, parseCpuAffinity } from "../lib/load/cpu";
import { LoadResult } from "../lib/load/result";
import { LOAD_DRIVERS, LoadDriverChoice } from "../lib/settings";
import { withCpuAffinity, withRaisedFileLimit } from "../lib/launch";
import { defaultVenv, findDriver, which } from "../platforms/localTools";
import { measure } from "../providers/loadRun";
import { parseRun } from "../lib/runs";
import { checkLevels, list, readFlags } from "./flags";
import { writeHtmlReport } from "./report";

const ROOT = path.join(__dirname, "..");

interface Options {
    drivers: LoadDriverChoice[];
    levels: number[];
    waves: number;
    /** "" runs without a split only. */
    split: string;
    delay: number;
    timeoutSeconds: number;
    /** Measured runs per level, after a warm-up when more than one. */
    repeats: number;
    /** Each level twice, as two groups of `repeats` runs, compared. */
    aa: boolean;
    /** Only oha's own highest sending rate. */
    driverMax: boolean;
}

function parseArgs(argv: string[]): Options {
    const opts: Options = {
        drivers: ["ab", "oha"], levels: [200, 1000, 2000, 5000], waves: 5, split: "driver=0 upstream=1", delay: 1, timeoutSeconds: 60,
        repeats: 1, aa: false, driverMax: false,
    };
    readFlags(argv, "scripts/harness.ts", (flag, value) => {
        switch (flag) {
            case "--drivers": opts.drivers = list(value()) as LoadDriverChoice[]; break;
            case "--levels": opts.levels = list(value()).map(Number); break;
            case "--waves": opts.waves = Number(value()); break;
            case "--split": opts.split = value(); break;
            case "--no-split": opts.split = ""; break;
            case "--delay": opts.delay = Number(value()); break;
            case "--timeout": opts.timeoutSeconds = Number(value()); break;
            case "--repeats": opts.repeats = Number(value()); break;
            case "--aa": opts.aa = true; break;
            case "--driver-max": opts.driverMax = true; break;
            default: return false;
        }
        return true;
    });
    const bad = opts.drivers.filter((d) => !LOAD_DRIVERS.includes(d));
    if (bad.length) throw new Error(`--drivers: unknown ${bad.join(", ")}; valid: ${LOAD_DRIVERS.join(", ")}`);
    checkLevels(opts.levels, opts.waves);
    parseCpuAffinity(opts.split);
    if (!Number.isInteger(opts.repeats) || opts.repeats < 1) throw new Error(`--repeats ${opts.repeats}: at least one run per level (fix: --repeats 3)`);
    if (opts.aa && opts.repeats < 2) throw new Error("--aa compares two groups of runs: it needs --repeats 2 or more (fix: --repeats 5)");
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
    const python = path.join(defaultVenv(), "bin", "python");
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

const COLUMNS = ["driver", "cpu split", "clients", "requests", "runs", "req/s [95 % interval]", "CV", "limit", "of limit", "driver ceiling", "failed",
    "p95 (ms)", "bottleneck", "peak CPU (cores)"];

function row(r: LoadResult): string[] {
    const cv = r.spread?.requestsPerSecond.cv;
    return [`${r.driver} ${r.driverVersion}`, formatCpuAffinity(r.cpuAffinity) || "none", String(r.concurrency), String(r.requests),
        String(r.repeats.length), figureText(r.repeats.map((run) => run.requestsPerSecond)), cv === undefined || cv === null ? "-" : `${(cv * 100).toFixed(1)} %`,
        String(r.limitRps), `${((r.efficiency ?? 0) * 100).toFixed(1)} %`, String(r.driverCeilingRps),
        String(r.failed), String(r.latencyMs.p95 ?? "-"), verdictCell(r.bottleneck), cpuCell(r.cpu)];
}

/** A/A: the same level measured twice; Welch's test must not tell the two apart. */
function aaLine(a: LoadResult, b: LoadResult): string {
    const [ra, rb] = [a, b].map((r) => r.repeats.map((run) => run.requestsPerSecond));
    const { comparison, test } = compareSamples(rb, ra);
    return `A/A ${a.driver} at ${a.concurrency} clients${formatCpuAffinity(a.cpuAffinity) ? `, split ${formatCpuAffinity(a.cpuAffinity)}` : ""}: ` +
        `A ${figureText(ra)}, B ${figureText(rb)} -> ${comparison === "tie" ? "tie within noise" : comparison} (Welch p = ${test?.p.toFixed(3)}); ` +
        `difference of the medians ${(Math.abs(median(rb) / median(ra) - 1) * 100).toFixed(1)} %`;
}

/** nginx answering 200 at once on a free loopback port, in a folder of its own; its stop. */
async function startFastServer(dir: string): Promise<{ url: string; stop: () => void }> {
    const port = await freePort();
    const nginx = which("nginx");
    if (!nginx) throw new Error("nginx is needed for --driver-max (./lab setup installs it)");
    fs.mkdirSync(path.join(dir, "logs"), { recursive: true });
    fs.writeFileSync(path.join(dir, "nginx.conf"), `daemon off; worker_processes 1; pid ${dir}/nginx.pid; error_log ${dir}/logs/error.log;
events { worker_connections 16384; }
http { access_log off; client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};
  server { listen 127.0.0.1:${port} backlog=4096; location / { return 200 "ok"; } } }
`);
    const child = spawn(nginx, ["-p", dir, "-c", path.join(dir, "nginx.conf")], { detached: true, stdio: "ignore" });
    const url = `http://127.0.0.1:${port}/`;
    const deadline = Date.now() + 10_000;
    while (!(await answers(url))) {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`nginx did not start; see ${dir}/logs/error.log`);
        await new Promise((r) => setTimeout(r, 100));
    }
    return { url, stop: () => stop(child) };
}

/** oha at rising constant rates, 5 s each, against a server that answers at once: the rate it reaches is its own. */
async function driverMax(dir: string): Promise<void> {
    const oha = findDriver("oha");
    const server = await startFastServer(dir);
    try {
        console.log("| rate asked | reached | reached / asked | errors |\n|---|---|---|---|");
        for (const rate of [1000, 2000, 4000, 8000, 12000, 16000, 24000]) {
            const argv = ohaRateArgv(oha.path, { url: server.url, rate, seconds: 5, connections: 64, timeoutSeconds: 10 });
            const [command, ...args] = withRaisedFileLimit(argv);
            const out = await new Promise<string>((resolve, reject) =>
                execFile(command, args, { encoding: "utf8", maxBuffer: 64 * 2 ** 20 }, (e, stdout) => (e ? reject(e) : resolve(stdout))));
            const figures = parseOhaOutput(out);
            const reached = figures.complete / 5;
            console.log(`| ${rate} | ${reached.toFixed(0)} | ${((reached / rate) * 100).toFixed(1)} % | ${figures.failed} |`);
        }
    } finally {
        server.stop();
    }
}

async function main() {
    const opts = parseArgs(process.argv.slice(2));
    const started = Date.now();
    const stamp = new Date().toISOString().replace(/[:.]/g, "-");
    fs.mkdirSync(path.join(ROOT, "results"), { recursive: true });
    const log = path.join(ROOT, "results", `harness-${stamp}.log`);
    if (opts.driverMax) {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fgl-driver-max-"));
        try {
            return await driverMax(dir);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    }
    const drivers = opts.drivers.map((d) => findDriver(d));
    const aa: string[] = [];
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
                        const group = () => measure({
                            url: `${api.url}?delay=${opts.delay}`, expectBody: "slow api response",
                            driver: driver.name, driverPath: driver.path, driverVersion: driver.version,
                            k6Script: path.join(ROOT, "k6", "load.js"),
                            requests, concurrency: level, delaySeconds: opts.delay, timeoutSeconds: opts.timeoutSeconds,
                            repeats: opts.repeats, warmupSeconds: opts.repeats > 1 ? 3 : 0, upstreamUrl: api.url,
                            capacity: -1, threads: { kind: "group", pgid: api.child.pid! },
                            roles: { upstream: { kind: "group", pgid: api.child.pid! } },
                            // aiohttp serves on one thread.
                            roleProcessCores: { upstream: 1 },
                            cpuAffinity: affinity, maxFailedRequests: -1, resultsDir: "", target: "", runId: "",
                        });
                        for (const result of opts.aa ? [await group(), await group()] : [await group()]) {
                            results.push(result);
                            console.log(`| ${row(result).join(" | ")} |`);
                        }
                        if (opts.aa) aa.push(aaLine(results[results.length - 2], results[results.length - 1]));
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
    if (aa.length) console.log(`\n${aa.join("\n")}`);
    const page = writeHtmlReport([{ name: path.basename(file, ".json"), file, results: parseRun(fs.readFileSync(file, "utf8"), file) }], file.replace(/\.json$/, ".html"));
    console.log(`\n${path.relative(process.cwd(), file)}, ${path.relative(process.cwd(), page)} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
    if (failures.length) process.exitCode = 1;
}

// The e2e tests start the slow API with the same function.
if (require.main === module) {
    main().catch((e) => {
        console.error(`harness: ${(e as Error).message}`);
        process.exitCode = 2;
    });
}
