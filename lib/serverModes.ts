// The seven ways the tutorial serves its Flask app, as data: each mode's
// seed defaults, its concurrency capacity, and the command line that runs it.
// Pure: the local and Docker platforms both take their argv from here.

export const SERVER_MODES = [
    "devserver",
    "devserver-threaded",
    "gevent-pywsgi",
    "gunicorn-sync",
    "gunicorn-gevent",
    "uwsgi-sync",
    "uwsgi-gevent",
] as const;

export type ServerMode = (typeof SERVER_MODES)[number];

export type Protocol = "http" | "uwsgi";

/** How one server mode runs, after defaults. */
export interface ServerShape {
    /** Worker processes (Gunicorn, uWSGI); 1 for the single-process servers. */
    workers: number;
    /** Threads per worker (sync Gunicorn and uWSGI). */
    threads: number;
    /** Greenlets per worker (uWSGI --gevent N; Gunicorn's worker_connections). */
    asyncCores: number;
    /** Listen backlog (uWSGI --listen, Gunicorn --backlog); 0: the server's own default (uWSGI 100, Gunicorn 2048). */
    listen: number;
}

interface ModeInfo {
    /** Seed defaults for the shape. */
    defaults: ServerShape;
    /** Requests the server can hold at once for a given shape; Infinity when it spawns per request. */
    capacity: (shape: ServerShape) => number;
    /** One line on what the server is, for reports. */
    describe: (shape: ServerShape) => string;
    /** Whether the mode runs the gevent-patched entry point. */
    gevent: boolean;
    /** Which shape fields the mode honours; others are rejected so a typo can't pass silently. */
    tunable: (keyof ServerShape)[];
}

/** Gunicorn's default worker_connections for async workers. */
const GUNICORN_WORKER_CONNECTIONS = 1000;

export const MODES: Record<ServerMode, ModeInfo> = {
    "devserver": {
        defaults: { workers: 1, threads: 1, asyncCores: 0, listen: 0 },
        capacity: () => 1,
        describe: () => "flask run --without-threads: 1 thread",
        gevent: false,
        tunable: [],
    },
    "devserver-threaded": {
        defaults: { workers: 1, threads: 0, asyncCores: 0, listen: 0 },
        capacity: () => Infinity,
        describe: () => "flask run --with-threads: a thread per request",
        gevent: false,
        tunable: [],
    },
    "gevent-pywsgi": {
        defaults: { workers: 1, threads: 0, asyncCores: 0, listen: 0 },
        capacity: () => Infinity,
        describe: () => "gevent.pywsgi.WSGIServer: a greenlet per request",
        gevent: true,
        tunable: [],
    },
    "gunicorn-sync": {
        defaults: { workers: 4, threads: 50, asyncCores: 0, listen: 0 },
        capacity: (s) => s.workers * s.threads,
        describe: (s) => `gunicorn: ${s.workers} workers x ${s.threads} threads`,
        gevent: false,
        tunable: ["workers", "threads", "listen"],
    },
    "gunicorn-gevent": {
        defaults: { workers: 1, threads: 0, asyncCores: GUNICORN_WORKER_CONNECTIONS, listen: 0 },
        capacity: (s) => s.workers * s.asyncCores,
        describe: (s) => `gunicorn -k gevent: ${s.workers} worker(s) x ${s.asyncCores} connections`,
        gevent: true,
        tunable: ["workers", "asyncCores", "listen"],
    },
    "uwsgi-sync": {
        defaults: { workers: 4, threads: 50, asyncCores: 0, listen: 0 },
        capacity: (s) => s.workers * s.threads,
        describe: (s) => `uwsgi: ${s.workers} workers x ${s.threads} threads`,
        gevent: false,
        tunable: ["workers", "threads", "listen"],
    },
    "uwsgi-gevent": {
        defaults: { workers: 2, threads: 0, asyncCores: 2000, listen: 0 },
        capacity: (s) => s.workers * s.asyncCores,
        describe: (s) => `uwsgi --gevent: ${s.workers} worker(s) x ${s.asyncCores} async cores`,
        gevent: true,
        tunable: ["workers", "asyncCores", "listen"],
    },
};

export function isServerMode(value: string): value is ServerMode {
    return (SERVER_MODES as readonly string[]).includes(value);
}

export function isUwsgi(mode: ServerMode): boolean {
    return mode.startsWith("uwsgi");
}

/** What the server command needs to know beyond the mode and its shape. */
export interface ServerCommandInput {
    mode: ServerMode;
    shape: ServerShape;
    protocol: Protocol;
    /** Address to bind (127.0.0.1 for local processes, 0.0.0.0 in containers). */
    host: string;
    port: number;
    /** Folder of the Python executables; "" when they are on PATH. */
    binDir: string;
    /** WSGI module of the app ("app" or "patched"). */
    module: string;
}

function bin(binDir: string, name: string): string {
    return binDir ? `${binDir}/${name}` : name;
}

/** The argv that starts `mode`; run from the app's folder. */
export function serverArgv(input: ServerCommandInput): string[] {
    const { mode, shape, protocol, host, port, binDir, module } = input;
    const bind = `${host}:${port}`;
    const backlog = (flag: string) => (shape.listen > 0 ? [flag, String(shape.listen)] : []);
    switch (mode) {
        case "devserver":
        case "devserver-threaded":
            return [bin(binDir, "flask"), "run", "--no-reload",
                mode === "devserver" ? "--without-threads" : "--with-threads",
                "--host", host, "--port", String(port)];
        case "gevent-pywsgi":
            return [bin(binDir, "python"), "pywsgi.py"];
        case "gunicorn-sync":
            return [bin(binDir, "gunicorn"), "--workers", String(shape.workers),
                "--threads", String(shape.threads), ...backlog("--backlog"), "--bind", bind, `${module}:app`];
        case "gunicorn-gevent":
            return [bin(binDir, "gunicorn"), "--worker-class", "gevent",
                "--workers", String(shape.workers), "--worker-connections", String(shape.asyncCores),
                ...backlog("--backlog"), "--bind", bind, `${module}:app`];
        case "uwsgi-sync":
            return [bin(binDir, "uwsgi"), "--master", "--workers", String(shape.workers),
                "--threads", String(shape.threads), ...backlog("--listen"), "--protocol", protocol,
                "--socket", bind, "--module", `${module}:app`];
        case "uwsgi-gevent":
            // --single-interpreter: gevent does not support uWSGI's sub-interpreters.
            return [bin(binDir, "uwsgi"), "--master", "--single-interpreter",
                "--workers", String(shape.workers), "--gevent", String(shape.asyncCores), ...backlog("--listen"),
                "--protocol", protocol, "--socket", bind, "--module", `${module}:app`];
    }
}

/** The signal that stops a server and its workers at once (uWSGI's master reloads on SIGTERM). */
export function serverStopSignal(mode: ServerMode): NodeJS.Signals {
    return isUwsgi(mode) || mode.startsWith("gunicorn") ? "SIGINT" : "SIGTERM";
}
