// The Pulumi wiring of every scenario, under Pulumi's mocks: which resources
// each stack declares, with which commands, ports and load.
import { strict as assert } from "assert";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { Scenario } from "../../components/scenario";
import { resolveSettings } from "../../lib/settings";
import { listScenarios, readStackConfig } from "../../lib/stacks";
import { tutorialRps } from "../../lib/tutorial";
import { containerCommand, containerSpec, imageFor } from "../../lib/container";
import { scenarioServices } from "../../lib/services";
import { DockerPlatform } from "../../platforms/docker";
import { LocalPlatform } from "../../platforms/local";
import { LocalTools } from "../../platforms/localTools";

const ROOT = path.join(__dirname, "..", "..");
const TOOLS: LocalTools = { pythonBin: "", postgresBin: "/pg/bin", nginx: "/usr/sbin/nginx", uwsgiParams: "/etc/nginx/uwsgi_params" };
const DRIVER = { name: "ab" as const, path: "/usr/bin/ab", version: "2.3" };
const LEASE = "pulumi-nodejs:dynamic/local:PortLease";
const IMAGES = { pythonImage: "python:3.11-slim", nginxImage: "nginx:1.27", postgresImage: "postgres:15" };

/** The mocks' leases hand out ports from 20000 in declaration order. */
function mockState(args: pulumi.runtime.MockResourceArgs, declared: Declared[]): Record<string, unknown> {
    if (args.type === LEASE) return { ...args.inputs, port: 20000 + declared.filter((d) => d.type === LEASE).length };
    if (args.inputs.spec) return { ...args.inputs, pid: 1000 + declared.length, startTime: 1, logFile: "/x.log" };
    if (args.inputs.expectBody) return { ...args.inputs, result: { requestsPerSecond: 1, failed: 0 } };
    return args.inputs;
}

interface Declared { type: string; name: string; inputs: any }

function promiseOf<T>(output: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => output.apply((v) => { resolve(v); return v; }));
}

async function declare(stack: string, config: Record<string, string>) {
    const declared: Declared[] = [];
    await pulumi.runtime.setMocks({
        newResource(args) {
            const state = mockState(args, declared);
            declared.push({ type: args.type, name: args.name, inputs: args.inputs });
            return { id: `${args.name}-id`, state };
        },
        call: (args) => args.inputs,
    }, "flask-gevent-lab", stack, false);
    const settings = resolveSettings((k) => config[k]);
    const scenario = new Scenario(stack, {
        settings, platform: new LocalPlatform(stack, { runDir: path.join(ROOT, ".lab", stack), tools: TOOLS }),
        driver: DRIVER, resultsDir: `/results/${stack}`,
    });
    const url = await promiseOf(scenario.url);
    await promiseOf(scenario.result);
    const processes = declared.filter((d) => d.inputs.spec);
    const loads = declared.filter((d) => d.inputs.expectBody);
    const specOf = (name: string) => processes.find((p) => p.inputs.spec.name === name)?.inputs.spec;
    const leases = declared.filter((d) => d.type === LEASE);
    return { declared, processes, loads, leases, specOf, url, settings };
}

describe("scenario stacks (Pulumi mocks)", () => {
    it("has the eleven scenarios of the tutorial and four beyond it", () => {
        assert.deepEqual(listScenarios(ROOT), [
            "devserver", "devserver-threaded", "gevent-pywsgi", "granian", "gunicorn-gevent", "gunicorn-gthread", "gunicorn-sync",
            "nginx-gunicorn", "nginx-uwsgi", "psycopg2-blocking", "psycopg2-psycogreen", "psycopg3", "uwsgi-gevent", "uwsgi-sync", "waitress",
        ]);
        const beyond = listScenarios(ROOT).filter((s) => tutorialRps(s) === undefined);
        assert.deepEqual(beyond, ["granian", "gunicorn-gthread", "psycopg3", "waitress"]);
    });

    for (const stack of listScenarios(ROOT)) {
        it(`${stack}: declares its topology, its load test and a baseline`, async () => {
            const { processes, loads, leases, specOf, url, settings } = await declare(stack, readStackConfig(ROOT, stack));
            const names = processes.map((p) => p.inputs.spec.name).sort();
            const expected = ["flask-app", "slow-api", ...(settings.database ? ["postgres"] : []),
                ...(settings.ingress === "nginx" ? ["nginx"] : [])].sort();
            assert.deepEqual(names, expected);
            for (const p of processes) {
                assert.equal(p.type, "pulumi-nodejs:dynamic/local:Process");
                assert.ok(p.inputs.__provider, "a dynamic provider is attached");
                assert.equal(p.inputs.dir, path.join(ROOT, ".lab", stack, p.inputs.spec.name));
            }
            // No port in the config: each service leases its own, owned by the stack's run folder and the service.
            assert.deepEqual(leases.map((l) => l.inputs.owner).sort(), names.map((n) => path.join(ROOT, ".lab", stack, n)).sort());
            const portOf = (name: string) => specOf(name).port;
            assert.equal(new Set(names.map(portOf)).size, names.length, "one port each");
            const app = specOf("flask-app");
            assert.equal(app.env.PORT_API, String(portOf("slow-api")));
            const entryPort = portOf(settings.ingress === "nginx" ? "nginx" : "flask-app");
            assert.equal(url, `http://127.0.0.1:${entryPort}/`);
            assert.equal(loads.length, 2);
            const load = loads.find((l) => l.inputs.expectBody.startsWith("Hi there"))!;
            assert.equal(load.inputs.url, `http://127.0.0.1:${entryPort}/?delay=1`);
            assert.equal(load.inputs.requests, settings.load.requests);
            assert.equal(load.inputs.concurrency, settings.load.concurrency);
            const baseline = loads.find((l) => l.inputs.expectBody === "slow api response")!;
            assert.equal(baseline.inputs.url, `http://127.0.0.1:${portOf("slow-api")}/?delay=1`);
        });
    }

    it("runs each server mode's own command", async () => {
        const argv0 = async (stack: string) => (await declare(stack, readStackConfig(ROOT, stack))).specOf("flask-app").argv;
        assert.deepEqual((await argv0("devserver")).slice(0, 4), ["flask", "run", "--no-reload", "--without-threads"]);
        assert.deepEqual(await argv0("gevent-pywsgi"), ["python", "pywsgi.py"]);
        assert.ok((await argv0("gunicorn-gevent")).includes("gevent"));
        assert.deepEqual((await argv0("granian")).slice(0, 3), ["granian", "--interface", "wsgi"]);
        assert.equal((await argv0("waitress"))[0], "waitress-serve");
        assert.ok((await argv0("gunicorn-gthread")).join(" ").includes("--worker-class gthread"));
        assert.ok((await argv0("nginx-uwsgi")).join(" ").includes("--protocol uwsgi"));
    });

    it("wires nginx to the app with uwsgi_pass or proxy_pass", async () => {
        const uwsgi = await declare("nginx-uwsgi", readStackConfig(ROOT, "nginx-uwsgi"));
        const uwsgiConf = uwsgi.specOf("nginx").files["nginx.conf"];
        assert.match(uwsgiConf, /uwsgi_pass app;/);
        assert.ok(uwsgiConf.includes(`server 127.0.0.1:${uwsgi.specOf("flask-app").port};`));
        assert.equal(uwsgi.specOf("flask-app").ready.kind, "tcp");
        const proxy = await declare("nginx-gunicorn", readStackConfig(ROOT, "nginx-gunicorn"));
        assert.match(proxy.specOf("nginx").files["nginx.conf"], /proxy_pass http:\/\/app;/);
    });

    it("gives the psycopg2 app its database and the psycogreen entry point", async () => {
        const green = await declare("psycopg2-psycogreen", readStackConfig(ROOT, "psycopg2-psycogreen"));
        const app = green.specOf("flask-app");
        assert.match(app.cwd, /python-apps\/database_app$/);
        assert.equal(app.env.POSTGRES_PORT, String(green.specOf("postgres").port));
        assert.ok(app.argv.includes("patched:app"));
        const pg = green.specOf("postgres");
        assert.equal(pg.user, "postgres");
        assert.match(pg.setup[0][2], /initdb/);
        const blocking = await declare("psycopg2-blocking", readStackConfig(ROOT, "psycopg2-blocking"));
        assert.ok(blocking.specOf("flask-app").argv.includes("app:app"));
    });

    it("gives the psycopg 3 app its database and its own entry module: no psycogreen", async () => {
        const three = await declare("psycopg3", readStackConfig(ROOT, "psycopg3"));
        const app = three.specOf("flask-app");
        assert.match(app.cwd, /python-apps\/database_app$/);
        assert.equal(app.env.POSTGRES_PORT, String(three.specOf("postgres").port));
        assert.ok(app.argv.includes("psycopg3:app"));
        assert.equal(three.settings.databaseDriver, "psycopg3");
    });

    it("starts the app after what it calls, and loads the entry after the baseline", async () => {
        const { declared } = await declare("nginx-uwsgi", readStackConfig(ROOT, "nginx-uwsgi"));
        // Mocks see resources in declaration order, which is dependency order here.
        const order = declared.map((d) => d.inputs.spec?.name ?? d.inputs.expectBody).filter(Boolean);
        assert.deepEqual(order, ["slow-api", "flask-app", "nginx", "slow api response", "Hi there! slow api response"]);
        // Every process depends on the stack's process scope, which destroy deletes last.
        assert.equal(declared.filter((d) => d.type === "pulumi-nodejs:dynamic/local:Scope").length, 1);
    });

    it("skips the baseline when asked", async () => {
        const { loads } = await declare("dev", { baseline: "false" });
        assert.equal(loads.length, 1);
    });
});

describe("scenario stacks on the docker platform (Pulumi mocks)", () => {
    async function declareDocker(stack: string, config: Record<string, string>) {
        const declared: Declared[] = [];
        await pulumi.runtime.setMocks({
            newResource(args) {
                const state = args.type === "docker:index/image:Image" ? { ...args.inputs, imageName: args.inputs.imageName } : mockState(args, declared);
                declared.push({ type: args.type, name: args.name, inputs: args.inputs });
                return { id: `${args.name}-id`, state };
            },
            call: (args) => args.inputs,
        }, "flask-gevent-lab", stack, false);
        const settings = resolveSettings((k) => config[k]);
        const platform = new DockerPlatform(stack, { network: settings.dockerNetwork });
        const scenario = new Scenario(stack, { settings, platform, driver: DRIVER, resultsDir: "/r" });
        await promiseOf(scenario.result);
        // The ports the mocked leases handed out, by service.
        let n = 0;
        const leased = Object.fromEntries(declared.filter((d) => d.type === LEASE).map((d) => [path.basename(d.inputs.owner), 20000 + n++]));
        const ports = { app: leased["flask-app"], api: leased["slow-api"], ingress: leased.nginx, postgres: leased.postgres };
        return { declared, settings, services: scenarioServices(settings, ports, platform.paths), ports };
    }

    for (const stack of listScenarios(ROOT)) {
        it(`${stack}: one container per service, from the project's images, wired by the tutorial's hostnames`, async () => {
            const { declared, settings, services, ports } = await declareDocker(stack, { ...readStackConfig(ROOT, stack), platform: "docker" });
            const containers = declared.filter((d) => d.type === "docker:index/container:Container");
            const images = declared.filter((d) => d.type === "docker:index/image:Image");
            const networks = declared.filter((d) => d.type === "docker:index/network:Network");
            assert.equal(networks.length, 1);
            assert.deepEqual(containers.map((c) => c.inputs.name).sort(), services.map((s) => `fgl-${stack}-${s.role.name}`).sort());
            for (const { role, spec } of services) {
                const c = containers.find((x) => x.inputs.name === `fgl-${stack}-${spec.name}`)!.inputs;
                const expected = containerSpec(stack, spec, imageFor(role.image, IMAGES), "bridge");
                assert.deepEqual(c.command, containerCommand(spec));
                assert.deepEqual(c.networksAdvanced, [{ name: `fgl-${stack}`, aliases: [expected.hostname] }]);
                assert.deepEqual(c.ports, [{ internal: spec.port, external: spec.port, ip: "127.0.0.1" }]);
                assert.deepEqual(c.envs.sort(), Object.entries(spec.env).map(([k, v]) => `${k}=${v}`).sort());
                assert.equal(c.wait, true);
                assert.equal(c.stopSignal, spec.stopSignal);
                if (spec.name === "nginx") assert.match(c.uploads[0].content, new RegExp(`listen 0\\.0\\.0\\.0:${ports.ingress};`));
                if (spec.name === "postgres") assert.equal(c.image, "postgres:15");
            }
            const apps = ["slow_api", settings.database ? "database_app" : "flask_app"];
            assert.deepEqual(images.map((i) => i.inputs.build.args.APP).sort(), apps.sort());
            for (const i of images) {
                assert.equal(i.inputs.build.args.PYTHON_IMAGE, "python:3.11-slim");
                assert.equal(i.inputs.build.dockerfile, path.join(ROOT, "python-apps", "Dockerfile"));
                assert.equal(i.inputs.skipPush, true);
            }
            const app = containers.find((x) => x.inputs.name === `fgl-${stack}-flask-app`)!.inputs;
            assert.ok(app.envs.includes("API_HOST=slow_api"));
        });
    }

    it("puts every container on the host network when asked (tests keep traffic on loopback)", async () => {
        const { declared, ports } = await declareDocker("nginx-uwsgi",
            { ...readStackConfig(ROOT, "nginx-uwsgi"), platform: "docker", dockerNetwork: "host" });
        const containers = declared.filter((d) => d.type === "docker:index/container:Container");
        assert.ok(containers.every((c) => c.inputs.networkMode === "host" && c.inputs.ports === undefined));
        assert.equal(declared.filter((d) => d.type === "docker:index/network:Network").length, 0);
        const nginx = containers.find((c) => c.inputs.name.endsWith("-nginx"))!;
        assert.ok(nginx.inputs.uploads[0].content.includes(`server 127.0.0.1:${ports.app};`));
    });
});
