// Each component on its own Args, under Pulumi's mocks: defaults, validation,
// Inputs that are Outputs of other resources, child names and parents.
import { strict as assert } from "assert";
import * as pulumi from "@pulumi/pulumi";
import { FlaskApp } from "../../components/flaskApp";
import { LoadTest } from "../../components/loadTest";
import { NginxIngress } from "../../components/nginxIngress";
import { Postgres } from "../../components/postgres";
import { SlowApi } from "../../components/slowApi";
import { LocalPlatform } from "../../platforms/local";

interface Declared { type: string; name: string; inputs: any }
const LEASE = "pulumi-nodejs:dynamic/local:PortLease";
const TOOLS = { pythonBin: "", postgresBin: "/pg/bin", nginx: "/usr/sbin/nginx", uwsgiParams: "/etc/nginx/uwsgi_params" };
const DRIVER = { name: "ab" as const, path: "/usr/bin/ab", version: "2.3" };

function promiseOf<T>(output: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => output.apply((v) => { resolve(v); return v; }));
}

let declared: Declared[];
const platform = () => new LocalPlatform("lab", { runDir: "/run/lab/test", tools: TOOLS });
const specOf = (name: string) => declared.find((d) => d.inputs.spec?.name === name)!.inputs.spec;

describe("components on their own Args (Pulumi mocks)", () => {
    beforeEach(async () => {
        declared = [];
        await pulumi.runtime.setMocks({
            newResource(args) {
                const leases = declared.filter((d) => d.type === LEASE).length;
                declared.push({ type: args.type, name: args.name, inputs: args.inputs });
                const state = args.type === LEASE ? { ...args.inputs, port: 20000 + leases }
                    : args.inputs.spec ? { ...args.inputs, pid: 100, startTime: 1, logFile: "/x.log" }
                    : args.inputs.expectBody ? { ...args.inputs, result: { requestsPerSecond: 1 } } : args.inputs;
                return { id: `${args.name}-id`, state };
            },
            call: (args) => args.inputs,
        }, "project", "stack", false);
    });

    describe("SlowApi", () => {
        it("leases a port when none is given, and names its children after itself, under itself", async () => {
            const api = new SlowApi("api", { platform: platform() });
            assert.equal(await promiseOf(api.url), "http://127.0.0.1:20000/");
            assert.deepEqual(declared.filter((d) => d.type === LEASE).map((d) => [d.name, d.inputs.owner]), [["api-port", "/run/lab/test/slow-api"]]);
            const urn = await promiseOf(api.service.resource.urn);
            assert.match(urn, /::flask-gevent-lab:components:SlowApi\$pulumi-nodejs:dynamic\/local:Process::api-process$/);
        });

        it("takes a fixed port, even one that is another resource's output, and leases nothing then", async () => {
            const lease = new SlowApi("other", { platform: platform() });
            const api = new SlowApi("api", { platform: platform(), port: lease.port.apply((p) => p + 1), serviceName: "api2" });
            assert.equal(await promiseOf(api.url), "http://127.0.0.1:20001/");
            assert.equal(declared.filter((d) => d.type === LEASE).length, 1);
            assert.equal(specOf("api2").env.PORT, "20001");
        });
    });

    describe("FlaskApp", () => {
        it("takes its CPUs from another resource's output", async () => {
            const api = new SlowApi("api", { platform: platform(), cpus: "0" });
            const app = new FlaskApp("app", { platform: platform(), upstreamUrl: api.serviceUrl, cpus: api.port.apply((p) => (p === 20000 ? "1" : "0-1")) });
            await promiseOf(app.url);
            assert.deepEqual([specOf("slow-api").cpus, specOf("flask-app").cpus], ["0", "1"]);
        });

        it("defaults to the tutorial's uWSGI + gevent: 2 workers x 2000 async cores", async () => {
            const app = new FlaskApp("app", { platform: platform(), upstreamUrl: "http://127.0.0.1:4000/" });
            await promiseOf(app.url);
            assert.equal(app.capacity, 4000);
            assert.match(app.server, /uwsgi --gevent: 2 worker\(s\) x 2000 async cores/);
            const spec = specOf("flask-app");
            assert.ok(spec.argv.join(" ").includes("--workers 2 --gevent 2000"));
            assert.equal(spec.env.PORT_API, "4000");
            assert.equal(spec.env.APP_CPU_MS, undefined, "no CPU burned unless asked");
            assert.equal(app.processes, 2);
            assert.match(await promiseOf(app.service.resource.urn), /FlaskApp\$pulumi-nodejs:dynamic\/local:Process::app-server$/);
        });

        it("burns the CPU asked for in every request, and hands the load what bounds it", async () => {
            const app = new FlaskApp("app", { platform: platform(), upstreamUrl: "http://127.0.0.1:4000/", appCpuMs: 7.5, workers: 3 });
            const load = new LoadTest("load", { url: app.url, driver: DRIVER, appCpuMs: app.appCpuMs, appProcesses: app.processes });
            await promiseOf(load.result);
            assert.equal(specOf("flask-app").env.APP_CPU_MS, "7.5");
            const run = declared.find((d) => d.inputs.expectBody)!.inputs;
            assert.deepEqual([run.appCpuMs, run.appProcesses], [7.5, 3]);
            assert.throws(() => new FlaskApp("db", { platform: platform(), upstreamUrl: "http://x:1/", databaseUrl: "postgresql://y:2/", appCpuMs: 5 }),
                /appCpuMs: the psycopg2 app burns no CPU/);
        });

        it("calls the upstream another component's output names", async () => {
            const api = new SlowApi("api", { platform: platform(), port: 4100 });
            const app = new FlaskApp("app", { platform: platform(), serverMode: "gunicorn-sync", workers: 2, threads: 10, upstreamUrl: api.serviceUrl });
            assert.equal(await promiseOf(app.url), "http://127.0.0.1:20000/");
            assert.equal(specOf("flask-app").env.PORT_API, "4100");
            assert.equal(app.capacity, 20);
        });

        it("serves the psycopg2 app, patched by psycogreen, when given a database", async () => {
            const pg = new Postgres("db", { platform: platform(), port: 5500 });
            const app = new FlaskApp("app", { platform: platform(), upstreamUrl: "http://127.0.0.1:4000/", databaseUrl: pg.serviceUrl, psycogreen: true });
            await promiseOf(app.url);
            const spec = specOf("flask-app");
            assert.match(spec.cwd, /database_app$/);
            assert.equal(spec.env.POSTGRES_PORT, "5500");
            assert.ok(spec.argv.includes("patched:app"));
            assert.equal(await promiseOf(pg.url), "postgresql://example:example@127.0.0.1:5500/example");
        });

        it("refuses bad arguments before declaring anything, naming each field", () => {
            assert.throws(() => new FlaskApp("app", { platform: platform(), upstreamUrl: "http://x:1/", threads: 8, psycogreen: true }),
                /FlaskApp app: invalid arguments:\n  - threads: server mode uwsgi-gevent has no threads setting.*\n  - psycogreen: patches psycopg2, but there is no database/);
            assert.throws(() => new FlaskApp("app", { platform: platform(), upstreamUrl: "http://x:1/", serverMode: "uwsgi-turbo" as never }),
                /serverMode: unknown server mode "uwsgi-turbo"; valid: devserver, devserver-threaded/);
            assert.throws(() => new FlaskApp("app", { platform: platform(), upstreamUrl: "http://x:1/", serverMode: "gunicorn-sync", protocol: "uwsgi" }),
                /protocol: "uwsgi" needs a uWSGI server/);
            assert.equal(declared.filter((d) => d.inputs.spec).length, 0);
        });
    });

    describe("NginxIngress", () => {
        it("balances across every upstream it is given, with the protocol their URLs name", async () => {
            const web = new NginxIngress("web", { platform: platform(), upstreams: ["uwsgi://127.0.0.1:3001/", pulumi.output("uwsgi://127.0.0.1:3002/")] });
            assert.equal(await promiseOf(web.url), "http://127.0.0.1:20000/");
            assert.equal(await promiseOf(web.serviceUrl), "http://127.0.0.1:20000/", "as the platform's other services reach it");
            const conf: string = specOf("nginx").files["nginx.conf"];
            assert.match(conf, /server 127\.0\.0\.1:3001;\s+server 127\.0\.0\.1:3002;/);
            assert.match(conf, /uwsgi_pass app;/);
            assert.match(await promiseOf(web.service.resource.urn), /NginxIngress\$pulumi-nodejs:dynamic\/local:Process::web-nginx$/);
        });
    });

    describe("LoadTest", () => {
        it("applies the tutorial's load by default and loads the URL another resource gives", async () => {
            const api = new SlowApi("api", { platform: platform() });
            const load = new LoadTest("load", { url: api.url, driver: DRIVER });
            await promiseOf(load.result);
            const run = declared.find((d) => d.inputs.expectBody)!.inputs;
            assert.deepEqual([run.requests, run.concurrency, run.delaySeconds, run.timeoutSeconds], [2000, 200, 1, 300]);
            assert.deepEqual([run.repeats, run.warmupSeconds, run.upstreamUrl, run.capacitySearch], [1, 3, "", undefined]);
            assert.equal(run.resultsDir, "", "no results folder unless asked: never the caller's working folder");
            assert.equal(run.url, "http://127.0.0.1:20000/?delay=1");
            assert.equal(run.capacity, -1);
            assert.deepEqual(declared.filter((d) => d.inputs.expectBody).map((d) => [d.type, d.name]), [["pulumi-nodejs:dynamic/load:Run", "load-run"]]);
        });

        it("takes what only reaches the run (body, run id, failures allowed, folder, CPU settings) from other resources' outputs", async () => {
            const api = new SlowApi("api", { platform: platform() });
            const port = api.port;
            const load = new LoadTest("load", {
                url: api.url, driver: DRIVER,
                expectBody: pulumi.interpolate`port ${port}`, runId: pulumi.interpolate`run-${port}`, maxFailedRequests: port.apply((p) => p - 20000 + 7),
                resultsDir: pulumi.interpolate`/results/${port}`, roleProcessCores: port.apply(() => ({ app: 2 })),
                cpuAffinity: port.apply(() => ({ app: "1" })),
            });
            await promiseOf(load.result);
            const run = declared.find((d) => d.inputs.expectBody)!.inputs;
            assert.deepEqual([run.expectBody, run.runId, run.maxFailedRequests, run.resultsDir], ["port 20000", "run-20000", 7, "/results/20000"]);
            assert.deepEqual([run.roleProcessCores, run.cpuAffinity], [{ app: 2 }, { app: "1" }]);
        });

        it("refuses a load ApacheBench can't run", () => {
            assert.throws(() => new LoadTest("load", { url: "http://127.0.0.1:1/", requests: 10, concurrency: 20, driver: DRIVER }),
                /LoadTest load: invalid arguments:\n  - concurrency: 20 clients for 10 requests/);
        });

        it("repeats, warms up, checks failures against the slow API, and searches the capacity where asked", async () => {
            const api = new SlowApi("api", { platform: platform() });
            const oha = { name: "oha" as const, path: "/c/oha", version: "1.16.0" };
            const load = new LoadTest("load", {
                url: api.url, driver: DRIVER, repeats: 3, warmupSeconds: 5, upstreamUrl: api.url, capacity: 200,
                capacitySearch: { probeSeconds: 4 }, rateDriver: oha,
            });
            await promiseOf(load.result);
            const run = declared.find((d) => d.inputs.expectBody)!.inputs;
            assert.deepEqual([run.repeats, run.warmupSeconds, run.upstreamUrl], [3, 5, "http://127.0.0.1:20000/"]);
            // The tutorial-scaled search, the probe length given: 1.5 x the delay, from a quarter of the pool's limit to twice it.
            assert.deepEqual(run.capacitySearch, {
                sloP99Ms: 1500, probeSeconds: 4, startRps: 50, maxRps: 400, precision: 0.05, ohaPath: "/c/oha", ohaVersion: "1.16.0",
            });
        });

        it("holds slow clients with a driver that survives their timeouts, and refuses ab and a count beyond the bound", async () => {
            const oha = { name: "oha" as const, path: "/c/oha", version: "1.16.0" };
            const load = new LoadTest("load", { url: "http://127.0.0.1:1/", driver: oha, slowClients: 100 });
            await promiseOf(load.result);
            assert.equal(declared.find((d) => d.inputs.expectBody)!.inputs.slowClients, 100);
            assert.throws(() => new LoadTest("ab", { url: "http://127.0.0.1:1/", driver: DRIVER, slowClients: 4 }),
                /LoadTest ab: invalid arguments:\n  - slowClients: ab gives up its whole run at the first request that waits timeoutSeconds/);
            assert.throws(() => new LoadTest("many", { url: "http://127.0.0.1:1/", driver: oha, slowClients: 2001 }),
                /slowClients: 2001 is more than 2000/);
        });

        it("refuses no runs, a fractional warm-up, and an objective no server can meet, naming each field", () => {
            assert.throws(() => new LoadTest("load", {
                url: "http://127.0.0.1:1/", driver: DRIVER, repeats: 0, warmupSeconds: 0.5, capacitySearch: { sloP99Ms: 900 },
            }), /repeats: 0 is not a whole number >= 1\n  - warmupSeconds: 0\.5 is not a whole number >= 0.*\n  - capacitySearch\.sloP99Ms: 900 ms is not above the 1000 ms/);
        });
    });
});
