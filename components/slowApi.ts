import * as pulumi from "@pulumi/pulumi";
import { SERVICE_NAMES, slowApiSpec } from "../lib/services";
import { DeployedService, Platform, servicePort, serviceUrls } from "../platforms/platform";

export interface SlowApiArgs {
    /** Where the service runs (a LocalPlatform, DockerPlatform or KubernetesPlatform). */
    platform: Platform;
    /** Port it listens on; default a free loopback port, leased at the first up and kept until destroy (on Kubernetes: 4000, the tutorial's). */
    port?: pulumi.Input<number>;
    /** CPUs the service is pinned to (a taskset -c list, e.g. "1"); default any. */
    cpus?: pulumi.Input<string>;
    /** Unique within the stack: names its run folder, container and hostname; default "slow-api". */
    serviceName?: string;
}

/** The tutorial's sleepy third-party API (aiohttp): answers after ?delay= seconds. */
export class SlowApi extends pulumi.ComponentResource {
    /** URL from this machine, once the API answers. */
    readonly url: pulumi.Output<string>;
    /** URL from the platform's other services (a hostname on a Docker bridge, a ClusterIP): give it to FlaskApp's upstreamUrl. */
    readonly serviceUrl: pulumi.Output<string>;
    readonly port: pulumi.Output<number>;
    readonly service: DeployedService;

    constructor(name: string, args: SlowApiArgs, opts?: pulumi.ComponentResourceOptions) {
        super("flask-gevent-lab:components:SlowApi", name, {}, opts);
        const { platform } = args;
        const serviceName = args.serviceName ?? SERVICE_NAMES.slowApi;
        this.port = servicePort(name, platform, serviceName, args.port, 4000, { parent: this });
        const spec = pulumi.all([this.port, args.cpus]).apply(([port, cpus]) => ({ ...slowApiSpec(serviceName, port, platform.paths), cpus }));
        this.service = platform.deploy(`${name}-process`, { name: serviceName, kind: "upstream", image: { app: "slow_api" } }, spec, { parent: this });
        ({ url: this.url, serviceUrl: this.serviceUrl } = serviceUrls(this.service, this.port, (host, p) => `http://${host}:${p}/`));
        this.registerOutputs({ url: this.url, serviceUrl: this.serviceUrl, port: this.port });
    }
}
