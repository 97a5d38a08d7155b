// A ServiceSpec as a container: which image, which command. Pure; shared by
// the docker platform (Pulumi) and the Docker test suite (plain docker CLI).
import * as path from "path";
import { PlatformPaths, ServiceSpec } from "./services";
import { DockerNetwork, Settings } from "./settings";

/** An image the project builds from python-apps/Dockerfile. */
export interface BuiltImage {
    kind: "build";
    /** Local image name. */
    name: string;
    /** python-apps/ subfolder baked in (build argument APP). */
    app: string;
    /** Build argument PYTHON_IMAGE. */
    pythonImage: string;
}

/** An image used as it is (nginx, PostgreSQL). */
export interface ExternalImage {
    kind: "external";
    name: string;
}

export type ContainerImage = BuiltImage | ExternalImage;

export interface ContainerImages {
    /** Base of the Python apps' images. */
    pythonImage: string;
    /** nginx image (nginx on PATH, /etc/nginx/uwsgi_params). */
    nginxImage: string;
    /** PostgreSQL image (postgres and initdb on PATH, a postgres user). */
    postgresImage: string;
}

/** Where services find each other: the tutorial's compose hostnames on a bridge network, loopback on the host's. */
export function containerPaths(network: DockerNetwork): PlatformPaths {
    return {
        bindHost: "0.0.0.0",
        hostOf: (service) => (network === "host" ? "127.0.0.1" : service),
        pythonBin: "",
        appsDir: "/srv/python-apps",
        // /tmp: writable by the unprivileged postgres user too.
        serviceDir: (service) => `/tmp/lab/${service}`,
        postgresBin: "",
        nginx: "nginx",
        uwsgiParams: "/etc/nginx/uwsgi_params",
    };
}

/** The image a service runs in. */
export function imageFor(spec: ServiceSpec, images: ContainerImages): ContainerImage {
    if (spec.name === "nginx") return { kind: "external", name: images.nginxImage };
    if (spec.name === "postgres") return { kind: "external", name: images.postgresImage };
    const app = path.basename(spec.cwd);
    return { kind: "build", name: `flask-gevent-lab/${app}:latest`, app, pythonImage: images.pythonImage };
}

/** The container's command: make its folder, run the spec's setup there, then exec the service (signals reach it). */
export function containerCommand(spec: ServiceSpec): string[] {
    const steps = [
        `mkdir -p '${spec.cwd}'`,
        `cd '${spec.cwd}'`,
        ...spec.setup.map((argv) => argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(" ")),
        'exec "$@"',
    ];
    return ["sh", "-c", steps.join(" && "), spec.name, ...spec.argv];
}

/** Container name of a service: one per stack and service. */
export function containerName(stack: string, spec: ServiceSpec): string {
    return `fgl-${stack}-${spec.name}`;
}

/** The Docker settings of a stack. */
export function containerImages(s: Settings): ContainerImages {
    return { pythonImage: s.pythonImage, nginxImage: s.nginxImage, postgresImage: s.postgresImage };
}
