import { strict as assert } from "assert";
import { containerCommand, containerPaths, imageFor } from "../../lib/container";
import { flaskAppSpec, nginxSpec, postgresSpec, slowApiSpec } from "../../lib/services";
import { resolveSettings } from "../../lib/settings";

const settings = (config: Record<string, string>) => resolveSettings((k) => config[k]);
const images = { pythonImage: "python:3.11-slim", nginxImage: "nginx:1.27", postgresImage: "postgres:15" };

describe("services as containers", () => {
    it("names services by the tutorial's compose hostnames on a bridge network, loopback on the host's", () => {
        const s = settings({ database: "true" });
        const bridge = flaskAppSpec(s, containerPaths("bridge"));
        assert.equal(bridge.env.API_HOST, "slow_api");
        assert.equal(bridge.env.POSTGRES_HOST, "postgres");
        assert.equal(bridge.env.HOST, "0.0.0.0");
        assert.equal(flaskAppSpec(s, containerPaths("host")).env.API_HOST, "127.0.0.1");
        const nginx = nginxSpec(settings({ ingress: "nginx", protocol: "uwsgi" }), containerPaths("bridge"));
        assert.match(nginx.files["nginx.conf"], /uwsgi_pass uwsgi:\/\/flask_app:3000;/);
    });

    it("runs the same argv as the local platform, from PATH", () => {
        const spec = flaskAppSpec(settings({}), containerPaths("bridge"));
        assert.deepEqual(spec.argv.slice(0, 4), ["uwsgi", "--master", "--single-interpreter", "--workers"]);
        assert.equal(spec.cwd, "/srv/python-apps/flask_app");
    });

    it("builds the Python apps from python-apps/Dockerfile and uses nginx and PostgreSQL images as they are", () => {
        const s = settings({ database: "true", psycogreen: "true", ingress: "nginx" });
        const paths = containerPaths("bridge");
        assert.deepEqual(imageFor(slowApiSpec(s, paths), images),
            { kind: "build", name: "flask-gevent-lab/slow_api:latest", app: "slow_api", pythonImage: "python:3.11-slim" });
        assert.equal((imageFor(flaskAppSpec(s, paths), images) as { app: string }).app, "psycopg2_app");
        assert.deepEqual(imageFor(nginxSpec(s, paths), images), { kind: "external", name: "nginx:1.27" });
        assert.deepEqual(imageFor(postgresSpec(s, paths), images), { kind: "external", name: "postgres:15" });
    });

    it("prepares the service's folder, runs its setup, then execs the server", () => {
        const pg = postgresSpec(settings({ database: "true" }), containerPaths("bridge"));
        const [sh, c, script, name, ...argv] = containerCommand(pg);
        assert.deepEqual([sh, c, name], ["sh", "-c", "postgres"]);
        assert.deepEqual(argv, pg.argv);
        assert.match(script, /^\{ ulimit -n "\$\(ulimit -Hn\)" 2>\/dev\/null \|\| true; \} && mkdir -p '\/tmp\/lab\/postgres' && cd '\/tmp\/lab\/postgres' && 'sh' '-c' '.*initdb.*' && exec "\$@"$/);
    });
});
