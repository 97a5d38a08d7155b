import * as pulumi from "@pulumi/pulumi";
import { slowApiSpec } from "../lib/services";
import { Settings } from "../lib/settings";
import { DeployedService, loopbackUrl, Platform } from "../platforms/platform";

export interface SlowApiArgs {
    /** The stack's validated settings (lib/settings.ts applies the seed's defaults). */
    settings: Settings;
    /** Where the service runs. */
    platform: Platform;
}

/** The tutorial's sleepy third-party API (aiohttp): answers after ?delay= seconds. */
export class SlowApi extends pulumi.ComponentResource {
    /** URL of the API on this machine. */
    readonly url: pulumi.Output<string>;
    readonly service: DeployedService;

    constructor(name: string, args: SlowApiArgs, opts?: pulumi.ComponentResourceOptions) {
        super("flask-gevent-lab:components:SlowApi", name, {}, opts);
        const spec = slowApiSpec(args.settings, args.platform.paths);
        this.service = args.platform.deploy(`${name}-process`, spec, { parent: this });
        this.url = pulumi.output(loopbackUrl(spec.port));
        this.registerOutputs({ url: this.url });
    }
}
