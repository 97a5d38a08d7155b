// One stack per scenario: read the stack's config, check the machine, deploy
// the topology and its load test, export the figures.
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { Scenario } from "./components/scenario";
import { namespaceFor } from "./lib/kubernetes";
import { resultFileName } from "./lib/load/result";
import { podDriverOf } from "./lib/load/split";
import { resolveSettings } from "./lib/settings";
import { renderSummary } from "./lib/summary";
import { tutorialRps } from "./lib/tutorial";
import { DockerPlatform } from "./platforms/docker";
import { checkCluster, checkSchedulable, KubernetesPlatform } from "./platforms/kubernetes";
import { checkPortsFree, FixedPort, LocalPlatform } from "./platforms/local";
import { defaultVenv, findLocalTools } from "./platforms/localTools";
import { Platform, PROJECT_ROOT } from "./platforms/platform";

/** Bad input is the user's to fix: show the message alone, not a stack trace. */
function userError<T>(check: () => T): T {
    try {
        return check();
    } catch (e) {
        throw new pulumi.RunError((e as Error).message);
    }
}

const stack = pulumi.getStack();
const config = new pulumi.Config();
const settings = userError(() => resolveSettings((key) => config.get(key)));

// Containers bring their own servers; this machine runs the load driver, but for a cluster's Job.
const local = settings.platform === "local";
const kube = settings.platform === "kubernetes";
const tools = userError(() => findLocalTools({
    venv: defaultVenv(),
    python: local,
    postgres: local && settings.database,
    nginx: local && settings.ingress === "nginx",
    docker: settings.platform === "docker",
    driver: kube ? undefined : settings.load.driver,
    // On a cluster the probes run in the load pods, whose image gets its own oha.
    rateDriver: settings.capacity !== null && !kube,
}));
if (kube) userError(() => checkCluster(settings.kube));
// The nodes the stack's pods can use, where the cluster tells. The pods its services run: its components'
// (components/scenario.ts), one each but the app's replicas.
const nodes = kube
    ? userError(() => checkSchedulable(settings.kube, settings.kube.namespace || namespaceFor(stack), {
        upstream: 1, app: settings.kube.replicas, ...(settings.ingress === "nginx" ? { ingress: 1 } : {}), ...(settings.database ? { postgres: 1 } : {}),
    }))
    : undefined;
const runDir = path.join(PROJECT_ROOT, ".lab", stack);
const platform: Platform = local
    ? new LocalPlatform(stack, { runDir, tools, readyTimeoutSeconds: settings.readyTimeoutSeconds })
    : kube
        ? userError(() => new KubernetesPlatform(stack, {
            kubeconfig: settings.kube.kubeconfig, context: settings.kube.context, namespace: settings.kube.namespace,
            images: settings.kube.images, cpuRequests: settings.kube.cpuRequests, cpuLimits: settings.kube.cpuLimits,
            readyTimeoutSeconds: settings.readyTimeoutSeconds, cpuSampler: settings.kube.cpuSampler,
            loadDriver: podDriverOf(settings.load.driver) ?? undefined, nodes,
        }))
        : new DockerPlatform(stack, {
            network: settings.dockerNetwork, pythonImage: settings.pythonImage, nginxImage: settings.nginxImage,
            postgresImage: settings.postgresImage, readyTimeoutSeconds: settings.readyTimeoutSeconds,
        });
const fixedPorts: FixedPort[] = [
    { service: "slow-api", port: settings.ports.api, key: "apiPort" },
    { service: "flask-app", port: settings.ports.app, key: "appPort" },
    ...(settings.ingress === "nginx" ? [{ service: "nginx", port: settings.ports.ingress, key: "ingressPort" }] : []),
    ...(settings.database ? [{ service: "postgres", port: settings.ports.postgres, key: "postgresPort" }] : []),
].filter((p): p is FixedPort => p.port !== undefined);
// Pods have ports of their own, not this machine's.
if (!platform.ownNetwork) userError(() => checkPortsFree(platform, fixedPorts));

const resultsDir = path.resolve(PROJECT_ROOT, settings.resultsDir || path.join("results", stack));
const scenario = new Scenario(stack, { settings, platform, driver: tools.driver, rateDriver: tools.rateDriver, resultsDir });
const result = scenario.result;
const seedRps = tutorialRps(settings.scenario || stack);

export const url = scenario.url;
export const scenarioName = settings.scenario || stack;
export const platformKind = platform.kind;
export const serverMode = settings.serverMode;
export const ingress = settings.ingress;
export const server = scenario.server;
export const driver = result.driver;
export const requestsPerSecond = result.requestsPerSecond;
export const failedRequests = result.failed;
export const completeRequests = result.complete;
export const timeTakenSeconds = result.timeTakenSeconds;
export const p50Ms = result.latencyMs.p50;
export const p95Ms = result.latencyMs.p95;
export const p99Ms = result.latencyMs.p99;
export const threadsBefore = result.threadsBefore;
export const threadsPeak = result.threadsPeak;
export const limitRps = result.limitRps;
export const efficiency = result.efficiency;
export const driverCeilingRps = result.driverCeilingRps;
export const cpu = result.cpu;
export const bottleneck = result.bottleneck;
export const tutorialRequestsPerSecond = seedRps ?? null;
export const baselineRequestsPerSecond = scenario.baseline?.requestsPerSecond ?? null;
export const repeats = result.repeats.apply((runs) => runs.length);
export const spread = result.spread;
export const failures = result.failures;
export const held = result.held;
export const capacityRps = result.apply((r) => r.capacity?.capacityRps ?? null);
export { result };
export const baseline = scenario.baseline ?? null;
/** The answer on one screen (./lab up prints it). */
export const summary = pulumi.all([result, scenario.baseline ?? null]).apply(([r, base]) => renderSummary({
    scenario: scenarioName, server: scenario.server, ingress: settings.ingress, platform: platform.kind, result: r, baseline: base,
    tutorialRps: seedRps,
    fullResult: `pulumi stack output --json -s ${stack}; ${path.relative(PROJECT_ROOT, path.join(resultsDir, resultFileName(r.startedAt)))}`,
}));
