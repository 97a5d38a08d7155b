// The seven ways the tutorial serves its Flask app, and three of 2026 beyond it
// (Gunicorn's gthread worker, Granian, Waitress), as data: each mode's defaults,
// its concurrency capacity, and the command line that runs it. Pure: every
// platform takes its argv from here.

export const SERVER_MODES = [
    "devserver",
    "devserver-threaded",
    "gevent-pywsgi",
    "gunicorn-sync",
    "gunicorn-gevent",
    "uwsgi-sync",
    "uwsgi-gevent",
    "gunicorn-gthread",
    "granian",
    "waitress",
] as const;

/** The modes the tutorial itself runs; the others are beyond it. */
export const TUTORIAL_MODES: readonly ServerMode[] = SERVER_MODES.slice(0, 7);

export type ServerMode = (typeof SERVER_MODES)[number];

export type Protocol = "http" | "uwsgi";

/** How one server mode runs, after defaults. */
export interface ServerShape {
    /** Worker processes (Gunicorn, uWSGI); 1 for the single-process servers. */
    workers: number;
    /** Threads per worker (sync Gunicorn and uWSGI, gthread, Granian's blocking threads, Waitress). */
    threads: number;
    /** Greenlets per worker (uWSGI --gevent N; Gunicorn's worker_connections). */
    asyncCores: number;
    /** Listen backlog (uWSGI --listen, Gunicorn/Granian/Waitress --backlog); 0: the server's own default (uWSGI 100, the others 1024-2048). */
    listen: number;
    /** Granian's requests in progress per worker, beyond which it stops reading; 0: its default (backlog / workers). */
    backpressure: number;
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
/** Granian's default backlog; its backpressure defaults to it over the workers. */
const GRANIAN_BACKLOG = 1024;
/** Waitress's default connection limit: channels it keeps open at once. */
const WAITRESS_CONNECTION_LIMIT = 100;
/** Granian holds at most its backpressure of requests per worker, and runs its blocking threads' worth of them. */
const granianPerWorker = (s: ServerShape) => Math.min(s.threads, s.backpressure || Math.floor((s.listen || GRANIAN_BACKLOG) / s.workers));

export const MODES: Record<ServerMode, ModeInfo> = {
    "devserver": {
        defaults: { workers: 1, threads: 1, asyncCores: 0, listen: 0, backpressure: 0 },
        capacity: () => 1,
        describe: () => "flask run --without-threads: 1 thread",
        gevent: false,
        tunable: [],
    },
    "devserver-threaded": {
        defaults: { workers: 1, threads: 0, asyncCores: 0, listen: 0, backpressure: 0 },
        capacity: () => Infinity,
        describe: () => "flask run --with-threads: a thread per request",
        gevent: false,
        tunable: [],
    },
    "gevent-pywsgi": {
        defaults: { workers: 1, threads: 0, asyncCores: 0, listen: 0, backpressure: 0 },
        capacity: () => Infinity,
        describe: () => "gevent.pywsgi.WSGIServer: a greenlet per request",
        gevent: true,
        tunable: [],
    },
    "gunicorn-sync": {
        defaults: { workers: 4, threads: 50, asyncCores: 0, listen: 0, backpressure: 0 },
        capacity: (s) => s.workers * s.threads,
        describe: (s) => `gunicorn: ${s.workers} workers x ${s.threads} threads`,
        gevent: false,
        tunable: ["workers", "threads", "listen"],
    },
    "gunicorn-gevent": {
        defaults: { workers: 1, threads: 0, asyncCores: GUNICORN_WORKER_CONNECTIONS, listen: 0, backpressure: 0 },
        capacity: (s) => s.workers * s.asyncCores,
        describe: (s) => `gunicorn -k gevent: ${s.workers} worker(s) x ${s.asyncCores} connections`,
        gevent: true,
        tunable: ["workers", "asyncCores", "listen"],
    },
    "uwsgi-sync": {
        defaults: { workers: 4, threads: 50, asyncCores: 0, listen: 0, backpressure: 0 },
        capacity: (s) => s.workers * s.threads,
        describe: (s) => `uwsgi: ${s.workers} workers x ${s.threads} threads`,
        gevent: false,
        tunable: ["workers", "threads", "listen"],
    },
    "uwsgi-gevent": {
        defaults: { workers: 2, threads: 0, asyncCores: 2000, listen: 0, backpressure: 0 },
        capacity: (s) => s.workers * s.asyncCores,
        describe: (s) => `uwsgi --gevent: ${s.workers} worker(s) x ${s.asyncCores} async cores`,
        gevent: true,
        tunable: ["workers", "asyncCores", "listen"],
    },
    // Beyond the tutorial: the pools sized as its thread servers' (200 requests at once), so the rows compare.
    "gunicorn-gthread": {
        defaults: { workers: 4, threads: 50, asyncCores: 0, listen: 0, backpressure: 0 },
        capacity: (s) => s.workers * s.threads,
        describe: (s) => `gunicorn -k gthread: ${s.workers} workers x ${s.threads} threads`,
        gevent: false,
        tunable: ["workers", "threads", "listen"],
    },
    "granian": {
        defaults: { workers: 2, threads: 100, asyncCores: 0, listen: 0, backpressure: 0 },
        capacity: (s) => s.workers * granianPerWorker(s),
        describe: (s) => `granian --interface wsgi: ${s.workers} worker(s) x ${s.threads} blocking threads` +
            (s.backpressure ? `, backpressure ${s.backpressure}` : ""),
        gevent: false,
        tunable: ["workers", "threads", "listen", "backpressure"],
    },
    "waitress": {
        defaults: { workers: 1, threads: 200, asyncCores: 0, listen: 0, backpressure: 0 },
        capacity: (s) => s.threads,
        describe: (s) => `waitress: ${s.threads} threads behind one accept loop`,
        gevent: false,
        tunable: ["threads", "listen"],
    },
};

/**
 * The most req/s the app's CPU allows when each request burns `appCpuMs` of it: a process holds one GIL, so it
 * runs one request's Python at a time, and `processes` of them share `cores`. Infinity when nothing is burned.
 */
export function cpuLimitRps(appCpuMs: number, processes: number, cores: number): number {
    return appCpuMs > 0 ? Math.min(processes, cores) * 1000 / appCpuMs : Infinity;
}

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
        case "gunicorn-gthread":
            return [bin(binDir, "gunicorn"), "--worker-class", "gthread", "--workers", String(shape.workers),
                "--threads", String(shape.threads), ...backlog("--backlog"), "--bind", bind, `${module}:app`];
        case "granian":
            return [bin(binDir, "granian"), "--interface", "wsgi", "--host", host, "--port", String(port),
                "--workers", String(shape.workers), "--blocking-threads", String(shape.threads), ...backlog("--backlog"),
                ...(shape.backpressure ? ["--backpressure", String(shape.backpressure)] : []), "--no-ws", `${module}:app`];
        case "waitress":
            // A pool larger than its connection limit would wait on channels it refuses to open.
            return [bin(binDir, "waitress-serve"), "--host", host, "--port", String(port), "--threads", String(shape.threads),
                "--connection-limit", String(Math.max(WAITRESS_CONNECTION_LIMIT, shape.threads)), ...backlog("--backlog"), `${module}:app`];
    }
}

/** The signal that stops a server and its workers at once (uWSGI's master reloads on SIGTERM). */
export function serverStopSignal(mode: ServerMode): NodeJS.Signals {
    return isUwsgi(mode) || mode.startsWith("gunicorn") ? "SIGINT" : "SIGTERM";
}

/** A problem with a server's settings: the field, what is wrong, and how a stack's config fixes it. */
export interface Problem {
    field: string;
    message: string;
    /** The stack-config fix, e.g. "pulumi config rm threads". */
    configFix: string;
}

/** What is asked of the Flask app's server; unset shape fields take the mode's seed defaults. */
export interface ServerRequest {
    serverMode: string;
    workers?: number;
    threads?: number;
    asyncCores?: number;
    listen?: number;
    backpressure?: number;
    protocol?: string;
    /** Serves a database app (which patches itself with gevent). */
    database: boolean;
    /** The database app's driver: "psycopg2" (the tutorial's) or "psycopg3"; absent: psycopg2. */
    databaseDriver?: string;
    psycogreen: boolean;
    /** Milliseconds of CPU each request burns in the handler; absent: none. */
    appCpuMs?: number;
}

export interface ResolvedServer {
    serverMode: ServerMode;
    shape: ServerShape;
    protocol: Protocol;
    /** The database app's driver (where there is a database). */
    databaseDriver: DatabaseDriver;
}

/** The database app's drivers: the tutorial's psycopg2 (gevent through psycogreen), and psycopg 3 (gevent-native). */
export const DATABASE_DRIVERS = ["psycopg2", "psycopg3"] as const;
export type DatabaseDriver = (typeof DATABASE_DRIVERS)[number];

function isDatabaseDriver(value: string): value is DatabaseDriver {
    return (DATABASE_DRIVERS as readonly string[]).includes(value);
}

const SHAPE_FIELDS = ["workers", "threads", "asyncCores", "listen", "backpressure"] as const;

/** The server with the seed's defaults applied, and every problem with the request (none: it is valid). */
export function resolveServer(req: ServerRequest): { server: ResolvedServer; problems: Problem[] } {
    const problems: Problem[] = [];
    const known = isServerMode(req.serverMode);
    if (!known) {
        problems.push({ field: "serverMode", message: `unknown server mode "${req.serverMode}"; valid: ${SERVER_MODES.join(", ")}`,
            configFix: "pulumi config set serverMode uwsgi-gevent" });
    }
    const serverMode: ServerMode = known ? req.serverMode as ServerMode : "uwsgi-gevent";
    const mode = MODES[serverMode];
    const shape: ServerShape = { ...mode.defaults };
    for (const field of SHAPE_FIELDS) {
        const value = req[field];
        if (value === undefined) continue;
        if (!mode.tunable.includes(field)) {
            problems.push({ field, message: `server mode ${serverMode} has no ${field} setting` +
                (mode.tunable.length ? ` (it takes: ${mode.tunable.join(", ")})` : ""), configFix: `pulumi config rm ${field}` });
        } else if (!Number.isInteger(value) || value < 1) {
            problems.push({ field, message: `"${value}" is not a whole number >= 1`,
                configFix: `pulumi config set ${field} ${mode.defaults[field] || 1}` });
        } else {
            shape[field] = value;
        }
    }
    if (serverMode === "granian" && shape.listen > 0 && shape.listen < 128) {
        problems.push({ field: "listen", message: `granian's backlog is at least 128, not ${shape.listen}`, configFix: "pulumi config set listen 128" });
    }
    const protocol = req.protocol ?? "http";
    if (protocol !== "http" && protocol !== "uwsgi") {
        problems.push({ field: "protocol", message: `unknown value "${protocol}"; valid: http, uwsgi`, configFix: "pulumi config set protocol http" });
    }
    if (protocol === "uwsgi" && !isUwsgi(serverMode)) {
        problems.push({ field: "protocol", message: `"uwsgi" needs a uWSGI server, not ${serverMode}`,
            configFix: "pulumi config set protocol http, or pulumi config set serverMode uwsgi-gevent" });
    }
    const databaseDriver = req.databaseDriver ?? "psycopg2";
    if (!(DATABASE_DRIVERS as readonly string[]).includes(databaseDriver)) {
        problems.push({ field: "databaseDriver", message: `unknown value "${databaseDriver}"; valid: ${DATABASE_DRIVERS.join(", ")}`,
            configFix: "pulumi config set databaseDriver psycopg3" });
    } else if (databaseDriver !== "psycopg2" && !req.database) {
        problems.push({ field: "databaseDriver", message: `${databaseDriver} is the database app's driver, but there is no database`,
            configFix: "pulumi config set database true" });
    }
    if (req.psycogreen && !req.database) {
        problems.push({ field: "psycogreen", message: "patches psycopg2, but there is no database", configFix: "pulumi config set database true" });
    }
    if (req.psycogreen && databaseDriver === "psycopg3") {
        problems.push({ field: "psycogreen", message: "patches psycopg2 only; psycopg 3 waits through gevent's hub by itself", configFix: "pulumi config rm psycogreen" });
    }
    const app = `the ${databaseDriver} app`;
    if (req.database && !mode.gevent) {
        problems.push({ field: "database", message: `${app} patches itself with gevent and needs a gevent server, not ${serverMode}`,
            configFix: "pulumi config set serverMode uwsgi-gevent" });
    }
    if (req.database && serverMode === "gevent-pywsgi") {
        problems.push({ field: "database", message: `${app} has no pywsgi entry point`, configFix: "pulumi config set serverMode uwsgi-gevent" });
    }
    if ((req.appCpuMs ?? 0) > 0 && req.database) {
        problems.push({ field: "appCpuMs", message: `${app} burns no CPU per request; only the plain app does`, configFix: "pulumi config rm appCpuMs" });
    }
    return {
        server: { serverMode, shape, protocol: protocol === "uwsgi" ? "uwsgi" : "http", databaseDriver: isDatabaseDriver(databaseDriver) ? databaseDriver : "psycopg2" },
        problems,
    };
}
