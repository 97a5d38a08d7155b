// Stack configuration -> validated settings. Every default lives here (the
// seed's values per server mode), and every bad value is refused here, before
// a single resource is declared.
import { defaultSearch, OHA_MAX_RPS, searchProblems } from "./load/capacity";
import { CpuAffinity, parseCpuAffinity } from "./load/cpu";
import { MAX_SLOW_CLIENTS, slowClientsProblem } from "./load/slowClients";
import { checkParallelism } from "./load/split";
import { CpuQuantities, KubeImages, parseCpuQuantities, parseKubeImages } from "./kubernetesSettings";
import { DatabaseDriver, isUwsgi, MODES, Protocol, resolveServer, ServerMode, ServerShape } from "./serverModes";

export const PLATFORMS = ["local", "docker", "kubernetes"] as const;
export type PlatformKind = (typeof PLATFORMS)[number];
export const INGRESSES = ["none", "nginx"] as const;
export type Ingress = (typeof INGRESSES)[number];
export const LOAD_DRIVERS = ["auto", "ab", "k6", "oha"] as const;
export type LoadDriverChoice = (typeof LOAD_DRIVERS)[number];
export const DOCKER_NETWORKS = ["bridge", "host"] as const;
export type DockerNetwork = (typeof DOCKER_NETWORKS)[number];

/** Ports the stack's config fixes; unset ones are leased free ports, kept for the stack's life. */
export interface Ports {
    /** The Flask app's server. */
    app?: number;
    /** The slow API. */
    api?: number;
    /** nginx, where there is one. */
    ingress?: number;
    /** PostgreSQL, where there is one. */
    postgres?: number;
}

export interface LoadSettings {
    /** Total requests (ab -n, k6 iterations). */
    requests: number;
    /** Simultaneous clients (ab -c, k6 VUs). */
    concurrency: number;
    /** Seconds the slow API sleeps per request (?delay=). */
    delay: number;
    /** Which load generator to use. */
    driver: LoadDriverChoice;
    /** Seconds the whole load run may take before it is failed. */
    timeoutSeconds: number;
    /** Fail the up when more requests than this fail; unset: never. */
    maxFailedRequests?: number;
    /** Also load the slow API directly, to show the harness's own ceiling. */
    baseline: boolean;
    /** Change to re-run the load with nothing else changed. */
    runId: string;
    /** Measured runs, each the whole load; the figures are their medians with the spread. */
    repeats: number;
    /** Seconds of load at the load's clients before the measured runs, not measured; 0 for none. */
    warmupSeconds: number;
    /** Each client keeps its connection for its next request (HTTP keep-alive), as browsers do. */
    keepAlive: boolean;
    /** Slow clients held open during the measured runs (0: none), after the same runs without them. */
    slowClients: number;
}

/** A capacity search at a latency objective (open model, constant arrival rates with oha). */
export interface CapacitySettings {
    /** The objective: p99 at most this many ms, and no failure. */
    sloP99Ms: number;
    /** Seconds each probe sends for. */
    probeSeconds: number;
    /** The first rate tried. */
    startRps: number;
    /** The highest rate tried. */
    maxRps: number;
}

export interface Settings {
    /** Which of the tutorial's scenarios this is, for its figures; "" for the stack's own name. */
    scenario: string;
    platform: PlatformKind;
    serverMode: ServerMode;
    shape: ServerShape;
    protocol: Protocol;
    ingress: Ingress;
    database: boolean;
    /** The database app's driver: psycopg2 (the tutorial's) or psycopg3. */
    databaseDriver: DatabaseDriver;
    psycogreen: boolean;
    /** Milliseconds of CPU the app burns per request in its handler (0: none). */
    appCpuMs: number;
    ports: Ports;
    load: LoadSettings;
    /** Docker only: container networking. */
    dockerNetwork: DockerNetwork;
    /** Docker only: base image of the Python apps (build argument PYTHON_IMAGE). */
    pythonImage: string;
    /** Docker only: the nginx image. */
    nginxImage: string;
    /** Docker only: the PostgreSQL image. */
    postgresImage: string;
    /** Seconds a service may take to become ready. */
    readyTimeoutSeconds: number;
    /** The CPUs the driver, the slow API, the app, nginx, PostgreSQL are pinned to ({}: none). */
    cpuAffinity: CpuAffinity;
    /** Folder each load run's JSON is appended to, relative to the project; "" for results/<stack>. */
    resultsDir: string;
    /** The platform kubernetes's settings. */
    kube: KubeSettings;
    /** The capacity search after the load; null for none. */
    capacity: CapacitySettings | null;
}

/** Where and how the platform kubernetes runs a stack. */
export interface KubeSettings {
    /** Path of the kubeconfig; "" for the project's own cluster (./lab cluster up). */
    kubeconfig: string;
    /** Context in the kubeconfig; "" for its current one. */
    context: string;
    /** The stack's namespace; "" for fgl-<stack>. */
    namespace: string;
    /** Pods of the Flask app behind its Service. */
    replicas: number;
    /** Pods of the load's Indexed Job; requests and clients are split over them. */
    loadParallelism: number;
    /** CPU each role's containers request (Kubernetes quantities). */
    cpuRequests: CpuQuantities;
    /** CPU each role's containers may use at most ({}: no limit). */
    cpuLimits: CpuQuantities;
    /** The images to run, for a cluster other than the project's ({}: built and loaded into the project's cluster). */
    images: KubeImages;
    /** Who reads the roles' CPU: a sampler on every node (cluster), this machine's /proc (local: the project's cluster only), or both. */
    cpuSampler: KubeCpuSampler;
}

export const KUBE_CPU_SAMPLERS = ["cluster", "local", "both"] as const;
export type KubeCpuSampler = (typeof KUBE_CPU_SAMPLERS)[number];

/** Mode-independent defaults; Pulumi.yaml declares the same (a unit test keeps them equal). */
export const DEFAULTS = {
    scenario: "",
    platform: "local" as PlatformKind,
    serverMode: "uwsgi-gevent" as ServerMode,
    protocol: "http" as Protocol,
    ingress: "none" as Ingress,
    database: false,
    databaseDriver: "psycopg2" as DatabaseDriver,
    psycogreen: false,
    appCpuMs: 0,
    loadRequests: 2000,
    loadConcurrency: 200,
    loadDelay: 1,
    loadDriver: "auto" as LoadDriverChoice,
    loadTimeoutSeconds: 300,
    baseline: true,
    loadRunId: "",
    loadKeepAlive: false,
    slowClients: 0,
    loadRepeats: 1,
    loadWarmupSeconds: 3,
    capacitySearch: false,
    capacityProbeSeconds: 10,
    dockerNetwork: "bridge" as DockerNetwork,
    pythonImage: "python:3.11-slim",
    nginxImage: "nginx:1.27",
    postgresImage: "postgres:15",
    readyTimeoutSeconds: 30,
    cpuAffinity: "",
    resultsDir: "",
    kubeconfig: "",
    kubeContext: "",
    kubeNamespace: "",
    replicas: 1,
    kubeCpuRequests: "driver=100m upstream=100m app=100m ingress=100m postgres=100m",
    kubeCpuLimits: "",
    kubeImages: "",
    kubeCpuSampler: "cluster" as KubeCpuSampler,
};

/**
 * Pods of a load on Kubernetes unless set: the driver runs distributed there. Not in DEFAULTS
 * (nor Pulumi.yaml): elsewhere there is one driver, so the default depends on the platform.
 */
export const KUBE_LOAD_PARALLELISM = 2;

/** Reads one raw config value; undefined when unset. Pulumi's Config, or a plain map in tests. */
export type ConfigReader = (key: string) => string | undefined;

/** A config problem: names the key, what is wrong, and how to fix it. */
export class ConfigError extends Error {
    constructor(readonly problems: string[]) {
        super(`invalid stack configuration:\n  - ${problems.join("\n  - ")}`);
        this.name = "ConfigError";
    }
}

const fix = (key: string, example: string) => `fix: pulumi config set ${key} ${example}`;

export function resolveSettings(read: ConfigReader): Settings {
    const config = checkedReader(read);
    const server = serverSettings(config);
    const ports = portSettings(config, server);
    const load = loadSettings(config, server);
    const platform = config.oneOf("platform", PLATFORMS, DEFAULTS.platform);
    const capacity = capacitySettings(config, {
        capacity: MODES[server.serverMode].capacity(server.shape), delay: load.delay, driver: load.driver, platform,
    });
    const kube = kubeSettings(config, platform, load);
    const settings: Settings = {
        scenario: read("scenario") ?? DEFAULTS.scenario,
        platform,
        ...server,
        ports,
        load,
        dockerNetwork: config.oneOf("dockerNetwork", DOCKER_NETWORKS, DEFAULTS.dockerNetwork),
        pythonImage: read("pythonImage") ?? DEFAULTS.pythonImage,
        nginxImage: read("nginxImage") ?? DEFAULTS.nginxImage,
        postgresImage: read("postgresImage") ?? DEFAULTS.postgresImage,
        readyTimeoutSeconds: config.num("readyTimeoutSeconds", DEFAULTS.readyTimeoutSeconds)!,
        cpuAffinity: config.parsed("cpuAffinity", parseCpuAffinity, DEFAULTS.cpuAffinity, {}, '"driver=0 upstream=1 app=1"'),
        resultsDir: read("resultsDir") ?? DEFAULTS.resultsDir,
        kube,
        capacity,
    };
    if (config.problems.length) throw new ConfigError(config.problems);
    return settings;
}

/** Typed reads of the config that collect every problem (key, what is wrong, the fix) instead of stopping at the first. */
interface CheckedReader {
    read: ConfigReader;
    problems: string[];
    oneOf<T extends string>(key: string, allowed: readonly T[], fallback: T): T;
    num(key: string, fallback: number | undefined, opts?: { integer?: boolean; min?: number }): number | undefined;
    bool(key: string, fallback: boolean): boolean;
    /** `parse` of the value (or of `text`, the default), or `empty` with the problem noted. */
    parsed<T>(key: string, parse: (text: string) => T, text: string, empty: T, example: string): T;
}

function checkedReader(read: ConfigReader): CheckedReader {
    const problems: string[] = [];
    return {
        read,
        problems,
        oneOf(key, allowed, fallback) {
            const raw = read(key);
            if (raw === undefined) return fallback;
            if ((allowed as readonly string[]).includes(raw)) return raw as typeof fallback;
            problems.push(`${key}: unknown value "${raw}"; valid: ${allowed.join(", ")} (${fix(key, allowed[0])})`);
            return fallback;
        },
        num(key, fallback, opts = {}) {
            const raw = read(key);
            if (raw === undefined) return fallback;
            const value = Number(raw);
            const min = opts.min ?? 1;
            if (raw.trim() === "" || !Number.isFinite(value) || (opts.integer !== false && !Number.isInteger(value)) || value < min) {
                const kind = opts.integer === false ? "a number" : "a whole number";
                problems.push(`${key}: "${raw}" is not ${kind} >= ${min} (${fix(key, String(fallback ?? min))})`);
                return fallback;
            }
            return value;
        },
        bool(key, fallback) {
            const raw = read(key);
            if (raw === undefined) return fallback;
            if (raw === "true" || raw === "false") return raw === "true";
            problems.push(`${key}: "${raw}" is not true or false (${fix(key, String(fallback))})`);
            return fallback;
        },
        parsed(key, parse, text, empty, example) {
            try {
                return parse(read(key) ?? text);
            } catch (e) {
                problems.push(`${key}: ${(e as Error).message} (${fix(key, example)})`);
                return empty;
            }
        },
    };
}

/** The server: mode, shape and protocol, with the ingress and database in front of and behind it. */
function serverSettings(config: CheckedReader): Pick<Settings, "serverMode" | "shape" | "protocol" | "ingress" | "database" | "databaseDriver" | "psycogreen" | "appCpuMs"> {
    const { read, problems } = config;
    const ingress = config.oneOf("ingress", INGRESSES, DEFAULTS.ingress);
    const database = config.bool("database", DEFAULTS.database);
    const psycogreen = config.bool("psycogreen", DEFAULTS.psycogreen);
    // Shape fields a mode lacks are reported by resolveServer; only a set value is parsed here.
    const shapeValue = (field: string) => (read(field) === undefined ? undefined : config.num(field, 1));
    const appCpuMs = config.num("appCpuMs", DEFAULTS.appCpuMs, { integer: false, min: 0 })!;
    const { server, problems: serverProblems } = resolveServer({
        serverMode: read("serverMode") ?? DEFAULTS.serverMode,
        workers: shapeValue("workers"), threads: shapeValue("threads"),
        asyncCores: shapeValue("asyncCores"), listen: shapeValue("listen"), backpressure: shapeValue("backpressure"),
        protocol: read("protocol") ?? DEFAULTS.protocol,
        database, databaseDriver: read("databaseDriver") ?? DEFAULTS.databaseDriver, psycogreen, appCpuMs,
    });
    problems.push(...serverProblems.map((p) => `${p.field}: ${p.message} (fix: ${p.configFix})`));
    const { serverMode, shape, protocol, databaseDriver } = server;
    if (protocol === "uwsgi" && ingress !== "nginx") {
        problems.push(`protocol: "uwsgi" speaks the binary uwsgi protocol, which no HTTP client can load-test ` +
            `without nginx in front (fix: pulumi config set ingress nginx)`);
    }
    return { serverMode, shape, protocol, ingress, database, databaseDriver, psycogreen, appCpuMs };
}

/** Fixed ports, where set (unset: the component leases a free port for the stack's life); no two services on one. */
function portSettings(config: CheckedReader, server: Pick<Settings, "ingress" | "database">): Ports {
    const { read, problems } = config;
    const optionalPort = (key: string) => {
        if (read(key) === undefined) return undefined;
        const value = Number(read(key));
        if (!Number.isInteger(value) || value < 1 || value > 65535) {
            problems.push(`${key}: "${read(key)}" is not a TCP port (1-65535) (fix: pulumi config set ${key} <port>, or pulumi config rm ${key} for a leased one)`);
            return undefined;
        }
        return value;
    };
    const ports: Ports = {
        app: optionalPort("appPort"),
        api: optionalPort("apiPort"),
        ingress: optionalPort("ingressPort"),
        postgres: optionalPort("postgresPort"),
    };
    const used: [string, number | undefined][] = [["appPort", ports.app], ["apiPort", ports.api]];
    if (server.ingress === "nginx") used.push(["ingressPort", ports.ingress]);
    if (server.database) used.push(["postgresPort", ports.postgres]);
    for (let i = 0; i < used.length; i++) {
        for (let j = i + 1; j < used.length; j++) {
            if (used[i][1] !== undefined && used[i][1] === used[j][1]) {
                problems.push(`${used[j][0]}: ${used[j][1]} is also ${used[i][0]} (fix: pulumi config set ${used[j][0]} <another port>)`);
            }
        }
    }
    return ports;
}

/** The load: the tutorial's ab command line, the driver, its runs and warm-up. */
function loadSettings(config: CheckedReader, server: Pick<Settings, "serverMode" | "ingress">): LoadSettings {
    const { num, bool } = config;
    const load: LoadSettings = {
        requests: num("loadRequests", DEFAULTS.loadRequests)!,
        concurrency: num("loadConcurrency", DEFAULTS.loadConcurrency)!,
        delay: num("loadDelay", DEFAULTS.loadDelay, { integer: false, min: 0 })!,
        driver: config.oneOf("loadDriver", LOAD_DRIVERS, DEFAULTS.loadDriver),
        timeoutSeconds: num("loadTimeoutSeconds", DEFAULTS.loadTimeoutSeconds)!,
        maxFailedRequests: num("maxFailedRequests", undefined, { min: 0 }),
        baseline: bool("baseline", DEFAULTS.baseline),
        runId: config.read("loadRunId") ?? DEFAULTS.loadRunId,
        repeats: num("loadRepeats", DEFAULTS.loadRepeats)!,
        // Whole seconds: ab's -t reads no fraction (-t 0.5 is no limit at all).
        warmupSeconds: num("loadWarmupSeconds", DEFAULTS.loadWarmupSeconds, { min: 0 })!,
        keepAlive: bool("loadKeepAlive", DEFAULTS.loadKeepAlive),
        slowClients: num("slowClients", DEFAULTS.slowClients, { min: 0 })!,
    };
    const slowProblem = slowClientsProblem(load.slowClients);
    if (slowProblem) config.problems.push(`slowClients: ${slowProblem} (fix: pulumi config set slowClients ${MAX_SLOW_CLIENTS})`);
    if (load.slowClients && load.driver !== "oha" && load.driver !== "k6") {
        config.problems.push(`slowClients: ${load.driver === "auto" ? "loadDriver auto picks ab where k6 is not installed, and " : ""}ab gives up its whole run at the ` +
            `first request that waits loadTimeoutSeconds, which slow clients cause (fix: pulumi config set loadDriver oha)`);
    }
    if (load.keepAlive && isUwsgi(server.serverMode) && server.ingress !== "nginx") {
        config.problems.push(`loadKeepAlive: uWSGI's HTTP socket closes every connection without saying so (oha reusing them ` +
            `failed 38 % of its requests); put nginx in front, which keeps the clients' connections (fix: pulumi config set ` +
            `ingress nginx, or pulumi config rm loadKeepAlive)`);
    }
    if (load.concurrency > load.requests) {
        config.problems.push(`loadConcurrency: ${load.concurrency} clients for ${load.requests} requests; ApacheBench refuses ` +
            `more clients than requests (fix: pulumi config set loadConcurrency ${load.requests})`);
    }
    return load;
}

/** The cluster, its pods and their CPU; the settings that only mean something on one are refused elsewhere. */
function kubeSettings(config: CheckedReader, platform: PlatformKind, load: LoadSettings): KubeSettings {
    const { read, problems } = config;
    const quantities = (key: "kubeCpuRequests" | "kubeCpuLimits") => config.parsed(key, parseCpuQuantities, DEFAULTS[key], {}, '"app=500m driver=1"');
    const kube: KubeSettings = {
        kubeconfig: read("kubeconfig") ?? DEFAULTS.kubeconfig,
        context: read("kubeContext") ?? DEFAULTS.kubeContext,
        namespace: read("kubeNamespace") ?? DEFAULTS.kubeNamespace,
        replicas: config.num("replicas", DEFAULTS.replicas)!,
        loadParallelism: config.num("loadParallelism", platform === "kubernetes" ? KUBE_LOAD_PARALLELISM : 1)!,
        cpuRequests: quantities("kubeCpuRequests"),
        cpuLimits: quantities("kubeCpuLimits"),
        images: config.parsed("kubeImages", parseKubeImages, DEFAULTS.kubeImages, {}, '"base=<ref> slow_api=<ref> flask_app=<ref> database_app=<ref>"'),
        cpuSampler: config.oneOf("kubeCpuSampler", KUBE_CPU_SAMPLERS, DEFAULTS.kubeCpuSampler),
    };
    if (platform !== "kubernetes") {
        // One process per service, one driver: these only mean something on a cluster.
        if (kube.replicas !== 1) problems.push(`replicas: ${kube.replicas} app pods need platform kubernetes (fix: pulumi config set platform kubernetes, or pulumi config rm replicas)`);
        // By value, not presence: Pulumi sets Pulumi.yaml's default in every stack.
        if (kube.cpuSampler !== DEFAULTS.kubeCpuSampler) problems.push(`kubeCpuSampler: ${kube.cpuSampler} samples a cluster's pods, which need platform kubernetes (fix: pulumi config rm kubeCpuSampler)`);
        if (kube.loadParallelism !== 1) problems.push(`loadParallelism: a load split over ${kube.loadParallelism} pods needs platform kubernetes (fix: pulumi config set platform kubernetes, or pulumi config rm loadParallelism)`);
        return kube;
    }
    if (load.driver === "k6") {
        problems.push(`loadDriver: k6 does not run in the cluster's load pods, which run ab or oha (fix: pulumi config set loadDriver oha, or ab)`);
    }
    if (load.slowClients) {
        problems.push(`slowClients: they are held from this machine, to its loopback only; the cluster's load runs in its pods (fix: pulumi config rm slowClients)`);
    }
    if (read("cpuAffinity")) {
        problems.push(`cpuAffinity: pods are not pinned to this machine's CPUs (fix: pulumi config rm cpuAffinity; kubeCpuRequests and kubeCpuLimits set their CPU)`);
    }
    try {
        checkParallelism(load.requests, load.concurrency, kube.loadParallelism);
    } catch (e) {
        problems.push(`loadParallelism: ${(e as Error).message} (fix: pulumi config set loadParallelism ${Math.min(load.requests, load.concurrency)})`);
    }
    return kube;
}

/** The capacity search's settings, checked; null when capacitySearch is off (its keys are then refused). */
function capacitySettings(
    config: CheckedReader,
    target: { capacity: number; delay: number; driver: LoadDriverChoice; platform: PlatformKind },
): CapacitySettings | null {
    const { read, num, problems } = config;
    // capacityProbeSeconds has a declared default (Pulumi.yaml), so it always reads as set.
    const keys = ["sloP99Ms", "capacityStartRps", "capacityMaxRps"];
    if (!config.bool("capacitySearch", DEFAULTS.capacitySearch)) {
        for (const key of keys.filter((k) => read(k) !== undefined)) {
            problems.push(`${key}: set, but there is no capacity search (fix: pulumi config set capacitySearch true, or pulumi config rm ${key})`);
        }
        return null;
    }
    const defaults = defaultSearch(target.capacity, target.delay);
    const search: CapacitySettings = {
        sloP99Ms: num("sloP99Ms", defaults.sloP99Ms, { integer: false, min: 1 })!,
        probeSeconds: num("capacityProbeSeconds", DEFAULTS.capacityProbeSeconds, { integer: false, min: 0 })!,
        startRps: num("capacityStartRps", defaults.startRps, { integer: false, min: 0.01 })!,
        maxRps: num("capacityMaxRps", Math.max(defaults.maxRps, defaults.startRps), { integer: false, min: 0.01 })!,
    };
    const configKey = { sloP99Ms: "sloP99Ms", probeSeconds: "capacityProbeSeconds", startRps: "capacityStartRps", maxRps: "capacityMaxRps", precision: "" };
    const fixValue = { sloP99Ms: defaults.sloP99Ms, probeSeconds: DEFAULTS.capacityProbeSeconds, startRps: defaults.startRps, maxRps: OHA_MAX_RPS, precision: 0 };
    for (const p of searchProblems(search, target.delay)) {
        problems.push(`${configKey[p.field]}: ${p.message} (${fix(configKey[p.field], String(fixValue[p.field]))})`);
    }
    if (target.driver === "k6") {
        problems.push(`capacitySearch: probes run oha at constant arrival rates; loadDriver k6 runs closed loads here ` +
            `(fix: pulumi config set loadDriver oha${target.platform === "kubernetes" ? "" : ", or ab"}, or pulumi config rm capacitySearch)`);
    }
    if (target.platform === "kubernetes" && target.driver !== "oha" && target.driver !== "k6") {
        problems.push(`capacitySearch: on Kubernetes its probes run oha in the load pods, each at its share of the rate ` +
            `(fix: pulumi config set loadDriver oha, or pulumi config rm capacitySearch)`);
    }
    return search;
}

/** Requests the app can hold at once. */
export function serverCapacity(settings: Settings): number {
    return MODES[settings.serverMode].capacity(settings.shape);
}
