import { strict as assert } from "assert";
import { cpuLimitRps, MODES, resolveServer, SERVER_MODES, serverArgv, serverStopSignal, ServerMode, TUTORIAL_MODES } from "../../lib/serverModes";

const base = { protocol: "http" as const, host: "127.0.0.1", port: 3000, binDir: "/venv/bin", module: "patched" };
const argv = (mode: ServerMode, module = "patched") => serverArgv({ ...base, mode, shape: MODES[mode].defaults, module });

describe("server modes", () => {
    it("runs each mode with the tutorial's command line and defaults", () => {
        assert.deepEqual(argv("devserver", "app"),
            ["/venv/bin/flask", "run", "--no-reload", "--without-threads", "--host", "127.0.0.1", "--port", "3000"]);
        assert.deepEqual(argv("devserver-threaded", "app"),
            ["/venv/bin/flask", "run", "--no-reload", "--with-threads", "--host", "127.0.0.1", "--port", "3000"]);
        assert.deepEqual(argv("gevent-pywsgi"), ["/venv/bin/python", "pywsgi.py"]);
        assert.deepEqual(argv("gunicorn-sync", "app"),
            ["/venv/bin/gunicorn", "--workers", "4", "--threads", "50", "--bind", "127.0.0.1:3000", "app:app"]);
        assert.deepEqual(argv("gunicorn-gevent"),
            ["/venv/bin/gunicorn", "--worker-class", "gevent", "--workers", "1", "--worker-connections", "1000",
                "--bind", "127.0.0.1:3000", "patched:app"]);
        assert.deepEqual(argv("uwsgi-sync", "app"),
            ["/venv/bin/uwsgi", "--master", "--workers", "4", "--threads", "50", "--protocol", "http",
                "--socket", "127.0.0.1:3000", "--module", "app:app"]);
        assert.deepEqual(argv("uwsgi-gevent"),
            ["/venv/bin/uwsgi", "--master", "--single-interpreter", "--workers", "2", "--gevent", "2000",
                "--protocol", "http", "--socket", "127.0.0.1:3000", "--module", "patched:app"]);
    });

    it("uses executables from PATH when no folder is given (containers)", () => {
        const a = serverArgv({ ...base, binDir: "", mode: "uwsgi-gevent", shape: MODES["uwsgi-gevent"].defaults });
        assert.equal(a[0], "uwsgi");
    });

    it("passes the uwsgi protocol through to uWSGI", () => {
        const a = serverArgv({ ...base, protocol: "uwsgi", mode: "uwsgi-gevent", shape: { workers: 1, threads: 0, asyncCores: 2000, listen: 0, backpressure: 0 } });
        assert.deepEqual(a.slice(a.indexOf("--protocol"), a.indexOf("--protocol") + 2), ["--protocol", "uwsgi"]);
        assert.equal(a[a.indexOf("--workers") + 1], "1");
    });

    it("runs the servers beyond the tutorial with pools the size of its thread servers' (200 at once)", () => {
        assert.deepEqual(argv("gunicorn-gthread", "app"),
            ["/venv/bin/gunicorn", "--worker-class", "gthread", "--workers", "4", "--threads", "50", "--bind", "127.0.0.1:3000", "app:app"]);
        assert.deepEqual(argv("granian", "app"),
            ["/venv/bin/granian", "--interface", "wsgi", "--host", "127.0.0.1", "--port", "3000", "--workers", "2",
                "--blocking-threads", "100", "--no-ws", "app:app"]);
        assert.deepEqual(argv("waitress", "app"),
            ["/venv/bin/waitress-serve", "--host", "127.0.0.1", "--port", "3000", "--threads", "200", "--connection-limit", "200", "app:app"]);
        assert.deepEqual(SERVER_MODES.filter((m) => !TUTORIAL_MODES.includes(m)), ["gunicorn-gthread", "granian", "waitress"]);
        for (const mode of ["gunicorn-gthread", "granian", "waitress"] as const) {
            assert.equal(MODES[mode].capacity(MODES[mode].defaults), 200, mode);
            assert.equal(MODES[mode].gevent, false, `${mode} runs the unpatched app`);
        }
    });

    it("limits the app's req/s by its CPU: one request's handler at a time per process, the processes over the cores", () => {
        assert.equal(cpuLimitRps(20, 1, 2), 50);
        assert.equal(cpuLimitRps(20, 2, 2), 100);
        assert.equal(cpuLimitRps(20, 4, 2), 100, "more processes than cores share them");
        assert.equal(cpuLimitRps(0, 4, 2), Infinity);
    });

    it("holds Granian to the lower of its blocking threads and its backpressure, per worker", () => {
        const granian = (shape: Partial<typeof MODES.granian.defaults>) => MODES.granian.capacity({ ...MODES.granian.defaults, ...shape });
        assert.equal(granian({ backpressure: 30 }), 60, "2 workers x 30 requests let in");
        // Unset, backpressure is the backlog over the workers: 200 / 4 = 50 of each worker's 100 threads.
        assert.equal(granian({ workers: 4, listen: 200 }), 200);
        assert.equal(granian({ workers: 1, threads: 8 }), 8);
        const a = serverArgv({ ...base, mode: "granian", shape: { ...MODES.granian.defaults, backpressure: 30, listen: 512 } });
        assert.deepEqual(a.slice(a.indexOf("--backlog"), a.indexOf("--backlog") + 4), ["--backlog", "512", "--backpressure", "30"]);
    });

    it("refuses what a server beyond the tutorial has no setting for, naming the fix", () => {
        const problems = (serverMode: string, shape: Record<string, number>) =>
            resolveServer({ serverMode, ...shape, database: false, psycogreen: false }).problems.map((p) => `${p.field}: ${p.message} (${p.configFix})`);
        assert.deepEqual(problems("waitress", { workers: 2 }), ["workers: server mode waitress has no workers setting (it takes: threads, listen) (pulumi config rm workers)"]);
        assert.deepEqual(problems("granian", { listen: 64 }), ["listen: granian's backlog is at least 128, not 64 (pulumi config set listen 128)"]);
        assert.match(problems("uwsgi-gevent", { backpressure: 10 })[0], /^backpressure: server mode uwsgi-gevent has no backpressure setting/);
        assert.deepEqual(problems("granian", { workers: 3, threads: 20, backpressure: 10, listen: 128 }), []);
    });

    it("sets the listen backlog only when asked, with each server's own flag", () => {
        const shape = (mode: ServerMode) => ({ ...MODES[mode].defaults, listen: 4096 });
        const a = (mode: ServerMode) => serverArgv({ ...base, mode, shape: shape(mode) });
        assert.deepEqual(a("uwsgi-gevent").slice(a("uwsgi-gevent").indexOf("--listen"), a("uwsgi-gevent").indexOf("--listen") + 2), ["--listen", "4096"]);
        assert.ok(a("uwsgi-sync").includes("--listen"));
        assert.deepEqual(a("gunicorn-gevent").slice(a("gunicorn-gevent").indexOf("--backlog"), a("gunicorn-gevent").indexOf("--backlog") + 2), ["--backlog", "4096"]);
        assert.ok(a("gunicorn-sync").includes("--backlog"));
        assert.ok(!argv("uwsgi-gevent").includes("--listen"), "unset: uWSGI's own default");
    });

    it("knows each mode's capacity: Little's law needs it", () => {
        const cap = (m: ServerMode) => MODES[m].capacity(MODES[m].defaults);
        assert.equal(cap("devserver"), 1);
        assert.equal(cap("devserver-threaded"), Infinity);
        assert.equal(cap("gevent-pywsgi"), Infinity);
        assert.equal(cap("gunicorn-sync"), 200);
        assert.equal(cap("uwsgi-sync"), 200);
        assert.equal(cap("gunicorn-gevent"), 1000);
        assert.equal(cap("uwsgi-gevent"), 4000);
    });

    it("stops uWSGI with SIGINT: its master reloads on SIGTERM", () => {
        assert.equal(serverStopSignal("uwsgi-gevent"), "SIGINT");
        assert.equal(serverStopSignal("uwsgi-sync"), "SIGINT");
        assert.equal(serverStopSignal("devserver"), "SIGTERM");
    });

    it("has a description and defaults for every mode", () => {
        for (const mode of SERVER_MODES) {
            assert.ok(MODES[mode].describe(MODES[mode].defaults).length > 0);
            assert.ok(MODES[mode].defaults.workers >= 1);
        }
    });
});
