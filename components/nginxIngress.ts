import * as pulumi from "@pulumi/pulumi";
import { endpointOf, nginxSpec, SERVICE_NAMES } from "../lib/services";
import { DeployedService, Platform, servicePort, serviceUrls } from "../platforms/platform";

export interface NginxIngressArgs {
    /** Where nginx runs (a LocalPlatform, DockerPlatform or KubernetesPlatform). */
    platform: Platform;
    /** The app servers, as this platform's services reach them (FlaskApp.serviceUrl), balanced round-robin; all http:// (proxy_pass) or all uwsgi:// (uwsgi_pass). */
    upstreams: pulumi.Input<pulumi.Input<string>[]>;
    /** Port it listens on; default a free loopback port, leased at the first up and kept until destroy (on Kubernetes: 80). */
    port?: pulumi.Input<number>;
    /** CPUs nginx is pinned to (a taskset -c list, e.g. "1"); default any. */
    cpus?: pulumi.Input<string>;
    /** Unique within the stack: names its run folder, container and hostname; default "nginx". */
    serviceName?: string;
}

/** nginx in front of app servers: proxy_pass for HTTP upstreams, uwsgi_pass for the uwsgi protocol. */
export class NginxIngress extends pulumi.ComponentResource {
    /** URL from this machine, once nginx answers. */
    readonly url: pulumi.Output<string>;
    /** URL from this platform's other services, once nginx answers. */
    readonly serviceUrl: pulumi.Output<string>;
    readonly port: pulumi.Output<number>;
    readonly service: DeployedService;

    constructor(name: string, args: NginxIngressArgs, opts?: pulumi.ComponentResourceOptions) {
        super("flask-gevent-lab:components:NginxIngress", name, {}, opts);
        const { platform } = args;
        const serviceName = args.serviceName ?? SERVICE_NAMES.nginx;
        this.port = servicePort(name, platform, serviceName, args.port, 80, { parent: this });
        const spec = pulumi.all([this.port, pulumi.output(args.upstreams), args.cpus]).apply(([port, upstreams, cpus]) => {
            const schemes = new Set(upstreams.map((u) => new URL(u).protocol));
            if (schemes.size !== 1) {
                throw new Error(`NginxIngress ${name}: upstreams must all be http:// or all uwsgi://, got ${upstreams.join(", ") || "none"}`);
            }
            return {
                ...nginxSpec(serviceName, {
                    port,
                    upstreams: upstreams.map((u) => endpointOf(u, `NginxIngress ${name}: upstreams`)),
                    protocol: schemes.has("uwsgi:") ? "uwsgi" : "http",
                }, platform.paths),
                cpus,
            };
        });
        this.service = platform.deploy(`${name}-nginx`, { name: serviceName, kind: "ingress", image: "nginx" }, spec, { parent: this });
        ({ url: this.url, serviceUrl: this.serviceUrl } = serviceUrls(this.service, this.port, (host, p) => `http://${host}:${p}/`));
        this.registerOutputs({ url: this.url, serviceUrl: this.serviceUrl, port: this.port });
    }
}
