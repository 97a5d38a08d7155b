// What a component asks of a platform: run this ServiceSpec, tell me how to
// reach it and whose threads to count.
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { PACKAGE_ROOT } from "../lib/packageRoot";
import { ThreadsProbe } from "../lib/procfs";
import { PortLease } from "../providers/portLease";
import { PlatformPaths, ServiceRole, ServiceSpec } from "../lib/services";

/** The package's folder: python-apps/, nginx/, k6/, and the project's .lab/ (virtualenv) and results/. */
export const PROJECT_ROOT = PACKAGE_ROOT;

/** The default per-stack run folder of a program run from `cwd`: logs, pid files, rendered configs, data. */
export function defaultRunDir(stack: string = pulumi.getStack(), cwd: string = process.cwd()): string {
    return path.join(cwd, ".lab", stack);
}

export interface DeployedService {
    /** Ready when the service answers: what dependents wait for. */
    resource: pulumi.CustomResource;
    /** Whose threads are the service's. */
    threads: pulumi.Output<ThreadsProbe>;
    /** Changes whenever the service is replaced (restarted, reconfigured). */
    identity: pulumi.Output<string>;
}

export interface Platform {
    /** Which platform: recorded with results. */
    readonly kind: "local" | "docker";
    /** Paths and addresses the service specs are built for. */
    readonly paths: PlatformPaths;
    /** Folder of this stack's run files; also the marker of every process the stack starts. */
    readonly runDir: string;
    /** Runs one service; children are parented to `opts.parent`. */
    deploy(name: string, role: ServiceRole, spec: pulumi.Input<ServiceSpec>, opts: pulumi.CustomResourceOptions): DeployedService;
    /** Whether this stack's own service `name` runs now (so a busy port is its own). */
    isRunning(name: string): boolean;
}

/** Remembers the service names a platform runs; refuses a second service under one name (they would share a run folder). */
export function claimName(names: Set<string>, name: string): void {
    if (names.has(name)) {
        throw new Error(`two services named "${name}" on one platform: give each component its own serviceName`);
    }
    names.add(name);
}

/** The URL a client on this machine uses to reach a service's port. */
export function loopbackUrl(port: number, path = "/", scheme = "http"): string {
    return `${scheme}://127.0.0.1:${port}${path}`;
}

/**
 * The port a service listens on: `requested` where given, else a free loopback
 * port leased at the first up and kept until destroy (child `${name}-port`).
 */
export function servicePort(name: string, platform: Platform, service: string, requested: pulumi.Input<number> | undefined,
    opts: pulumi.CustomResourceOptions): pulumi.Output<number> {
    if (requested !== undefined) return pulumi.output(requested);
    return new PortLease(`${name}-port`, { owner: path.join(platform.runDir, service) }, opts).port;
}

/** `format(port)` once the service answers: dependents of this value wait for it. */
export function whenReady(service: DeployedService, port: pulumi.Output<number>, format: (port: number) => string): pulumi.Output<string> {
    return pulumi.all([service.resource.id, port]).apply(([, p]) => format(p));
}
