// WHAT runs, as plain data: each service's argv, environment, port, files and
// readiness check. A platform (local processes, Docker) decides HOW. Pure.
import { renderNginxConf } from "./nginxConfig";
import { MODES, serverArgv, serverStopSignal } from "./serverModes";
import { Settings } from "./settings";

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
}

/** Where things are on the platform that runs the services. */
export interface PlatformPaths {
    /** Address services bind to. */
    bindHost: string;
    /** How one service reaches another, by service name (the tutorial's compose hostnames on Docker). */
    hostOf: (service: "slow_api" | "flask_app" | "postgres") => string;
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

/** The database the psycopg2 app uses (the tutorial's POSTGRES_USER/PASSWORD). */
export const DATABASE = { user: "example", password: "example", name: "example" };

const pyEnv = { PYTHONUNBUFFERED: "1" };

export function slowApiSpec(s: Settings, p: PlatformPaths): ServiceSpec {
    return {
        name: "slow-api",
        argv: [pathIn(p.pythonBin, "python"), "api.py"],
        env: { ...pyEnv, HOST: p.bindHost, PORT: String(s.ports.api) },
        cwd: `${p.appsDir}/slow_api`,
        port: s.ports.api,
        ready: { kind: "http", path: "/?delay=0" },
        stopSignal: "SIGTERM",
        files: {},
        setup: [],
        user: "",
    };
}

export function flaskAppSpec(s: Settings, p: PlatformPaths): ServiceSpec {
    const appFolder = s.database ? "psycopg2_app" : "flask_app";
    // The gevent servers load the entry point that patches first; psycogreen is one more patch.
    const module = s.database ? (s.psycogreen ? "patched" : "app") : (MODES[s.serverMode].gevent ? "patched" : "app");
    const env: Record<string, string> = {
        ...pyEnv,
        HOST: p.bindHost,
        PORT_APP: String(s.ports.app),
        PORT_API: String(s.ports.api),
        API_HOST: p.hostOf("slow_api"),
        FLASK_APP: "app",
    };
    if (s.database) {
        env.POSTGRES_HOST = p.hostOf("postgres");
        env.POSTGRES_PORT = String(s.ports.postgres);
    }
    return {
        name: "flask-app",
        argv: serverArgv({
            mode: s.serverMode, shape: s.shape, protocol: s.protocol, host: p.bindHost,
            port: s.ports.app, binDir: p.pythonBin, module,
        }),
        env,
        cwd: `${p.appsDir}/${appFolder}`,
        port: s.ports.app,
        // The uwsgi protocol answers no HTTP; a TCP accept is all it can show.
        ready: s.protocol === "uwsgi" ? { kind: "tcp" } : { kind: "http", path: "/?delay=0" },
        stopSignal: serverStopSignal(s.serverMode),
        files: {},
        setup: [],
        user: "",
    };
}

export function nginxSpec(s: Settings, p: PlatformPaths): ServiceSpec {
    const dir = p.serviceDir("nginx");
    return {
        name: "nginx",
        argv: [p.nginx, "-p", dir, "-c", `${dir}/nginx.conf`, "-g", "daemon off;"],
        env: {},
        cwd: dir,
        port: s.ports.ingress,
        ready: { kind: "http", path: "/?delay=0" },
        stopSignal: "SIGTERM",
        files: {
            "nginx.conf": renderNginxConf({
                listenHost: p.bindHost,
                listenPort: s.ports.ingress,
                upstreamHost: p.hostOf("flask_app"),
                upstreamPort: s.ports.app,
                protocol: s.protocol,
                prefix: dir,
                uwsgiParams: p.uwsgiParams,
            }),
        },
        setup: [],
        user: "",
    };
}

export function postgresSpec(s: Settings, p: PlatformPaths): ServiceSpec {
    const dir = p.serviceDir("postgres");
    const data = `${dir}/data`;
    // initdb, then the app's database through single-user mode: no server needs to be up yet.
    const init = `[ -s '${data}/PG_VERSION' ] || { '${pathIn(p.postgresBin, "initdb")}' -D '${data}' ` +
        `-U ${DATABASE.user} --auth=trust --no-sync >/dev/null && ` +
        `echo 'CREATE DATABASE ${DATABASE.name}' | '${pathIn(p.postgresBin, "postgres")}' --single -D '${data}' postgres >/dev/null; }`;
    return {
        name: "postgres",
        argv: [pathIn(p.postgresBin, "postgres"), "-D", data, "-p", String(s.ports.postgres), "-k", dir,
            "-c", `listen_addresses=${p.bindHost === "0.0.0.0" ? "*" : p.bindHost}`,
            // One connection per in-flight request: room for the load's clients.
            "-c", "max_connections=500"],
        env: {},
        cwd: dir,
        port: s.ports.postgres,
        ready: { kind: "tcp" },
        stopSignal: "SIGINT",
        files: {},
        setup: [["sh", "-c", init]],
        user: "postgres",
    };
}

/** Every service of a topology, in start order. */
export function topologySpecs(s: Settings, p: PlatformPaths): ServiceSpec[] {
    return [
        ...(s.database ? [postgresSpec(s, p)] : []),
        slowApiSpec(s, p),
        flaskAppSpec(s, p),
        ...(s.ingress === "nginx" ? [nginxSpec(s, p)] : []),
    ];
}

function pathIn(dir: string, name: string): string {
    return dir ? `${dir}/${name}` : name;
}
