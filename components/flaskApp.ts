import * as pulumi from "@pulumi/pulumi";
import { endpointOf, flaskAppFolder, flaskAppSpec, schemeOf, SERVICE_NAMES } from "../lib/services";
import { DatabaseDriver, MODES, Protocol, resolveServer, ServerMode } from "../lib/serverModes";
import { DeployedService, Platform, servicePort, serviceUrls } from "../platforms/platform";

export interface FlaskAppArgs {
    /** Where the server runs (a LocalPlatform, DockerPlatform or KubernetesPlatform). */
    platform: Platform;
    /** How the app is served; default "uwsgi-gevent". Plain, not an Input: it decides what is declared. */
    serverMode?: ServerMode;
    /** Worker processes (Gunicorn, uWSGI); default the mode's (the tutorial's). Plain, as the other shape fields: they set `capacity`, checked at declaration. */
    workers?: number;
    /** Threads per worker (gunicorn-sync, uwsgi-sync, gunicorn-gthread, granian's blocking threads, waitress); default the mode's. */
    threads?: number;
    /** Greenlets per worker (uwsgi --gevent N, Gunicorn's worker_connections); default the mode's. */
    asyncCores?: number;
    /** Listen backlog (uWSGI --listen, Gunicorn/Granian/Waitress --backlog); default the server's own. */
    listen?: number;
    /** Granian's requests in progress per worker (--backpressure); default its own (backlog / workers). */
    backpressure?: number;
    /** What the server speaks: "http" (default), or "uwsgi" for nginx's uwsgi_pass (uWSGI modes only). */
    protocol?: Protocol;
    /** The slow API as this platform's services reach it: SlowApi.serviceUrl. */
    upstreamUrl: pulumi.Input<string>;
    /** PostgreSQL as this platform's services reach it (Postgres.serviceUrl): serves the database app of databaseDriver instead. */
    databaseUrl?: pulumi.Input<string>;
    /** The database app's driver (needs databaseUrl): "psycopg2" (default, the tutorial's) or "psycopg3" (gevent-native). Plain: it picks the app and image. */
    databaseDriver?: DatabaseDriver;
    /** Patch psycopg2 with psycogreen (needs databaseUrl); default false. Plain: it picks the app's entry module and image. */
    psycogreen?: boolean;
    /** Port it listens on; default a free loopback port, leased at the first up and kept until destroy (on Kubernetes: 3000, the tutorial's). */
    port?: pulumi.Input<number>;
    /** Milliseconds of CPU each request burns in the handler (measured, not slept); default 0. Plain: it sets the CPU limit. */
    appCpuMs?: number;
    /** Pods behind the app's Service (KubernetesPlatform only); default 1. Plain: the platform checks it at declaration. */
    replicas?: number;
    /** CPUs the server is pinned to (a taskset -c list, e.g. "1"); default any. */
    cpus?: pulumi.Input<string>;
    /** Unique within the stack: names its run folder, container and hostname; default "flask-app". */
    serviceName?: string;
}

/** The tutorial's Flask app under one server mode (dev server, pywsgi, Gunicorn, uWSGI). */
export class FlaskApp extends pulumi.ComponentResource {
    /** URL from this machine (http://, or uwsgi:// for the uwsgi protocol), once the server answers. */
    readonly url: pulumi.Output<string>;
    /** URL from the platform's other services: give it to NginxIngress's upstreams. */
    readonly serviceUrl: pulumi.Output<string>;
    readonly port: pulumi.Output<number>;
    /** One line: the server and its shape. */
    readonly server: string;
    /** Requests the server can hold at once (Infinity: one thread or greenlet per request). */
    readonly capacity: number;
    /** Processes that run the app's Python, each under its own GIL: workers x replicas. */
    readonly processes: number;
    /** Milliseconds of CPU each request burns in the handler. */
    readonly appCpuMs: number;
    readonly service: DeployedService;

    constructor(name: string, args: FlaskAppArgs, opts?: pulumi.ComponentResourceOptions) {
        super("flask-gevent-lab:components:FlaskApp", name, {}, opts);
        const { platform } = args;
        const { server, problems } = resolveServer({
            serverMode: args.serverMode ?? "uwsgi-gevent",
            workers: args.workers, threads: args.threads, asyncCores: args.asyncCores, listen: args.listen, backpressure: args.backpressure,
            protocol: args.protocol, database: args.databaseUrl !== undefined, databaseDriver: args.databaseDriver, psycogreen: args.psycogreen ?? false,
            appCpuMs: args.appCpuMs,
        });
        const replicas = args.replicas ?? 1;
        if (!Number.isInteger(replicas) || replicas < 1) problems.push({ field: "replicas", message: `${replicas} is not a whole number >= 1`, configFix: "" });
        const appCpuMs = args.appCpuMs ?? 0;
        if (!(appCpuMs >= 0)) problems.push({ field: "appCpuMs", message: `${appCpuMs} is not a number >= 0`, configFix: "" });
        if (problems.length) {
            throw new Error(`FlaskApp ${name}: invalid arguments:\n  - ${problems.map((p) => `${p.field}: ${p.message}`).join("\n  - ")}`);
        }
        const serviceName = args.serviceName ?? SERVICE_NAMES.flaskApp;
        this.port = servicePort(name, platform, serviceName, args.port, 3000, { parent: this });
        const spec = pulumi.all([this.port, args.upstreamUrl, args.databaseUrl, args.cpus]).apply(([port, upstream, database, cpus]) => ({
            ...flaskAppSpec(serviceName, {
                ...server, port,
                upstream: endpointOf(upstream, `FlaskApp ${name}: upstreamUrl`),
                database: database === undefined ? undefined : endpointOf(database, `FlaskApp ${name}: databaseUrl`),
                psycogreen: args.psycogreen ?? false, appCpuMs,
            }, platform.paths),
            cpus,
        }));
        const image = { app: flaskAppFolder(args.databaseUrl !== undefined) };
        this.service = platform.deploy(`${name}-server`, { name: serviceName, kind: "app", image, replicas }, spec, { parent: this });
        const scheme = schemeOf(server.protocol);
        ({ url: this.url, serviceUrl: this.serviceUrl } = serviceUrls(this.service, this.port, (host, p) => `${scheme}://${host}:${p}/`));
        this.server = MODES[server.serverMode].describe(server.shape) +
            (server.shape.listen ? `, listen backlog ${server.shape.listen}` : "") +
            (server.protocol === "uwsgi" ? ", uwsgi protocol" : "");
        this.capacity = MODES[server.serverMode].capacity(server.shape) * replicas;
        this.processes = server.shape.workers * replicas;
        this.appCpuMs = appCpuMs;
        this.registerOutputs({ url: this.url, serviceUrl: this.serviceUrl, port: this.port, server: this.server });
    }
}
