// One stack per scenario: read the stack's config, check the machine, deploy
// the topology and its load test, export the figures.
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { Scenario } from "./components/scenario";
import { topologySpecs } from "./lib/services";
import { resolveSettings } from "./lib/settings";
import { DockerPlatform } from "./platforms/docker";
import { checkPortsFree, LocalPlatform } from "./platforms/local";
import { findLocalTools } from "./platforms/localTools";
import { PROJECT_ROOT } from "./platforms/platform";
import tutorial from "./data/tutorial.json";

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

// Containers bring their own servers; this machine always runs the load driver.
const local = settings.platform === "local";
const tools = userError(() => findLocalTools({
    venv: path.join(PROJECT_ROOT, ".lab", "venv"),
    python: local,
    postgres: local && settings.database,
    nginx: local && settings.ingress === "nginx",
    docker: !local,
    driver: settings.load.driver,
}));
const platform = local ? new LocalPlatform(stack, tools, settings.readyTimeoutSeconds) : new DockerPlatform(stack, settings);
userError(() => checkPortsFree(platform, topologySpecs(settings, platform.paths)));

const scenario = new Scenario(stack, {
    settings, platform, driver: tools.driver, resultsDir: path.join(PROJECT_ROOT, "results", stack),
});
const result = scenario.result;
const seed = (tutorial.scenarios as Record<string, { requestsPerSecond: number | null }>)[settings.scenario || stack];

export const url = scenario.url;
export const scenarioName = settings.scenario || stack;
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
export const tutorialRequestsPerSecond = seed?.requestsPerSecond ?? null;
export const baselineRequestsPerSecond = scenario.baseline?.requestsPerSecond ?? null;
export { result };
export const baseline = scenario.baseline ?? null;
