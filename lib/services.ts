// WHAT runs, as plain data: each service's argv, environment, port, files and
// readiness check. A platform (local processes, Docker) decides HOW. Pure.
import { CpuRole } from "./load/cpu";
import { renderNginxConf } from "./nginxConfig";
import { DatabaseDriver, MODES, Protocol, serverArgv, ServerMode, ServerShape, serverStopSignal } from "./serverModes";
import { Ports, Settings } from "./settings";

/** How to tell that a service is ready. */
export type Readiness =
    /** Any HTTP response to GET path. */
    | { kind: "http"; path: string }
    /** A TCP connection is accepted. */
    | { kind: "tcp" };

export interface ServiceSpec {
    /** Unique within a stack: slow-api, flask-app, nginx, postgres. */
    name: string;
    /** The command; argv[0] is a path or a name on PATH. */
    argv: string[];
    /** Environment beyond PATH/HOME/LANG. */
    env: Record<string, string>;
    /** Working directory. */
    cwd: string;
    /** The loopback port it listens on. */
    port: number;
    ready: Readiness;
    /** Stops the service and its children at once. */
    stopSignal: NodeJS.Signals;
    /** Files written into the service's run folder before it starts (name -> text). */
    files: Record<string, string>;
    /** Idempotent commands run before start, as the service's user. */
    setup: string[][];
    /** Unprivileged user to run as when started by root (PostgreSQL refuses root); "" for none. */
    user: string;
    /** Files whose content is part of what runs (sources, requirements): an edit redeploys the service. */
    code: string[];
    /** CPUs the service is pinned to (a taskset -c list); unset: any. */
    cpus?: string;
}

/** Where things are on the platform that runs the services. */
export interface PlatformPaths {
    /** Address services bind to. */
    bindHost: string;
    /** How other services reach service `name` (the tutorial's compose hostnames on a Docker bridge). */
    hostOf: (name: string) => string;
    /** Folder of the Python executables; "" for PATH. */
    pythonBin: string;
    /** Folder holding python-apps/'s app folders. */
    appsDir: string;
    /** Folder for one service's files (config, pid, data). */
    serviceDir: (service: string) => string;
    /** Folder of PostgreSQL's server programs (initdb, postgres); "" for PATH. */
    postgresBin: string;
    /** The nginx executable. */
    nginx: string;
    /** nginx's uwsgi_params file. */
    uwsgiParams: string;
}

/** What a service's container runs from: one of the project's Python app images, or nginx's or PostgreSQL's. */
export type ImageKind = { app: string } | "nginx" | "postgres";

/** A service's name (unique within a stack: its run folder, container and hostname), part and image. */
export interface ServiceRole {
    name: string;
    /** Which part of the topology it is: its CPU figures and Kubernetes CPU settings go by this. */
    kind: Exclude<CpuRole, "driver">;
    image: ImageKind;
    /** Copies behind one address (KubernetesPlatform); default 1. */
    replicas?: number;
}

/** The tutorial's names of its services. */
export const SERVICE_NAMES = { slowApi: "slow-api", flaskApp: "flask-app", nginx: "nginx", postgres: "postgres" };

/** The database the psycopg2 app uses (the tutorial's POSTGRES_USER/PASSWORD). */
export const DATABASE = { user: "example", password: "example", name: "example" };

/** Where one service reaches another on its platform. */
export interface Endpoint {
    host: string;
    port: number;
}

const SCHEMES = ["http:", "uwsgi:", "postgresql:"];

/** host and port of an http://, uwsgi:// or postgresql:// URL; throws a clear error on anything else. */
export function endpointOf(url: string, what: string): Endpoint {
    let parsed: URL;
    try {
        parsed = new URL(url);
    } catch {
        throw new Error(`${what}: "${url}" is not a URL (expected e.g. http://127.0.0.1:4000/)`);
    }
    if (!SCHEMES.includes(parsed.protocol) || !parsed.port) {
        throw new Error(`${what}: "${url}" needs a scheme (${SCHEMES.map((s) => s.slice(0, -1)).join(", ")}) and a port`);
    }
    return { host: parsed.hostname, port: Number(parsed.port) };
}

/** The URL scheme of a server speaking `protocol`. */
export function schemeOf(protocol: Protocol): string {
    return protocol === "uwsgi" ? "uwsgi" : "http";
}

const pyEnv = { PYTHONUNBUFFERED: "1" };

/** Python sources of an app folder, and the requirements the virtualenv was built from. */
function pythonCode(p: PlatformPaths, app: string): string[] {
    return [`${p.appsDir}/${app}`, `${p.appsDir}/requirements.txt`];
}

export function slowApiSpec(name: string, port: number, p: PlatformPaths): ServiceSpec {
    return {
        name,
        argv: [pathIn(p.pythonBin, "python"), "api.py"],
        env: { ...pyEnv, HOST: p.bindHost, PORT: String(port) },
        cwd: `${p.appsDir}/slow_api`,
        port,
        ready: { kind: "http", path: "/?delay=0" },
        stopSignal: "SIGTERM",
        files: {},
        setup: [],
        user: "",
        code: pythonCode(p, "slow_api"),
    };
}

/** What the Flask app's server needs, all values resolved. */
export interface FlaskAppParams {
    serverMode: ServerMode;
    shape: ServerShape;
    protocol: Protocol;
    port: number;
    /** The slow API, as the app reaches it. */
    upstream: Endpoint;
    /** PostgreSQL, as the app reaches it: serves the database app of databaseDriver instead of the plain one. */
    database?: Endpoint;
    /** The database app's driver. */
    databaseDriver: DatabaseDriver;
    /** Patch psycopg2 with psycogreen (needs database). */
    psycogreen: boolean;
    /** Milliseconds of CPU each request burns in the handler; 0: none. */
    appCpuMs: number;
}

/** The python-apps/ folder of the app: the database app where there is a database. */
export function flaskAppFolder(database: boolean): string {
    return database ? "database_app" : "flask_app";
}

/** The app's entry module: the database driver's (psycogreen's patch first where asked); the plain app's patched one for a gevent server. */
function entryModule(a: FlaskAppParams): string {
    if (a.database) return a.databaseDriver === "psycopg3" ? "psycopg3" : a.psycogreen ? "patched" : "app";
    return MODES[a.serverMode].gevent ? "patched" : "app";
}

export function flaskAppSpec(name: string, a: FlaskAppParams, p: PlatformPaths): ServiceSpec {
    const appFolder = flaskAppFolder(a.database !== undefined);
    const module = entryModule(a);
    const env: Record<string, string> = {
        ...pyEnv,
        HOST: p.bindHost,
        PORT_APP: String(a.port),
        PORT_API: String(a.upstream.port),
        API_HOST: a.upstream.host,
        FLASK_APP: "app",
    };
    if (a.appCpuMs > 0) env.APP_CPU_MS = String(a.appCpuMs);
    if (a.database) {
        env.POSTGRES_HOST = a.database.host;
        env.POSTGRES_PORT = String(a.database.port);
    }
    return {
        name,
        argv: serverArgv({
            mode: a.serverMode, shape: a.shape, protocol: a.protocol, host: p.bindHost,
            port: a.port, binDir: p.pythonBin, module,
        }),
        env,
        cwd: `${p.appsDir}/${appFolder}`,
        port: a.port,
        // The uwsgi protocol answers no HTTP; a TCP accept is all it can show.
        ready: a.protocol === "uwsgi" ? { kind: "tcp" } : { kind: "http", path: "/?delay=0" },
        stopSignal: serverStopSignal(a.serverMode),
        files: {},
        setup: [],
        user: "",
        code: pythonCode(p, appFolder),
    };
}

/** What nginx needs, all values resolved. */
export interface NginxParams {
    port: number;
    /** The app servers it balances across, as nginx reaches them. */
    upstreams: Endpoint[];
    /** What the upstreams speak: proxy_pass for http, uwsgi_pass for uwsgi. */
    protocol: Protocol;
}

export function nginxSpec(name: string, a: NginxParams, p: PlatformPaths): ServiceSpec {
    const dir = p.serviceDir(name);
    return {
        name,
        argv: [p.nginx, "-p", dir, "-c", `${dir}/nginx.conf`, "-g", "daemon off;"],
        env: {},
        cwd: dir,
        port: a.port,
        ready: { kind: "http", path: "/?delay=0" },
        stopSignal: "SIGTERM",
        files: {
            "nginx.conf": renderNginxConf({
                listenHost: p.bindHost,
                listenPort: a.port,
                upstreams: a.upstreams,
                protocol: a.protocol,
                prefix: dir,
                uwsgiParams: p.uwsgiParams,
            }),
        },
        setup: [],
        user: "",
        // The rendered config is in `files`: a template edit changes it.
        code: [],
    };
}

export function postgresSpec(name: string, port: number, p: PlatformPaths): ServiceSpec {
    const dir = p.serviceDir(name);
    const data = `${dir}/data`;
    // initdb's trust entries admit loopback only; on a bridge network the app connects from its own
    // container: admit the networks PostgreSQL's container is on (samenet) too.
    const network = p.bindHost === "0.0.0.0" ? ` && echo 'host all all samenet trust' >>'${data}/pg_hba.conf'` : "";
    // initdb, then the app's database through single-user mode: no server needs to be up yet.
    const init = `[ -s '${data}/PG_VERSION' ] || { '${pathIn(p.postgresBin, "initdb")}' -D '${data}' ` +
        `-U ${DATABASE.user} --auth=trust --no-sync >/dev/null && ` +
        `echo 'CREATE DATABASE ${DATABASE.name}' | '${pathIn(p.postgresBin, "postgres")}' --single -D '${data}' postgres >/dev/null${network}; }`;
    return {
        name,
        argv: [pathIn(p.postgresBin, "postgres"), "-D", data, "-p", String(port), "-k", dir,
            "-c", `listen_addresses=${p.bindHost === "0.0.0.0" ? "*" : p.bindHost}`,
            // One connection per in-flight request: room for the load's clients.
            "-c", "max_connections=500"],
        env: {},
        cwd: dir,
        port,
        ready: { kind: "tcp" },
        stopSignal: "SIGINT",
        files: {},
        setup: [["sh", "-c", init]],
        user: "postgres",
        code: [],
    };
}

function pathIn(dir: string, name: string): string {
    return dir ? `${dir}/${name}` : name;
}

/**
 * Every service of one of the tutorial's scenarios with all ports fixed, in start order: what the
 * Scenario component declares, as plain data for the Docker suite, which runs containers without Pulumi.
 */
export function scenarioServices(s: Settings, ports: Required<Ports>, p: PlatformPaths): { role: ServiceRole; spec: ServiceSpec }[] {
    const N = SERVICE_NAMES;
    const at = (name: string, port: number): Endpoint => ({ host: p.hostOf(name), port });
    const app = flaskAppSpec(N.flaskApp, {
        serverMode: s.serverMode, shape: s.shape, protocol: s.protocol, port: ports.app,
        upstream: at(N.slowApi, ports.api), database: s.database ? at(N.postgres, ports.postgres) : undefined, databaseDriver: s.databaseDriver,
        psycogreen: s.psycogreen, appCpuMs: s.appCpuMs,
    }, p);
    return [
        ...(s.database ? [{ role: { name: N.postgres, kind: "postgres" as const, image: "postgres" as const }, spec: postgresSpec(N.postgres, ports.postgres, p) }] : []),
        { role: { name: N.slowApi, kind: "upstream" as const, image: { app: "slow_api" } }, spec: slowApiSpec(N.slowApi, ports.api, p) },
        { role: { name: N.flaskApp, kind: "app" as const, image: { app: flaskAppFolder(s.database) } }, spec: app },
        ...(s.ingress === "nginx"
            ? [{ role: { name: N.nginx, kind: "ingress" as const, image: "nginx" as const }, spec: nginxSpec(N.nginx, { port: ports.ingress, upstreams: [at(N.flaskApp, ports.app)], protocol: s.protocol }, p) }]
            : []),
    ];
}
