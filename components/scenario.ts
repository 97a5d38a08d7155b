import * as pulumi from "@pulumi/pulumi";
import { LoadResult } from "../lib/load/result";
import { MODES } from "../lib/serverModes";
import { Settings } from "../lib/settings";
import { LoadDriver } from "../platforms/localTools";
import { Platform } from "../platforms/platform";
import { FlaskApp } from "./flaskApp";
import { LoadTest, LoadTestArgs } from "./loadTest";
import { NginxIngress } from "./nginxIngress";
import { Postgres } from "./postgres";
import { SlowApi } from "./slowApi";

export interface ScenarioArgs {
    /** One of the tutorial's scenarios, as a stack's validated config describes it (lib/settings.ts). */
    settings: Settings;
    /** Where the services run. */
    platform: Platform;
    /** The load driver that runs on this machine; default settings.load.driver by name (where the platform runs loads itself). */
    driver?: LoadDriver;
    /** oha for the capacity search, where settings.capacity asks for one; default found then. */
    rateDriver?: LoadDriver;
    /** Folder each load run's JSON is appended to (the baseline's in its baseline/ subfolder). */
    resultsDir: string;
}

/** One topology of the tutorial, deployed and load-tested: the whole of a stack. */
export class Scenario extends pulumi.ComponentResource {
    /** Where a user sends requests: nginx where there is one, else the app. */
    readonly url: pulumi.Output<string>;
    /** The app's server and shape, in one line. */
    readonly server: string;
    readonly result: pulumi.Output<LoadResult>;
    /** The same load straight at the slow API; undefined when baseline is off. */
    readonly baseline: pulumi.Output<LoadResult> | undefined;

    constructor(name: string, args: ScenarioArgs, opts?: pulumi.ComponentResourceOptions) {
        super("flask-gevent-lab:components:Scenario", name, {}, opts);
        const { settings: s, platform, driver, rateDriver, resultsDir } = args;
        const parent = { parent: this };

        const cpus = s.cpuAffinity;
        const postgres = s.database ? new Postgres(`${name}-postgres`, { platform, port: s.ports.postgres, cpus: cpus.postgres }, parent) : undefined;
        const slowApi = new SlowApi(`${name}-slow-api`, { platform, port: s.ports.api, cpus: cpus.upstream }, parent);
        // The shape fields the mode takes, as set (listen 0: the server's own backlog).
        const shape = Object.fromEntries(MODES[s.serverMode].tunable.filter((f) => s.shape[f] > 0).map((f) => [f, s.shape[f]]));
        const app = new FlaskApp(`${name}-flask-app`, {
            platform, serverMode: s.serverMode, ...shape, protocol: s.protocol,
            upstreamUrl: slowApi.serviceUrl, databaseUrl: postgres?.serviceUrl, databaseDriver: s.databaseDriver, psycogreen: s.psycogreen, appCpuMs: s.appCpuMs, port: s.ports.app, cpus: cpus.app,
            replicas: s.kube.replicas,
        }, parent);
        const ingress = s.ingress === "nginx"
            ? new NginxIngress(`${name}-ingress`, { platform, upstreams: [app.serviceUrl], port: s.ports.ingress, cpus: cpus.ingress }, parent)
            : undefined;
        const entryUrl = ingress?.url ?? app.url;

        const load: Omit<LoadTestArgs, "url"> = {
            requests: s.load.requests, concurrency: s.load.concurrency, delaySeconds: s.load.delay,
            // The pods' driver is chosen by name where the platform runs loads itself.
            driver: driver ?? s.load.driver, platform, parallelism: s.kube.loadParallelism,
            timeoutSeconds: s.load.timeoutSeconds, maxFailedRequests: s.load.maxFailedRequests, runId: s.load.runId,
            repeats: s.load.repeats, warmupSeconds: s.load.warmupSeconds, keepAlive: s.load.keepAlive, upstreamUrl: platform.runLoad ? undefined : slowApi.url,
            scope: platform.runDir, cpuAffinity: cpus,
        };
        // Runs first and alone, once the whole topology is up, so the two loads never share the machine.
        const baseline = s.load.baseline
            ? new LoadTest(`${name}-baseline`, {
                ...load, url: pulumi.all([slowApi.url, entryUrl]).apply(([url]) => url),
                target: slowApi.service.identity, resultsDir: `${resultsDir}/baseline`,
                roles: { upstream: slowApi.service.threads }, roleProcessCores: { upstream: 1 },
            }, parent)
            : undefined;
        const result = new LoadTest(`${name}-load`, {
            // After the baseline: the URL waits for its result.
            ...load, url: baseline ? pulumi.all([entryUrl, baseline.result]).apply(([url]) => url) : entryUrl,
            expectBody: "Hi there! slow api response",
            capacity: app.capacity, appCpuMs: app.appCpuMs, slowClients: s.load.slowClients, appProcesses: app.processes, threads: app.service.threads,
            ...(s.capacity ? { capacitySearch: s.capacity, rateDriver } : {}),
            // Every Python process holds a GIL: one core each at most.
            roleProcessCores: { upstream: 1, app: 1 },
            roles: {
                upstream: slowApi.service.threads, app: app.service.threads,
                ...(ingress ? { ingress: ingress.service.threads } : {}),
                ...(postgres ? { postgres: postgres.service.threads } : {}),
            },
            target: pulumi.all([postgres?.service.identity, slowApi.service.identity, app.service.identity, ingress?.service.identity])
                .apply((ids) => ids.filter(Boolean).join(" ")),
            resultsDir,
        }, parent);

        this.url = entryUrl;
        this.server = app.server;
        this.result = result.result;
        this.baseline = baseline?.result;
        this.registerOutputs({ url: this.url, result: this.result, baseline: this.baseline });
    }
}
