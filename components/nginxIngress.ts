import * as pulumi from "@pulumi/pulumi";
import { nginxSpec } from "../lib/services";
import { Settings } from "../lib/settings";
import { DeployedService, loopbackUrl, Platform } from "../platforms/platform";

export interface NginxIngressArgs {
    /** The stack's validated settings: ingress port, the app's port and protocol. */
    settings: Settings;
    /** Where nginx runs. */
    platform: Platform;
    /** The upstream, started first. */
    dependsOn: pulumi.Resource[];
}

/** nginx in front of the app: proxy_pass for HTTP upstreams, uwsgi_pass for the uwsgi protocol. */
export class NginxIngress extends pulumi.ComponentResource {
    /** URL of the ingress on this machine. */
    readonly url: pulumi.Output<string>;
    readonly service: DeployedService;

    constructor(name: string, args: NginxIngressArgs, opts?: pulumi.ComponentResourceOptions) {
        super("flask-gevent-lab:components:NginxIngress", name, {}, opts);
        const spec = nginxSpec(args.settings, args.platform.paths);
        this.service = args.platform.deploy(`${name}-nginx`, spec, { parent: this, dependsOn: args.dependsOn });
        this.url = pulumi.output(loopbackUrl(spec.port));
        this.registerOutputs({ url: this.url });
    }
}
