import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { ConfigError, DEFAULTS, resolveSettings, serverCapacity } from "../../lib/settings";
import { listScenarios, readStackConfig } from "../../lib/stacks";

const ROOT = path.join(__dirname, "..", "..");

const resolve = (config: Record<string, string>) => resolveSettings((k) => config[k]);
const problemsOf = (config: Record<string, string>): string[] => {
    try {
        resolve(config);
    } catch (e) {
        assert.ok(e instanceof ConfigError, String(e));
        return (e as ConfigError).problems;
    }
    assert.fail("expected a ConfigError");
};

describe("settings", () => {
    it("defaults to the tutorial's uWSGI + gevent playground and load", () => {
        const s = resolve({});
        assert.equal(s.serverMode, "uwsgi-gevent");
        assert.deepEqual(s.shape, { workers: 2, threads: 0, asyncCores: 2000, listen: 0, backpressure: 0 });
        assert.deepEqual([s.load.requests, s.load.concurrency, s.load.delay], [2000, 200, 1]);
        // No port unless the config fixes one: each service leases a free port.
        assert.deepEqual(s.ports, { app: undefined, api: undefined, ingress: undefined, postgres: undefined });
        assert.equal(s.platform, "local");
    });

    it("applies each mode's seed shape, and overrides of what the mode takes", () => {
        assert.deepEqual(resolve({ serverMode: "gunicorn-sync" }).shape, { workers: 4, threads: 50, asyncCores: 0, listen: 0, backpressure: 0 });
        assert.deepEqual(resolve({ serverMode: "uwsgi-gevent", workers: "1", listen: "4096" }).shape,
            { workers: 1, threads: 0, asyncCores: 2000, listen: 4096, backpressure: 0 });
        assert.equal(serverCapacity(resolve({ serverMode: "gunicorn-sync", workers: "2", threads: "10" })), 20);
    });

    it("names the valid server modes when given an unknown one", () => {
        const [problem] = problemsOf({ serverMode: "uwsgi-turbo" });
        assert.match(problem, /serverMode: unknown server mode "uwsgi-turbo"/);
        assert.match(problem, /devserver, devserver-threaded, gevent-pywsgi, gunicorn-sync, gunicorn-gevent, uwsgi-sync, uwsgi-gevent/);
    });

    it("refuses non-positive and non-integer counts", () => {
        assert.match(problemsOf({ serverMode: "gunicorn-sync", workers: "-2" })[0], /workers: "-2" is not a whole number >= 1/);
        assert.match(problemsOf({ serverMode: "gunicorn-sync", threads: "0" })[0], /threads: "0"/);
        assert.match(problemsOf({ loadRequests: "1.5" })[0], /loadRequests/);
        assert.match(problemsOf({ loadDelay: "-1" })[0], /loadDelay/);
    });

    it("refuses a setting the server mode does not have", () => {
        assert.match(problemsOf({ serverMode: "uwsgi-gevent", threads: "8" })[0], /threads: server mode uwsgi-gevent has no threads setting/);
        assert.match(problemsOf({ serverMode: "devserver", workers: "2" })[0], /devserver has no workers/);
        assert.match(problemsOf({ serverMode: "gevent-pywsgi", listen: "4096" })[0], /gevent-pywsgi has no listen setting/);
    });

    it("refuses impossible combinations, naming the fix", () => {
        assert.match(problemsOf({ serverMode: "gunicorn-gevent", protocol: "uwsgi", ingress: "nginx" })[0],
            /protocol: "uwsgi" needs a uWSGI server/);
        assert.match(problemsOf({ protocol: "uwsgi" })[0], /pulumi config set ingress nginx/);
        assert.match(problemsOf({ psycogreen: "true" })[0], /psycogreen: .*no database.*pulumi config set database true/);
        assert.match(problemsOf({ database: "true", serverMode: "gunicorn-sync" })[0], /the psycopg2 app patches itself with gevent and needs a gevent server/);
        assert.match(problemsOf({ database: "true", databaseDriver: "psycopg3", serverMode: "waitress" })[0],
            /database: the psycopg3 app patches itself with gevent and needs a gevent server, not waitress/);
        assert.match(problemsOf({ database: "true", databaseDriver: "psycopg4" })[0],
            /databaseDriver: unknown value "psycopg4"; valid: psycopg2, psycopg3 \(fix: pulumi config set databaseDriver psycopg3\)/);
        assert.match(problemsOf({ databaseDriver: "psycopg3" })[0], /databaseDriver: psycopg3 is the database app's driver, but there is no database.*set database true/);
        assert.match(problemsOf({ database: "true", databaseDriver: "psycopg3", psycogreen: "true" })[0],
            /psycogreen: patches psycopg2 only; psycopg 3 waits through gevent's hub by itself \(fix: pulumi config rm psycogreen\)/);
        assert.equal(resolve({ database: "true", databaseDriver: "psycopg3" }).databaseDriver, "psycopg3");
        assert.match(problemsOf({ appPort: "4000", apiPort: "4000" })[0], /apiPort: 4000 is also appPort/);
        assert.match(problemsOf({ loadRequests: "10", loadConcurrency: "20" })[0], /loadConcurrency: 20 clients for 10 requests/);
        assert.match(problemsOf({ appPort: "70000" })[0], /not a TCP port/);
        assert.match(problemsOf({ loadKeepAlive: "true" })[0], /loadKeepAlive: uWSGI's HTTP socket closes every connection.*pulumi config set ingress nginx/);
        assert.equal(resolve({ loadKeepAlive: "true", ingress: "nginx" }).load.keepAlive, true, "nginx keeps the clients' connections");
        assert.equal(resolve({ loadKeepAlive: "true", serverMode: "granian" }).load.keepAlive, true);
        assert.match(problemsOf({ appCpuMs: "-1" })[0], /appCpuMs: "-1" is not a number >= 0 \(fix: pulumi config set appCpuMs 0/);
        assert.match(problemsOf({ appCpuMs: "lots" })[0], /appCpuMs: "lots" is not a number/);
        assert.match(problemsOf({ appCpuMs: "5", database: "true" })[0], /appCpuMs: the psycopg2 app burns no CPU.*pulumi config rm appCpuMs/);
        assert.equal(resolveSettings((k) => ({ appCpuMs: "2.5" } as Record<string, string>)[k]).appCpuMs, 2.5);
        assert.match(problemsOf({ slowClients: "4" })[0], /slowClients: loadDriver auto picks ab where k6 is not installed, and ab gives up .*pulumi config set loadDriver oha/);
        assert.match(problemsOf({ slowClients: "4", loadDriver: "ab" })[0], /slowClients: ab gives up its whole run/);
        assert.equal(resolve({ slowClients: "4", loadDriver: "oha" }).load.slowClients, 4);
        assert.match(problemsOf({ slowClients: "-1", loadDriver: "oha" })[0], /slowClients: "-1" is not a whole number >= 0 \(fix: pulumi config set slowClients 0\)/);
        assert.match(problemsOf({ slowClients: "2001", loadDriver: "oha" })[0], /slowClients: 2001 is more than 2000.*pulumi config set slowClients 2000/);
        assert.ok(problemsOf({ slowClients: "4", loadDriver: "ab", platform: "kubernetes" })
            .some((p) => /slowClients: they are held from this machine.*pulumi config rm slowClients/.test(p)));
        assert.match(problemsOf({ platform: "swarm" })[0], /platform: unknown value "swarm"; valid: local, docker, kubernetes/);
        assert.match(problemsOf({ database: "yes" })[0], /database: "yes" is not true or false/);
    });

    it("refuses fewer than one run and a warm-up that is not whole seconds, naming the fix", () => {
        assert.match(problemsOf({ loadRepeats: "0" })[0], /loadRepeats: "0" is not a whole number >= 1 \(fix: pulumi config set loadRepeats 1\)/);
        assert.match(problemsOf({ loadWarmupSeconds: "0.5" })[0], /loadWarmupSeconds: "0\.5" is not a whole number >= 0/);
        assert.deepEqual([resolve({ loadRepeats: "3" }).load.repeats, resolve({}).load.warmupSeconds], [3, 3]);
    });

    it("reports every problem at once", () => {
        assert.equal(problemsOf({ serverMode: "nope", loadRequests: "0", ingress: "traefik" }).length, 3);
    });

    /** Pulumi.yaml's defaults, as Pulumi sets them in every stack's config. */
    function projectDefaults(): Map<string, string> {
        const yaml = fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8");
        const declared = new Map<string, string>();
        for (const m of yaml.matchAll(/^ {2}(\w+):\n {4}type: \w+\n {4}default: (.*)$/gm)) declared.set(m[1], m[2].replace(/^"(.*)"$/, "$1"));
        return declared;
    }

    it("takes every scenario's stack as Pulumi gives it: its file over the project's defaults", () => {
        for (const stack of listScenarios(ROOT)) {
            const config = { ...Object.fromEntries(projectDefaults()), ...readStackConfig(ROOT, stack) };
            assert.doesNotThrow(() => resolveSettings((k) => config[k]), stack);
        }
    });

    it("declares in Pulumi.yaml the same defaults as the code", () => {
        const yaml = fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8");
        const declared = projectDefaults();
        for (const [key, value] of Object.entries(DEFAULTS)) {
            assert.equal(declared.get(key), String(value), `Pulumi.yaml default of ${key}`);
        }
        assert.equal(declared.size, Object.keys(DEFAULTS).length, "Pulumi.yaml declares a default the code lacks");
        // The types Pulumi's project schema takes (a number is a string here: "number" fails every command).
        for (const m of yaml.matchAll(/^ {2}(\w+):\n {4}type: (\w+)$/gm)) {
            assert.ok(["string", "integer", "boolean", "array", "object"].includes(m[2]), `Pulumi.yaml: ${m[1]} has type ${m[2]}`);
        }
    });
});
