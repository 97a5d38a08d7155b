// A ServiceSpec as a container: which image, which command. Pure; shared by
// the docker platform (Pulumi) and the Docker test suite (plain docker CLI).
import { ImageKind, PlatformPaths, ServiceSpec } from "./services";
import { DockerNetwork } from "./settings";

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

/** Each service's hostname on a bridge network: the tutorial's compose service names. */
export const HOSTNAMES: Record<string, string> = { "slow-api": "slow_api", "flask-app": "flask_app", "postgres": "postgres", "nginx": "ingress" };

/** A service's hostname on a bridge network: the tutorial's for its own services, else the service's name. */
export function hostnameOf(name: string): string {
    return HOSTNAMES[name] ?? name;
}

/** Where services find each other: by hostname on a bridge network, on loopback on the host's. */
export function containerPaths(network: DockerNetwork): PlatformPaths {
    return {
        // On the host's network a container's port is the machine's: keep it on loopback.
        bindHost: network === "host" ? "127.0.0.1" : "0.0.0.0",
        hostOf: (name) => (network === "host" ? "127.0.0.1" : hostnameOf(name)),
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
export function imageFor(kind: ImageKind, images: ContainerImages): ContainerImage {
    if (kind === "nginx") return { kind: "external", name: images.nginxImage };
    if (kind === "postgres") return { kind: "external", name: images.postgresImage };
    return { kind: "build", name: `flask-gevent-lab/${kind.app}:latest`, app: kind.app, pythonImage: images.pythonImage };
}

/**
 * The container's command: make its folder, run the spec's setup there, then exec the service (signals reach it),
 * with the open-files limit raised as far as the engine allows, as on the local platform.
 */
export function containerCommand(spec: ServiceSpec): string[] {
    const steps = [
        `{ ulimit -n "$(ulimit -Hn)" 2>/dev/null || true; }`,
        `mkdir -p '${spec.cwd}'`,
        `cd '${spec.cwd}'`,
        ...spec.setup.map((argv) => argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(" ")),
        'exec "$@"',
    ];
    return ["sh", "-c", steps.join(" && "), spec.name, ...spec.argv];
}

/** Everything about one service's container, whoever runs it (Pulumi's docker provider, or the docker CLI). */
export interface ContainerSpec {
    /** Container name: one per stack and service. */
    name: string;
    image: ContainerImage;
    command: string[];
    env: Record<string, string>;
    /** "" for the image's default user. */
    user: string;
    network: DockerNetwork;
    /** Hostname on a bridge network. */
    hostname: string;
    /** Published on 127.0.0.1 on a bridge network; bound directly on the host's. */
    port: number;
    /** Files placed in the container before it starts. */
    files: { path: string; content: string }[];
    /** Exec-form health check: the service accepts connections on its port. */
    healthcheck: string[];
    stopSignal: string;
}

export function containerSpec(stack: string, spec: ServiceSpec, image: ContainerImage, network: DockerNetwork): ContainerSpec {
    const paths = containerPaths(network);
    return {
        name: `fgl-${stack}-${spec.name}`,
        image,
        command: containerCommand(spec),
        env: spec.env,
        user: spec.user,
        network,
        hostname: hostnameOf(spec.name),
        port: spec.port,
        files: Object.entries(spec.files).map(([name, content]) => ({ path: `${paths.serviceDir(spec.name)}/${name}`, content })),
        // bash, not sh: /dev/tcp is bash's. Every image used here (Debian-based) has it.
        healthcheck: ["CMD", "bash", "-c", `exec 3<>/dev/tcp/127.0.0.1/${spec.port}`],
        stopSignal: spec.stopSignal,
    };
}

/** `docker create` arguments for a container spec on network `networkName`; files go in with `docker cp` before start. */
export function dockerCreateArgv(c: ContainerSpec, imageRef: string, networkName: string): string[] {
    const net = c.network === "host"
        ? ["--network", "host"]
        : ["--network", networkName, "--network-alias", c.hostname, "-p", `127.0.0.1:${c.port}:${c.port}`];
    return [
        "create", "--name", c.name, "--init", ...net,
        ...(c.user ? ["--user", c.user] : []),
        ...Object.entries(c.env).flatMap(([k, v]) => ["-e", `${k}=${v}`]),
        "--health-cmd", c.healthcheck.slice(1).map((a) => (/\s/.test(a) ? `'${a}'` : a)).join(" "),
        "--health-interval", "1s", "--health-retries", "60",
        "--stop-signal", c.stopSignal,
        imageRef, ...c.command,
    ];
}
