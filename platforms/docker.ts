// The docker platform: every service a container, through @pulumi/docker.
// Images of the Python apps are built from python-apps/Dockerfile; nginx and
// PostgreSQL run from their images as they are. What each container runs
// comes from lib/container.ts, the same as the Docker test suite's.
import { execFileSync } from "child_process";
import * as path from "path";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { containerPaths, containerSpec } from "../lib/container";
import { ThreadsProbe } from "../lib/procfs";
import { PlatformPaths, ServiceSpec } from "../lib/services";
import { Settings } from "../lib/settings";
import { Platform, PROJECT_ROOT } from "./platform";

export class DockerPlatform implements Platform {
    readonly paths: PlatformPaths;
    private network: docker.Network | undefined;
    private readonly images = new Map<string, docker.Image>();

    constructor(private readonly stack: string, private readonly settings: Settings) {
        this.paths = containerPaths(settings.dockerNetwork);
    }

    deploy(name: string, spec: ServiceSpec, opts: pulumi.CustomResourceOptions) {
        const c = containerSpec(this.stack, spec, this.settings);
        const image = c.image.kind === "build" ? this.build(c.image.app, c.image.name, c.image.pythonImage).imageName : c.image.name;
        const networking: Partial<docker.ContainerArgs> = c.network === "host"
            ? { networkMode: "host" }
            : {
                networksAdvanced: [{ name: this.bridge().name, aliases: [c.hostname] }],
                ports: [{ internal: c.port, external: c.port, ip: "127.0.0.1" }],
            };
        const container = new docker.Container(name, {
            name: c.name,
            image,
            command: c.command,
            envs: Object.entries(c.env).map(([k, v]) => `${k}=${v}`),
            user: c.user || undefined,
            init: true,
            ...networking,
            uploads: c.files.map((f) => ({ file: f.path, content: f.content })),
            healthcheck: { tests: c.healthcheck, interval: "1s", retries: this.settings.readyTimeoutSeconds },
            wait: true,
            waitTimeout: this.settings.readyTimeoutSeconds,
            stopSignal: c.stopSignal,
            mustRun: true,
        }, opts);
        return {
            resource: container,
            threads: pulumi.output<ThreadsProbe>({ kind: "container", name: c.name }),
            identity: container.id,
        };
    }

    isRunning(spec: ServiceSpec): boolean {
        const name = containerSpec(this.stack, spec, this.settings).name;
        try {
            return execFileSync("docker", ["ps", "-q", "--filter", `name=^${name}$`], { encoding: "utf8" }).trim() !== "";
        } catch {
            return false;
        }
    }

    /** One image per app folder and base, shared by every service that runs it. */
    private build(app: string, imageName: string, pythonImage: string): docker.Image {
        let image = this.images.get(imageName);
        if (!image) {
            const appsDir = path.join(PROJECT_ROOT, "python-apps");
            image = new docker.Image(`${this.stack}-image-${app}`, {
                imageName,
                build: { context: appsDir, dockerfile: path.join(appsDir, "Dockerfile"), args: { APP: app, PYTHON_IMAGE: pythonImage } },
                skipPush: true,
            });
            this.images.set(imageName, image);
        }
        return image;
    }

    /** The stack's own network, where services find each other by the tutorial's hostnames. */
    private bridge(): docker.Network {
        this.network ??= new docker.Network(`${this.stack}-network`, { name: `fgl-${this.stack}` });
        return this.network;
    }
}
