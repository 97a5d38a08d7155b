// What a component asks of a platform: run this ServiceSpec, tell me how to
// reach it and whose threads to count.
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { PACKAGE_ROOT } from "../lib/packageRoot";
import { CapacitySearch } from "../lib/load/capacity";
import { CpuRole } from "../lib/load/cpu";
import { LoadResult } from "../lib/load/result";
import { PodDriver } from "../lib/load/split";
import { ProcessProbe } from "../lib/probes";
import { PortLease } from "../providers/portLease";
import { PlatformPaths, ServiceRole, ServiceSpec } from "../lib/services";

/** The package's folder: python-apps/, nginx/, k6/, and the project's .lab/ (virtualenv) and results/. */
export const PROJECT_ROOT = PACKAGE_ROOT;

/** The default per-stack run folder of a program run from `cwd`: logs, pid files, rendered configs, data. */
export function defaultRunDir(stack: string = pulumi.getStack(), cwd: string = process.cwd()): string {
    return path.join(cwd, ".lab", stack);
}

/** The alias of a platform's own resource created at the stack's root before platforms were components: an upgrade keeps it. */
export const WAS_AT_ROOT: pulumi.Alias = { parent: pulumi.rootStackResource };

export interface DeployedService {
    /** Ready when the service answers: what dependents wait for. */
    resource: pulumi.CustomResource;
    /** Whose threads are the service's. */
    threads: pulumi.Output<ProcessProbe>;
    /** Changes whenever the service is replaced (restarted, reconfigured). */
    identity: pulumi.Output<string>;
    /** The service's host as this machine reaches it, and as the platform's other services do. */
    hosts: pulumi.Output<ServiceHosts>;
}

export interface ServiceHosts {
    /** From this machine (127.0.0.1 for a published port, a ClusterIP on the project's cluster). */
    local: string;
    /** From the platform's other services (a hostname on a Docker bridge, a ClusterIP on Kubernetes). */
    service: string;
}

/** A load run as the LoadTest component describes it, for a platform that runs loads itself. */
export interface PlatformLoad {
    /** The driver the load's pods run. */
    driver: PodDriver;
    /** Target, query string included. */
    url: pulumi.Input<string>;
    expectBody: pulumi.Input<string>;
    requests: number;
    concurrency: number;
    delaySeconds: number;
    timeoutSeconds: number;
    /** Measured runs of the whole load, one after another. */
    repeats: number;
    /** Seconds of load at the load's clients before the measured runs, not measured; 0: none. */
    warmupSeconds: number;
    /** Requests the target can hold at once (Infinity: the clients are the limit). */
    capacity: number;
    /** Milliseconds of CPU each request burns in the app's handler; 0: none. */
    appCpuMs: number;
    /** Processes that run the app's Python (FlaskApp.processes), for the CPU limit. */
    appProcesses: number;
    /** Keep each client's connection (HTTP keep-alive). */
    keepAlive: pulumi.Input<boolean>;
    /** Pods (or processes) the requests and clients are split over. */
    parallelism: number;
    maxFailedRequests: pulumi.Input<number>;
    resultsDir: pulumi.Input<string>;
    /** Identity of what is measured: a new one re-runs the load. */
    target: pulumi.Input<string>;
    runId: pulumi.Input<string>;
    /** Whose threads are counted before and during the load (DeployedService.threads). */
    threads: pulumi.Input<ProcessProbe>;
    /** Each service role's processes, whose CPU is sampled during the load where the platform can see them. */
    roles: pulumi.Input<Partial<Record<Exclude<CpuRole, "driver">, pulumi.Input<ProcessProbe>>>>;
    /** The most cores one process of each role can keep busy (1 for GIL-bound Python). */
    roleProcessCores: pulumi.Input<Partial<Record<CpuRole, number>>>;
    /** A capacity search after the runs, by the load's own pods; absent: none. */
    capacitySearch?: CapacitySearch;
}

export interface Platform {
    /** Which platform: recorded with results. */
    readonly kind: "local" | "docker" | "kubernetes";
    /** Every service has a network of its own (pods): it listens on the tutorial's port, none is leased. */
    readonly ownNetwork: boolean;
    /** Paths and addresses the service specs are built for. */
    readonly paths: PlatformPaths;
    /** Folder of this stack's run files; also the marker of every process the stack starts. */
    readonly runDir: string;
    /** Runs one service; children are parented to `opts.parent`. */
    deploy(name: string, role: ServiceRole, spec: pulumi.Input<ServiceSpec>, opts: pulumi.CustomResourceOptions): DeployedService;
    /** Whether this stack's own service `name` runs now (so a busy port is its own). */
    isRunning(name: string): boolean;
    /** Runs a load inside the platform (a Kubernetes Job); absent: the load runs on this machine (LoadRun). */
    runLoad?(name: string, load: PlatformLoad, opts: pulumi.CustomResourceOptions): pulumi.Output<LoadResult>;
}

/**
 * Remembers the service names a platform runs; refuses a second service under one name (they would
 * share a run folder), and replicas on a platform that runs one copy of each service (`maxReplicas`).
 */
export function claimName(names: Set<string>, role: ServiceRole, maxReplicas = 1): void {
    if (names.has(role.name)) {
        throw new Error(`two services named "${role.name}" on one platform: give each component its own serviceName`);
    }
    const replicas = role.replicas ?? 1;
    if (replicas > maxReplicas) {
        throw new Error(`${role.name}: ${replicas} replicas on a platform that runs one copy of each service: use a KubernetesPlatform (platform: kubernetes)`);
    }
    names.add(role.name);
}

/** The hosts of a service reached through a port published on this machine's loopback. */
export function loopbackHosts(service: string): ServiceHosts {
    return { local: "127.0.0.1", service };
}

/**
 * The port a service listens on: `requested` where given; on a platform where each service has
 * its own network, the tutorial's `ownNetworkPort`; else a free loopback port leased at the first
 * up and kept until destroy (child `${name}-port`).
 */
export function servicePort(name: string, platform: Platform, service: string, requested: pulumi.Input<number> | undefined,
    ownNetworkPort: number, opts: pulumi.CustomResourceOptions): pulumi.Output<number> {
    if (requested !== undefined) return pulumi.output(requested);
    if (platform.ownNetwork) return pulumi.output(ownNetworkPort);
    return new PortLease(`${name}-port`, { owner: path.join(platform.runDir, service) }, opts).port;
}

/**
 * A service's URLs once it answers (dependents of them wait for it): `url` from this machine,
 * `serviceUrl` from the platform's other services. `format` builds one from a host and the port.
 */
export function serviceUrls(service: DeployedService, port: pulumi.Output<number>, format: (host: string, port: number) => string):
    { url: pulumi.Output<string>; serviceUrl: pulumi.Output<string> } {
    const ready = pulumi.all([service.resource.id, service.hosts, port]);
    return {
        url: ready.apply(([, hosts, p]) => format(hosts.local, p)),
        serviceUrl: ready.apply(([, hosts, p]) => format(hosts.service, p)),
    };
}
