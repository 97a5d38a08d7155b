// The default platform: every service a process group on this machine, bound
// to loopback, with its files under .lab/<stack>/<service>/.
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { listeningPorts } from "../lib/ports";
import { ThreadsProbe } from "../lib/procfs";
import { PlatformPaths, ServiceSpec } from "../lib/services";
import { LocalProcess } from "../providers/localProcess";
import { LocalTools } from "./localTools";
import { Platform, PROJECT_ROOT } from "./platform";

/** The per-stack run folder: logs, pid files, rendered configs, data. */
function runDir(stack: string): string {
    return path.join(PROJECT_ROOT, ".lab", stack);
}

function localPaths(stack: string, tools: LocalTools): PlatformPaths {
    return {
        bindHost: "127.0.0.1",
        hostOf: () => "127.0.0.1",
        pythonBin: tools.pythonBin,
        appsDir: path.join(PROJECT_ROOT, "python-apps"),
        serviceDir: (service) => path.join(runDir(stack), service),
        postgresBin: tools.postgresBin,
        nginx: tools.nginx,
        uwsgiParams: tools.uwsgiParams,
    };
}

export class LocalPlatform implements Platform {
    readonly paths: PlatformPaths;

    constructor(stack: string, tools: LocalTools, private readonly readyTimeoutSeconds: number) {
        this.paths = localPaths(stack, tools);
    }

    /** The pid file a previous up wrote names a live process. */
    isRunning(spec: ServiceSpec): boolean {
        try {
            process.kill(Number(fs.readFileSync(path.join(this.paths.serviceDir(spec.name), `${spec.name}.pid`), "utf8")), 0);
            return true;
        } catch {
            return false;
        }
    }

    deploy(name: string, spec: ServiceSpec, opts: pulumi.CustomResourceOptions) {
        const process = new LocalProcess(name, {
            spec,
            dir: this.paths.serviceDir(spec.name),
            readyTimeoutSeconds: this.readyTimeoutSeconds,
        }, opts);
        return {
            resource: process,
            threads: process.pid.apply((pgid): ThreadsProbe => ({ kind: "group", pgid })),
            identity: pulumi.interpolate`${spec.name}:${process.pid}:${process.startTime}`,
        };
    }
}


/** Ports something listens on now. */
function listeningNow(): Set<number> {
    const ports = new Set<number>();
    for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
        try {
            listeningPorts(fs.readFileSync(file, "utf8")).forEach((p) => ports.add(p));
        } catch { /* no IPv6 */ }
    }
    return ports;
}

/** Refuses, before anything starts, a port that another program holds (this stack's own services may hold theirs). */
export function checkPortsFree(platform: Platform, specs: ServiceSpec[]): void {
    const busy = listeningNow();
    const taken = specs.filter((s) => busy.has(s.port) && !platform.isRunning(s));
    if (taken.length) {
        throw new Error(`ports already in use by another program:\n` + taken.map((s) =>
            `  - ${s.port} (${s.name}): stop what listens there, or give this stack another port ` +
            `(pulumi config set ${PORT_KEYS[s.name] ?? "<port key>"} N)`).join("\n"));
    }
}

const PORT_KEYS: Record<string, string> = { "slow-api": "apiPort", "flask-app": "appPort", "nginx": "ingressPort", "postgres": "postgresPort" };
