/**
 * flask-gevent-lab as a library: the tutorial's services as Pulumi
 * ComponentResources, the platforms they run on, and the load test that
 * measures them. Compose your own topology:
 *
 * ```ts
 * import { FlaskApp, LoadTest, LocalPlatform, NginxIngress, SlowApi } from "flask-gevent-lab";
 *
 * const platform = new LocalPlatform("lab");
 * const api = new SlowApi("api", { platform });
 * const app = new FlaskApp("app", { platform, serverMode: "uwsgi-gevent", workers: 2, upstreamUrl: api.serviceUrl });
 * const web = new NginxIngress("web", { platform, upstreams: [app.serviceUrl] });
 * const load = new LoadTest("load", { url: web.url, requests: 2000, concurrency: 200, delaySeconds: 1, capacity: app.capacity });
 * export const rps = load.result.requestsPerSecond;
 * ```
 *
 * The same on Kubernetes: `new KubernetesPlatform("lab", { kubeconfig })`, with
 * `replicas` on the app and `platform` + `parallelism` on the LoadTest (the load
 * then runs as an Indexed Job in the cluster).
 *
 * @packageDocumentation
 */
export { FlaskApp, FlaskAppArgs } from "./components/flaskApp";
export { LoadTest, LoadTestArgs } from "./components/loadTest";
export { NginxIngress, NginxIngressArgs } from "./components/nginxIngress";
export { Postgres, PostgresArgs } from "./components/postgres";
export { Scenario, ScenarioArgs } from "./components/scenario";
export { SlowApi, SlowApiArgs } from "./components/slowApi";
export { DockerPlatform, DockerPlatformArgs } from "./platforms/docker";
export { KubernetesPlatform, KubernetesPlatformArgs } from "./platforms/kubernetes";
export { LocalPlatform, LocalPlatformArgs } from "./platforms/local";
export { LoadDriver } from "./platforms/localTools";
export { DeployedService, Platform, PlatformLoad, ServiceHosts } from "./platforms/platform";
export { CpuRole, CpuUsage } from "./lib/load/cpu";
export { Bottleneck, Concurrency, Verdict } from "./lib/load/verdict";
export { CpuQuantities, KubeImages } from "./lib/kubernetesSettings";
export { DriverName, LoadResult, PodRun, RunResult } from "./lib/load/result";
export { ProcessProbe } from "./lib/probes";
export { MODES, Protocol, SERVER_MODES, ServerMode, ServerShape } from "./lib/serverModes";
export { LoadDriverChoice, resolveSettings, Settings } from "./lib/settings";
