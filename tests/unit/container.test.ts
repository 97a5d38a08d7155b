import { strict as assert } from "assert";
import { containerCommand, containerPaths, imageFor } from "../../lib/container";
import { scenarioServices, ServiceSpec } from "../../lib/services";
import { resolveSettings } from "../../lib/settings";

const PORTS = { app: 3000, api: 4000, ingress: 8080, postgres: 5433 };
const settings = (config: Record<string, string>) => resolveSettings((k) => config[k]);
/** The scenario's service `name` (slow-api, flask-app, nginx, postgres) on `paths`. */
const service = (config: Record<string, string>, name: string, paths = containerPaths("bridge")) =>
    scenarioServices(settings(config), PORTS, paths).find((s) => s.role.name === name)!;
const specOf = (config: Record<string, string>, name: string, paths = containerPaths("bridge")): ServiceSpec => service(config, name, paths).spec;
const images = { pythonImage: "python:3.11-slim", nginxImage: "nginx:1.27", postgresImage: "postgres:15" };

describe("services as containers", () => {
    it("names services by the tutorial's compose hostnames on a bridge network, loopback on the host's", () => {
        const bridge = specOf({ database: "true" }, "flask-app");
        assert.equal(bridge.env.API_HOST, "slow_api");
        assert.equal(bridge.env.POSTGRES_HOST, "postgres");
        assert.equal(bridge.env.HOST, "0.0.0.0");
        assert.equal(specOf({ database: "true" }, "flask-app", containerPaths("host")).env.API_HOST, "127.0.0.1");
        const nginx = specOf({ ingress: "nginx", protocol: "uwsgi" }, "nginx");
        assert.match(nginx.files["nginx.conf"], /server flask_app:3000;/);
    });

    it("runs the same argv as the local platform, from PATH", () => {
        const spec = specOf({}, "flask-app");
        assert.deepEqual(spec.argv.slice(0, 4), ["uwsgi", "--master", "--single-interpreter", "--workers"]);
        assert.equal(spec.cwd, "/srv/python-apps/flask_app");
    });

    it("builds the Python apps from python-apps/Dockerfile and uses nginx and PostgreSQL images as they are", () => {
        const c = { database: "true", psycogreen: "true", ingress: "nginx" };
        assert.deepEqual(imageFor(service(c, "slow-api").role.image, images),
            { kind: "build", name: "flask-gevent-lab/slow_api:latest", app: "slow_api", pythonImage: "python:3.11-slim" });
        assert.equal((imageFor(service(c, "flask-app").role.image, images) as { app: string }).app, "database_app");
        assert.deepEqual(imageFor(service(c, "nginx").role.image, images), { kind: "external", name: "nginx:1.27" });
        assert.deepEqual(imageFor(service(c, "postgres").role.image, images), { kind: "external", name: "postgres:15" });
    });

    it("prepares the service's folder, runs its setup, then execs the server", () => {
        const pg = specOf({ database: "true" }, "postgres");
        const [sh, c, script, name, ...argv] = containerCommand(pg);
        assert.deepEqual([sh, c, name], ["sh", "-c", "postgres"]);
        assert.deepEqual(argv, pg.argv);
        assert.match(script, /^\{ ulimit -n "\$\(ulimit -Hn\)" 2>\/dev\/null \|\| true; \} && mkdir -p '\/tmp\/lab\/postgres' && cd '\/tmp\/lab\/postgres' && 'sh' '-c' '.*initdb.*' && exec "\$@"$/);
    });

    it("lets PostgreSQL admit the app's container on a bridge network, and only loopback on the host's", () => {
        // initdb --auth=trust admits loopback only: on a bridge the app connects from its container's address.
        const init = (paths: ReturnType<typeof containerPaths>) => specOf({ database: "true" }, "postgres", paths).setup.flat().join(" ");
        assert.match(init(containerPaths("bridge")), /initdb.*&& echo 'host all all samenet trust' >>'\/tmp\/lab\/postgres\/data\/pg_hba\.conf'; \}$/);
        assert.doesNotMatch(init(containerPaths("host")), /pg_hba/);
    });
});
