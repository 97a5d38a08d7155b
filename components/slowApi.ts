import * as pulumi from "@pulumi/pulumi";
import { SERVICE_NAMES, slowApiSpec } from "../lib/services";
import { DeployedService, loopbackUrl, Platform, servicePort, whenReady } from "../platforms/platform";

export interface SlowApiArgs {
    /** Where the service runs (a LocalPlatform or DockerPlatform). */
    platform: Platform;
    /** Port it listens on; default a free loopback port, leased at the first up and kept until destroy. */
    port?: pulumi.Input<number>;
    /** CPUs the service is pinned to (a taskset -c list, e.g. "1"); default any. */
    cpus?: string;
    /** Unique within the stack: names its run folder, container and hostname; default "slow-api". */
    serviceName?: string;
}

/** The tutorial's sleepy third-party API (aiohttp): answers after ?delay= seconds. */
export class SlowApi extends pulumi.ComponentResource {
    /** URL from this machine, once the API answers. */
    readonly url: pulumi.Output<string>;
    /** URL from the platform's other services (a hostname on a Docker bridge): give it to FlaskApp's upstreamUrl. */
    readonly serviceUrl: pulumi.Output<string>;
    readonly port: pulumi.Output<number>;
    readonly service: DeployedService;

    constructor(name: string, args: SlowApiArgs, opts?: pulumi.ComponentResourceOptions) {
        super("flask-gevent-lab:components:SlowApi", name, {}, opts);
        const { platform } = args;
        const serviceName = args.serviceName ?? SERVICE_NAMES.slowApi;
        this.port = servicePort(name, platform, serviceName, args.port, { parent: this });
        const spec = this.port.apply((port) => ({ ...slowApiSpec(serviceName, port, platform.paths), cpus: args.cpus }));
        this.service = platform.deploy(`${name}-process`, { name: serviceName, image: { app: "slow_api" } }, spec, { parent: this });
        this.url = whenReady(this.service, this.port, (p) => loopbackUrl(p));
        this.serviceUrl = whenReady(this.service, this.port, (p) => `http://${platform.paths.hostOf(serviceName)}:${p}/`);
        this.registerOutputs({ url: this.url, serviceUrl: this.serviceUrl, port: this.port });
    }
}
