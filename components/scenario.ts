import * as pulumi from "@pulumi/pulumi";
import { LoadResult } from "../lib/load/result";
import { Settings } from "../lib/settings";
import { Platform } from "../platforms/platform";
import { FlaskApp } from "./flaskApp";
import { LoadTest, LoadTestArgs } from "./loadTest";
import { NginxIngress } from "./nginxIngress";
import { Postgres } from "./postgres";
import { SlowApi } from "./slowApi";

export interface ScenarioArgs {
    /** The stack's validated settings (lib/settings.ts applies the seed's defaults). */
    settings: Settings;
    /** Where the services run. */
    platform: Platform;
    /** The load driver that runs, its executable and version. */
    driver: LoadTestArgs["driver"];
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
        const { settings, platform, driver, resultsDir } = args;
        const parent = { parent: this };

        const postgres = settings.database ? new Postgres(`${name}-postgres`, { settings, platform }, parent) : undefined;
        const slowApi = new SlowApi(`${name}-slow-api`, { settings, platform }, parent);
        const app = new FlaskApp(`${name}-flask-app`, {
            settings, platform, dependsOn: [slowApi.service.resource, ...(postgres ? [postgres.service.resource] : [])],
        }, parent);
        const ingress = settings.ingress === "nginx"
            ? new NginxIngress(`${name}-ingress`, { settings, platform, dependsOn: [app.service.resource] }, parent)
            : undefined;
        const entry = ingress ?? app;

        // Runs first and alone, so the two loads never share the machine.
        const baseline = settings.load.baseline
            ? new LoadTest(`${name}-baseline`, {
                url: slowApi.url, expectBody: "slow api response", load: settings.load, driver,
                capacity: Infinity, threads: { kind: "none" }, target: slowApi.service.identity,
                resultsDir: `${resultsDir}/baseline`, dependsOn: [entry.service.resource],
            }, parent)
            : undefined;
        const load = new LoadTest(`${name}-load`, {
            url: entry.url, expectBody: "Hi there! slow api response", load: settings.load, driver,
            capacity: app.capacity, threads: app.service.threads,
            target: pulumi.all([postgres?.service.identity, slowApi.service.identity, app.service.identity, ingress?.service.identity])
                .apply((ids) => ids.filter(Boolean).join(" ")),
            resultsDir, dependsOn: [entry.service.resource, ...(baseline ? [baseline.run] : [])],
        }, parent);

        this.url = entry.url;
        this.server = app.server;
        this.result = load.result;
        this.baseline = baseline?.result;
        this.registerOutputs({ url: this.url, result: this.result, baseline: this.baseline });
    }
}
