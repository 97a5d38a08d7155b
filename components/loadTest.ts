import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { LoadResult } from "../lib/load/result";
import { ThreadsProbe } from "../lib/procfs";
import { LoadSettings } from "../lib/settings";
import { PROJECT_ROOT } from "../platforms/platform";
import { LoadRun } from "../providers/loadRun";

export interface LoadTestArgs {
    /** Entry point under load, without query string. */
    url: pulumi.Input<string>;
    /** Text a correct answer contains (verified before the load). */
    expectBody: string;
    /** Requests, concurrency, delay, timeout, failure threshold, re-run id. */
    load: LoadSettings;
    /** The driver that runs, its executable and version. */
    driver: { name: "ab" | "k6"; path: string; version: string };
    /** Requests the target can hold at once (Infinity: unbounded). */
    capacity: number;
    /** Whose threads are counted before and during the load. */
    threads: pulumi.Input<ThreadsProbe>;
    /** Identity of what is measured: a new one re-runs the load. */
    target: pulumi.Input<string>;
    /** Folder each run's JSON is appended to. */
    resultsDir: string;
    /** What must be ready (and, for ordering, measured) first. */
    dependsOn: pulumi.Resource[];
}

/** Verifies an endpoint, loads it with the tutorial's method, and exposes the normalized result. */
export class LoadTest extends pulumi.ComponentResource {
    readonly result: pulumi.Output<LoadResult>;
    readonly run: LoadRun;

    constructor(name: string, args: LoadTestArgs, opts?: pulumi.ComponentResourceOptions) {
        super("flask-gevent-lab:components:LoadTest", name, {}, opts);
        const { load } = args;
        this.run = new LoadRun(`${name}-run`, {
            url: pulumi.interpolate`${args.url}?delay=${load.delay}`,
            expectBody: args.expectBody,
            driver: args.driver.name,
            driverPath: args.driver.path,
            driverVersion: args.driver.version,
            k6Script: path.join(PROJECT_ROOT, "k6", "load.js"),
            requests: load.requests,
            concurrency: load.concurrency,
            delaySeconds: load.delay,
            timeoutSeconds: load.timeoutSeconds,
            capacity: Number.isFinite(args.capacity) ? args.capacity : -1,
            threads: args.threads,
            maxFailedRequests: load.maxFailedRequests ?? -1,
            resultsDir: args.resultsDir,
            target: args.target,
            runId: load.runId,
        }, { parent: this, dependsOn: args.dependsOn, customTimeouts: { create: `${load.timeoutSeconds + 120}s` } });
        this.result = this.run.result;
        this.registerOutputs({ result: this.result });
    }
}
