// Every scenario as the containers the docker platform declares, run on a real
// Docker engine with the docker CLI (the Pulumi docker provider plugin can't be
// had here): the same images, commands, environment, ports, files and health
// checks, from lib/container.ts. Host networking keeps all traffic on loopback.
//
// FGL_DOCKER_LOAD=requests/concurrency/delay changes the load (default 20/10/0.2);
// FGL_DOCKER_LOAD=scenario runs each scenario's own (the tutorial's) load.
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { containerPaths, containerSpec, imageFor } from "../../lib/container";
import { LoadResult } from "../../lib/load/result";
import { listeningNow } from "../../lib/ports";
import { scenarioServices } from "../../lib/services";
import { leasePort, releasePort } from "../../providers/portLease";
import { resolveSettings, serverCapacity } from "../../lib/settings";
import { listScenarios, readStackConfig } from "../../lib/stacks";
import { findDriver } from "../../platforms/localTools";
import { measure } from "../../providers/loadRun";
import { baseImage, buildAppImage, docker, runContainer, startEngine } from "./engine";
import { httpGet } from "../httpGet";

const ROOT = path.join(__dirname, "..", "..");
const LOAD = process.env.FGL_DOCKER_LOAD ?? "20/10/0.2";
const override = LOAD === "scenario" ? {} : Object.fromEntries(
    LOAD.split("/").map((v, i) => [["loadRequests", "loadConcurrency", "loadDelay"][i], v]));
const APPS = ["slow_api", "flask_app", "database_app"];

const get = async (url: string): Promise<string> => (await httpGet(url)).body;

describe("every scenario as containers on a real Docker engine", function () {
    let stopEngine: () => Promise<void> = async () => undefined;
    let base = "";
    const report: string[] = [];

    before(async () => {
        stopEngine = await startEngine();
        base = baseImage();
        for (const app of APPS) {
            const first = buildAppImage(app, `flask-gevent-lab/${app}:latest`, base);
            const cached = buildAppImage(app, `flask-gevent-lab/${app}:latest`, base);
            const size = Number(docker("image", "inspect", "-f", "{{.Size}}", `flask-gevent-lab/${app}:latest`)) / 2 ** 20;
            report.push(`image ${app}: ${size.toFixed(0)} MiB, build ${first.toFixed(1)} s (then ${cached.toFixed(1)} s cached)`);
        }
    });

    after(async () => {
        console.log(`\n    Docker figures (base ${base}, load ${LOAD}):\n      ${report.join("\n      ")}`);
        await stopEngine();
    });

    for (const scenario of listScenarios(ROOT)) {
        it(`${scenario}: containers answer, carry a load, show their threads, and leave nothing behind`, async () => {
            const config: Record<string, string> = {
                ...readStackConfig(ROOT, scenario), platform: "docker", dockerNetwork: "host",
                pythonImage: base, nginxImage: base, postgresImage: base, ...override,
            };
            const settings = resolveSettings((k) => config[k]);
            const stack = `docker-${scenario}`;
            const owner = (service: string) => `docker-suite/${stack}/${service}`;
            const ports = {
                app: await leasePort(owner("app")), api: await leasePort(owner("api")),
                ingress: await leasePort(owner("ingress")), postgres: await leasePort(owner("postgres")),
            };
            const images = { pythonImage: base, nginxImage: base, postgresImage: base };
            const services = scenarioServices(settings, ports, containerPaths("host"));
            const specs = services.map((s) => s.spec);
            const containers = services.map(({ role, spec }) => containerSpec(stack, spec, imageFor(role.image, images), "host"));
            try {
                for (const c of containers) await runContainer(c, c.image.name, "host", settings.readyTimeoutSeconds);
                const entry = settings.ingress === "nginx" ? ports.ingress : ports.app;
                const body = await get(`http://127.0.0.1:${entry}/?delay=0`);
                assert.match(body, settings.database ? /^Hi there! slow api response \(datetime\.datetime\(/ : /^Hi there! slow api response$/);

                const app = containers.find((c) => c.name.endsWith("-flask-app"))!;
                const ab = findDriver("ab");
                const { load } = settings;
                // Counted independently (by pid namespace, not by docker top, which the load reads) just before the load.
                const appPid = Number(docker("inspect", "-f", "{{.State.Pid}}", app.name));
                const idle = threadsInNamespaceOf(appPid);
                const result: LoadResult = await measure({
                    url: `http://127.0.0.1:${entry}/?delay=${load.delay}`, expectBody: "Hi there! slow api response",
                    driver: "ab", driverPath: ab.path, driverVersion: ab.version, k6Script: "",
                    requests: load.requests, concurrency: load.concurrency, delaySeconds: load.delay,
                    timeoutSeconds: load.timeoutSeconds, capacity: Number.isFinite(serverCapacity(settings)) ? serverCapacity(settings) : -1,
                    repeats: 1, warmupSeconds: 0, upstreamUrl: `http://127.0.0.1:${ports.api}/`,
                    threads: { kind: "container", name: app.name }, maxFailedRequests: -1,
                    resultsDir: path.join(os.tmpdir(), "unused"), target: stack, runId: "",
                });
                assert.equal(result.complete, load.requests);
                assert.equal(result.failed, 0);
                // The threads the load counted before it are the app container's. Only "before" is compared: after the load,
                // idle threads end (nginx-uwsgi 8 -> 5) or start late (gevent's resolver pool grew past the sampled peak).
                // The load's check request may start one pool thread in between, hence the 2.
                assert.ok(Math.abs(result.threadsBefore! - idle) <= 2,
                    `the app's threads: ${idle} counted just before the load, the load counted ${result.threadsBefore}`);
                if (scenario === "devserver-threaded" && load.concurrency >= 10) {
                    assert.ok(result.threadsPeak! >= result.threadsBefore! + 5, `a thread per request: ${result.threadsBefore} -> ${result.threadsPeak}`);
                }
                report.push(`${scenario}: ${result.requestsPerSecond} req/s (limit ${result.limitRps}), ` +
                    `threads ${result.threadsBefore} -> ${result.threadsPeak}`);
            } finally {
                for (const c of [...containers].reverse()) spawnSync("docker", ["rm", "-f", c.name], { stdio: "ignore" });
                for (const [service, port] of Object.entries(ports)) releasePort(port, owner(service));
            }
            assert.equal(docker("ps", "-aq", "--filter", `name=fgl-${stack}-`), "", "no container left");
            const bound = listeningNow();
            for (const spec of specs) assert.ok(!bound.has(spec.port), `port ${spec.port} still bound`);
        });
    }
});

/** Threads of the processes in the pid namespace of process `pid` (a container's init), from /proc. */
function threadsInNamespaceOf(pid: number): number {
    const namespace = fs.readlinkSync(`/proc/${pid}/ns/pid`);
    let threads = 0;
    for (const entry of fs.readdirSync("/proc").filter((e) => /^\d+$/.test(e))) {
        try {
            if (fs.readlinkSync(`/proc/${entry}/ns/pid`) !== namespace) continue;
            threads += Number(/^Threads:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${entry}/status`, "utf8"))![1]);
        } catch { /* exited */ }
    }
    return threads;
}
