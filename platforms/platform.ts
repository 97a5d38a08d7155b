// What a component asks of a platform: run this ServiceSpec, tell me how to
// reach it and whose threads to count.
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { ThreadsProbe } from "../lib/procfs";
import { PlatformPaths, ServiceSpec } from "../lib/services";

/** The project's folder: python-apps/, nginx/, k6/, and the run and results folders. */
export const PROJECT_ROOT = path.join(__dirname, "..");

export interface DeployedService {
    /** Ready when the service answers: what dependents wait for. */
    resource: pulumi.Resource;
    /** Whose threads are the service's. */
    threads: pulumi.Output<ThreadsProbe>;
    /** Changes whenever the service is replaced (restarted, reconfigured). */
    identity: pulumi.Output<string>;
}

export interface Platform {
    /** Paths and addresses the service specs are built for. */
    paths: PlatformPaths;
    /** Runs one service; children are parented to `opts.parent`. */
    deploy(name: string, spec: ServiceSpec, opts: pulumi.CustomResourceOptions): DeployedService;
    /** Whether this stack's own `spec` runs now (so a busy port is its own). */
    isRunning(spec: ServiceSpec): boolean;
}

/** The URL a client on this machine uses to reach a service's port. */
export function loopbackUrl(port: number, path = "/"): string {
    return `http://127.0.0.1:${port}${path}`;
}
