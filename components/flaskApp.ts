import * as pulumi from "@pulumi/pulumi";
import { flaskAppSpec } from "../lib/services";
import { MODES } from "../lib/serverModes";
import { serverCapacity, Settings } from "../lib/settings";
import { DeployedService, loopbackUrl, Platform } from "../platforms/platform";

export interface FlaskAppArgs {
    /** The stack's validated settings: serverMode, shape, protocol, database, psycogreen, ports. */
    settings: Settings;
    /** Where the server runs. */
    platform: Platform;
    /** Services the app calls, started first. */
    dependsOn: pulumi.Resource[];
}

/** The tutorial's Flask app under one server mode (dev server, pywsgi, Gunicorn, uWSGI). */
export class FlaskApp extends pulumi.ComponentResource {
    /** URL of the app itself: http://, or uwsgi:// when it speaks the uwsgi protocol. */
    readonly url: pulumi.Output<string>;
    /** One line: the server and its shape. */
    readonly server: string;
    /** Requests the server can hold at once (Infinity: one thread or greenlet per request). */
    readonly capacity: number;
    readonly service: DeployedService;

    constructor(name: string, args: FlaskAppArgs, opts?: pulumi.ComponentResourceOptions) {
        super("flask-gevent-lab:components:FlaskApp", name, {}, opts);
        const { settings } = args;
        const spec = flaskAppSpec(settings, args.platform.paths);
        this.service = args.platform.deploy(`${name}-server`, spec, { parent: this, dependsOn: args.dependsOn });
        this.url = pulumi.output(settings.protocol === "http" ? loopbackUrl(spec.port) : `uwsgi://127.0.0.1:${spec.port}`);
        this.server = MODES[settings.serverMode].describe(settings.shape) +
            (settings.shape.listen ? `, listen backlog ${settings.shape.listen}` : "") +
            (settings.protocol === "uwsgi" ? ", uwsgi protocol" : "");
        this.capacity = serverCapacity(settings);
        this.registerOutputs({ url: this.url, server: this.server });
    }
}
