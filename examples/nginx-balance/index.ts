// Not one of the tutorial's topologies: nginx balancing round-robin across a
// gevent app (Gunicorn, 1 worker) and a thread-pool app (Gunicorn, 2 x 25
// threads), each measured through nginx and directly, one load after another.
import * as pulumi from "@pulumi/pulumi";
import { FlaskApp, LoadTest, LoadTestArgs, LocalPlatform, NginxIngress, SlowApi } from "flask-gevent-lab";

const config = new pulumi.Config();
const load = {
    requests: config.requireNumber("requests"),
    concurrency: config.requireNumber("concurrency"),
    delaySeconds: Number(config.require("delaySeconds")),
    expectBody: "Hi there! slow api response",
};

const platform = new LocalPlatform("lab");
const api = new SlowApi("api", { platform });
const gevent = new FlaskApp("gevent", {
    platform, serverMode: "gunicorn-gevent", upstreamUrl: api.serviceUrl, serviceName: "app-gevent",
});
const threaded = new FlaskApp("threaded", {
    platform, serverMode: "gunicorn-sync", workers: 2, threads: 25, upstreamUrl: api.serviceUrl, serviceName: "app-threaded",
});
const web = new NginxIngress("web", { platform, upstreams: [gevent.serviceUrl, threaded.serviceUrl] });

/** Starts a load once `previous` has finished: two loads never share the machine. */
function after(previous: LoadTest | undefined, url: pulumi.Output<string>): pulumi.Output<string> {
    return previous ? pulumi.all([url, previous.result]).apply(([u]) => u) : url;
}

const targets: [string, pulumi.Output<string>, number, LoadTestArgs["threads"]][] = [
    // Round-robin: each app gets half the clients, so the pool caps nginx at twice its 50.
    ["via-nginx", web.url, 2 * Math.min(gevent.capacity, threaded.capacity), undefined],
    ["gevent-direct", gevent.url, gevent.capacity, gevent.service.threads],
    ["threaded-direct", threaded.url, threaded.capacity, threaded.service.threads],
];
const results: Record<string, LoadTest> = {};
let previous: LoadTest | undefined;
for (const [name, url, capacity, threads] of targets) {
    // upstreamUrl: the slow API's own count checks each driver's failures and shows what was held at once.
    previous = results[name] = new LoadTest(name, { ...load, url: after(previous, url), upstreamUrl: api.url, capacity, threads });
}

export const url = web.url;
export const servers = { gevent: gevent.server, threaded: threaded.server };
export const requestsPerSecond = Object.fromEntries(Object.entries(results).map(([k, t]) => [k, t.result.requestsPerSecond]));
export const limitRps = Object.fromEntries(Object.entries(results).map(([k, t]) => [k, t.result.limitRps]));
export const failedRequests = Object.fromEntries(Object.entries(results).map(([k, t]) => [k, t.result.failed]));
export const threadsPeak = Object.fromEntries(Object.entries(results).map(([k, t]) => [k, t.result.threadsPeak]));
export const upstream = Object.fromEntries(Object.entries(results).map(([k, t]) => [k, t.result.upstream]));
