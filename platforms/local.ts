// The default platform: every service a process group on this machine, bound
// to loopback, with its files under <runDir>/<service>/ (.lab/<stack>/ by default).
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { codeHash } from "../lib/codeHash";
import { listeningNow } from "../lib/ports";
import { ProcessProbe } from "../lib/probes";
import { isAlive } from "../lib/procfs";
import { PlatformPaths, ServiceRole, ServiceSpec } from "../lib/services";
import { LocalProcess } from "../providers/localProcess";
import { ProcessScope } from "../providers/processScope";
import { defaultVenv, findLocalTools, findPostgresBin, LocalTools, which } from "./localTools";
import { claimName, defaultRunDir, DeployedService, loopbackHosts, Platform, PROJECT_ROOT, WAS_AT_ROOT } from "./platform";

export interface LocalPlatformArgs {
    /** Folder of the stack's run files (logs, pids, configs, data); default <cwd>/.lab/<stack>. */
    runDir?: string;
    /** The Python virtualenv the servers run from; default defaultVenv(): $FGL_VENV, else the clone's .lab/venv. */
    venv?: string;
    /** The programs services run with; default found on this machine (the virtualenv, nginx, PostgreSQL). */
    tools?: Pick<LocalTools, "pythonBin" | "postgresBin" | "nginx" | "uwsgiParams">;
    /** Seconds a service may take to answer after it starts; default 30. */
    readyTimeoutSeconds?: number;
}

/** Every service a process group on this machine; its child: the stack's process scope. */
export class LocalPlatform extends pulumi.ComponentResource implements Platform {
    readonly kind = "local";
    readonly ownNetwork = false;
    readonly paths: PlatformPaths;
    readonly runDir: string;
    private readonly readyTimeoutSeconds: number;
    private scope: ProcessScope | undefined;
    private readonly names = new Set<string>();

    /** `name` names the platform and its own resource (the stack's process scope): unique within the program. */
    constructor(private readonly name: string, args: LocalPlatformArgs = {}, opts?: pulumi.ComponentResourceOptions) {
        super("flask-gevent-lab:platforms:Local", name, {}, opts);
        this.runDir = args.runDir ?? defaultRunDir();
        this.readyTimeoutSeconds = args.readyTimeoutSeconds ?? 30;
        const tools = args.tools ?? {
            // The Python servers are always needed; nginx and PostgreSQL are named where found, checked when started.
            ...findLocalTools({ venv: args.venv ?? defaultVenv(), python: true, postgres: false, nginx: false, docker: false }),
            postgresBin: findPostgresBin() ?? "",
            nginx: which("nginx") ?? "nginx",
        };
        const runDir = this.runDir;
        this.paths = {
            bindHost: "127.0.0.1",
            hostOf: () => "127.0.0.1",
            pythonBin: tools.pythonBin,
            appsDir: path.join(PROJECT_ROOT, "python-apps"),
            serviceDir: (service) => path.join(runDir, service),
            postgresBin: tools.postgresBin,
            nginx: tools.nginx,
            uwsgiParams: tools.uwsgiParams,
        };
        this.registerOutputs({ runDir: this.runDir });
    }

    /** The pid file a previous up wrote ("pid startTime") names a process that still runs. */
    isRunning(name: string): boolean {
        try {
            const [pid, startTime] = fs.readFileSync(path.join(this.paths.serviceDir(name), `${name}.pid`), "utf8").trim().split(" ").map(Number);
            return isAlive(pid, startTime);
        } catch {
            return false;
        }
    }

    deploy(name: string, role: ServiceRole, spec: pulumi.Input<ServiceSpec>, opts: pulumi.CustomResourceOptions): DeployedService {
        claimName(this.names, role);
        // Every process of the stack depends on its scope: destroy ends by stopping whatever an interrupted up left.
        this.scope ??= new ProcessScope(`${this.name}-processes`, { scope: this.runDir }, { parent: this, aliases: [WAS_AT_ROOT] });
        // The virtualenv's identity (its folder is named by the hash of its requirements) is part of the code.
        const venv = this.paths.pythonBin ? fs.realpathSync.native(path.dirname(this.paths.pythonBin)) : "";
        const process = new LocalProcess(name, {
            spec,
            dir: this.paths.serviceDir(role.name),
            readyTimeoutSeconds: this.readyTimeoutSeconds,
            code: pulumi.output(spec).apply((s) => codeHash(s.code, [venv])),
        }, { ...opts, dependsOn: [...dependencies(opts.dependsOn), this.scope] });
        return {
            resource: process,
            threads: process.pid.apply((pgid): ProcessProbe => ({ kind: "group", pgid })),
            identity: pulumi.interpolate`${role.name}:${process.pid}:${process.startTime}`,
            hosts: pulumi.output(loopbackHosts("127.0.0.1")),
        };
    }
}

function dependencies(dependsOn: pulumi.CustomResourceOptions["dependsOn"]): pulumi.Input<pulumi.Resource>[] {
    if (dependsOn === undefined) return [];
    return Array.isArray(dependsOn) ? dependsOn : [dependsOn as pulumi.Input<pulumi.Resource>];
}

/** A port fixed in the stack's config, the service that takes it, and the config key that sets it. */
export interface FixedPort {
    service: string;
    port: number;
    key: string;
}

/** Refuses, before anything starts, a fixed port that another program holds (this stack's own services may hold theirs). */
export function checkPortsFree(platform: Platform, ports: FixedPort[]): void {
    const busy = listeningNow();
    const taken = ports.filter((p) => busy.has(p.port) && !platform.isRunning(p.service));
    if (taken.length) {
        throw new Error(`ports already in use by another program:\n` + taken.map((p) =>
            `  - ${p.port} (${p.service}): stop what listens there, or give this stack another port ` +
            `(pulumi config set ${p.key} N), or unset it (pulumi config rm ${p.key}) for a free one`).join("\n"));
    }
}
