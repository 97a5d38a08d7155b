// The docker platform: every service a container, through @pulumi/docker.
// Images of the Python apps are built from python-apps/Dockerfile; nginx and
// PostgreSQL run from their images as they are. What each container runs
// comes from lib/container.ts, the same as the Docker test suite's.
import { execFileSync } from "child_process";
import * as path from "path";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { containerPaths, containerSpec, imageFor } from "../lib/container";
import { ProcessProbe } from "../lib/probes";
import { PlatformPaths, ServiceRole, ServiceSpec } from "../lib/services";
import { DockerNetwork } from "../lib/settings";
import { claimName, defaultRunDir, DeployedService, loopbackHosts, Platform, PROJECT_ROOT, WAS_AT_ROOT } from "./platform";

export interface DockerPlatformArgs {
    /** bridge: one network for the platform, services found by hostname, ports published on 127.0.0.1; host: the host's network, on loopback. Default bridge. */
    network?: DockerNetwork;
    /** Base image of the Python apps (build argument PYTHON_IMAGE); default python:3.11-slim. */
    pythonImage?: string;
    /** The nginx image; default nginx:1.27. */
    nginxImage?: string;
    /** The PostgreSQL image; default postgres:15. */
    postgresImage?: string;
    /** Seconds a container may take to become healthy; default 30. */
    readyTimeoutSeconds?: number;
}

/** Every service a container. */
export class DockerPlatform extends pulumi.ComponentResource implements Platform {
    readonly kind = "docker";
    readonly ownNetwork = false;
    readonly paths: PlatformPaths;
    readonly runDir = defaultRunDir();
    private readonly args: Required<DockerPlatformArgs>;
    private network: docker.Network | undefined;
    private readonly images = new Map<string, docker.Image>();
    private readonly names = new Set<string>();

    /** `name` names the platform's resources and prefixes its containers and network: unique on the Docker engine. */
    constructor(private readonly name: string, args: DockerPlatformArgs = {}, opts?: pulumi.ComponentResourceOptions) {
        super("flask-gevent-lab:platforms:Docker", name, {}, opts);
        this.args = {
            network: args.network ?? "bridge",
            pythonImage: args.pythonImage ?? "python:3.11-slim",
            nginxImage: args.nginxImage ?? "nginx:1.27",
            postgresImage: args.postgresImage ?? "postgres:15",
            readyTimeoutSeconds: args.readyTimeoutSeconds ?? 30,
        };
        this.paths = containerPaths(this.args.network);
        this.registerOutputs({ network: this.args.network });
    }

    deploy(name: string, role: ServiceRole, spec: pulumi.Input<ServiceSpec>, opts: pulumi.CustomResourceOptions): DeployedService {
        claimName(this.names, role);
        const image = imageFor(role.image, this.args);
        const imageName = image.kind === "build" ? this.build(image.app, image.name, image.pythonImage).imageName : image.name;
        const c = pulumi.output(spec).apply((s) => containerSpec(this.name, s as ServiceSpec, image, this.args.network));
        const networking: Partial<docker.ContainerArgs> = this.args.network === "host"
            ? { networkMode: "host" }
            : {
                networksAdvanced: [{ name: this.bridge().name, aliases: [c.hostname] }],
                ports: [{ internal: c.port, external: c.port, ip: "127.0.0.1" }],
            };
        const container = new docker.Container(name, {
            name: `fgl-${this.name}-${role.name}`,
            image: imageName,
            command: c.command,
            envs: c.env.apply((env) => Object.entries(env).map(([k, v]) => `${k}=${v}`)),
            user: c.user.apply((u) => u || undefined) as pulumi.Output<string>,
            init: true,
            ...networking,
            uploads: c.files.apply((files) => files.map((f) => ({ file: f.path, content: f.content }))),
            healthcheck: { tests: c.healthcheck, interval: "1s", retries: this.args.readyTimeoutSeconds },
            wait: true,
            waitTimeout: this.args.readyTimeoutSeconds,
            stopSignal: c.stopSignal,
            cpuSet: pulumi.output(spec).apply((s) => s.cpus),
            mustRun: true,
        }, opts);
        return {
            resource: container,
            threads: pulumi.output<ProcessProbe>({ kind: "container", name: `fgl-${this.name}-${role.name}` }),
            identity: container.id,
            hosts: pulumi.output(loopbackHosts(this.paths.hostOf(role.name))),
        };
    }

    isRunning(name: string): boolean {
        try {
            return execFileSync("docker", ["ps", "-q", "--filter", `name=^fgl-${this.name}-${name}$`], { encoding: "utf8" }).trim() !== "";
        } catch {
            return false;
        }
    }

    /** One image per app folder and base, shared by every service that runs it. */
    private build(app: string, imageName: string, pythonImage: string): docker.Image {
        let image = this.images.get(imageName);
        if (!image) {
            const appsDir = path.join(PROJECT_ROOT, "python-apps");
            image = new docker.Image(`${this.name}-image-${app}`, {
                imageName,
                build: { context: appsDir, dockerfile: path.join(appsDir, "Dockerfile"), args: { APP: app, PYTHON_IMAGE: pythonImage } },
                skipPush: true,
            }, { parent: this, aliases: [WAS_AT_ROOT] });
            this.images.set(imageName, image);
        }
        return image;
    }

    /** The platform's own network, where services find each other by the tutorial's hostnames. */
    private bridge(): docker.Network {
        this.network ??= new docker.Network(`${this.name}-network`, { name: `fgl-${this.name}` }, { parent: this, aliases: [WAS_AT_ROOT] });
        return this.network;
    }
}
