// Each platform is a component of its own (Pulumi mocks): what it creates for
// itself is its child, and the stack's root holds the platform and the Scenario
// side by side, nothing else.
import { strict as assert } from "assert";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { LoadTest } from "../../components/loadTest";
import { Scenario } from "../../components/scenario";
import { SlowApi } from "../../components/slowApi";
import { parseKubeImages } from "../../lib/kubernetesSettings";
import { resolveSettings } from "../../lib/settings";
import { DockerPlatform } from "../../platforms/docker";
import { KubernetesPlatform } from "../../platforms/kubernetes";
import { LocalPlatform } from "../../platforms/local";
import { Platform } from "../../platforms/platform";

const TOOLS = { pythonBin: "", postgresBin: "/pg/bin", nginx: "/usr/sbin/nginx", uwsgiParams: "/etc/nginx/uwsgi_params" };
const DRIVER = { name: "ab" as const, path: "/usr/bin/ab", version: "2.3" };
const IMAGES = "base=b:1 slow_api=s:1 flask_app=f:1 database_app=p:1";
const STACK = "uwsgi-gevent";

function promiseOf<T>(output: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => output.apply((v) => { resolve(v); return v; }));
}

/** The inputs of every resource declared under the mocks, by type. */
let inputsOf: Map<string, any[]>;

async function mockResources(): Promise<void> {
    let n = 0;
    inputsOf = new Map();
    await pulumi.runtime.setMocks({
        newResource(args) {
            const inputs = args.inputs;
            inputsOf.set(args.type, [...inputsOf.get(args.type) ?? [], inputs]);
            const state = args.type === "pulumi-nodejs:dynamic/local:PortLease" ? { ...inputs, port: 20000 + n++ }
                : inputs.spec ? { ...inputs, pid: 100 + n++, startTime: 1, logFile: "/x.log" }
                : args.type === "pulumi-nodejs:dynamic/kubernetes:ClusterImages" ? { ...inputs, images: parseKubeImages(IMAGES) }
                : args.type === "kubernetes:core/v1:Service" ? { ...inputs, spec: { ...inputs.spec, clusterIP: `10.0.0.${n++}` } }
                : args.type === "kubernetes:batch/v1:Job" ? { ...inputs, metadata: { ...inputs.metadata, name: "job", uid: "u1" } }
                : inputs.expectBody || inputs.jobUid !== undefined ? { ...inputs, result: { requestsPerSecond: 1, failed: 0 } }
                : inputs;
            return { id: `${args.name}-id`, state };
        },
        call: (args) => args.inputs,
    }, "flask-gevent-lab", STACK, false);
}

/** Every URN a scenario on `platform` declares, as "<parent type>$<type>::<name>" (no parent: "<type>::<name>"). */
async function declared(platform: () => Platform, config: Record<string, string>): Promise<string[]> {
    await mockResources();
    const settings = resolveSettings((k) => ({ serverMode: "uwsgi-gevent", ...config })[k]);
    const scenario = new Scenario(STACK, { settings, platform: platform(), driver: DRIVER, resultsDir: "/r" });
    await promiseOf(scenario.result);
    // The mocks' monitor keeps every URN it handed out (pulumi/runtime/mocks: MockMonitor.resources).
    const urns: string[] = [...(pulumi.runtime.getMonitor() as unknown as { resources: Map<string, unknown> }).resources.keys()];
    return urns.map((urn) => urn.split("::").slice(2).join("::"));
}

/** Resources at the stack's root: the URN's type has no parent in it. */
const atRoot = (urns: string[]) => urns.filter((u) => !u.split("::")[0].includes("$")).sort();

describe("platforms as components (Pulumi mocks)", () => {
    it("local: the stack's process scope is the platform's child", async () => {
        const urns = await declared(() => new LocalPlatform(STACK, { runDir: path.join("/run/lab", STACK), tools: TOOLS }), {});
        assert.deepEqual(atRoot(urns), [`flask-gevent-lab:components:Scenario::${STACK}`, `flask-gevent-lab:platforms:Local::${STACK}`]);
        assert.ok(urns.includes(`flask-gevent-lab:platforms:Local$pulumi-nodejs:dynamic/local:Scope::${STACK}-processes`), urns.join("\n"));
    });

    it("docker: the network and the images are the platform's children", async () => {
        const urns = await declared(() => new DockerPlatform(STACK, {}), { platform: "docker" });
        assert.deepEqual(atRoot(urns), [`flask-gevent-lab:components:Scenario::${STACK}`, `flask-gevent-lab:platforms:Docker::${STACK}`]);
        for (const child of ["docker:index/network:Network::uwsgi-gevent-network", "docker:index/image:Image::uwsgi-gevent-image-slow_api",
            "docker:index/image:Image::uwsgi-gevent-image-flask_app"]) {
            assert.ok(urns.includes(`flask-gevent-lab:platforms:Docker$${child}`), `${child} under the platform:\n${urns.join("\n")}`);
        }
    });

    it("kubernetes: the provider, the namespace and the images are the platform's children", async () => {
        const urns = await declared(() => new KubernetesPlatform(STACK, {}), { platform: "kubernetes" });
        assert.deepEqual(atRoot(urns), [`flask-gevent-lab:components:Scenario::${STACK}`, `flask-gevent-lab:platforms:Kubernetes::${STACK}`]);
        for (const child of ["pulumi:providers:kubernetes::uwsgi-gevent-cluster", "kubernetes:core/v1:Namespace::uwsgi-gevent-namespace",
            "pulumi-nodejs:dynamic/kubernetes:ClusterImages::uwsgi-gevent-images"]) {
            assert.ok(urns.includes(`flask-gevent-lab:platforms:Kubernetes$${child}`), `${child} under the platform:\n${urns.join("\n")}`);
        }
    });

    it("kubernetes: what only reaches the load (body, run id, CPU settings) may come from other resources' outputs", async () => {
        await mockResources();
        const platform = new KubernetesPlatform(STACK, {});
        const api = new SlowApi("api", { platform });
        const load = new LoadTest("load", {
            url: api.url, platform, requests: 20, concurrency: 10,
            expectBody: pulumi.interpolate`body ${api.port}`, runId: pulumi.interpolate`run ${api.port}`,
            roleProcessCores: api.port.apply(() => ({ app: 2 })),
        });
        await promiseOf(load.result);
        const job = inputsOf.get("kubernetes:batch/v1:Job")![0];
        assert.equal(job.spec.template.metadata.annotations["flask-gevent-lab/run-id"], "run 4000");
        assert.ok(JSON.stringify(job.spec.template.spec.containers[0].command).includes("body 4000"), JSON.stringify(job.spec.template.spec.containers[0]));
        const run = inputsOf.get("pulumi-nodejs:dynamic/kubernetes:LoadRun")![0];
        assert.deepEqual(run.roleProcessCores, { driver: 1, app: 2 });
    });
});
