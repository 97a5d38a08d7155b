import * as pulumi from "@pulumi/pulumi";
import { DATABASE, postgresSpec, SERVICE_NAMES } from "../lib/services";
import { DeployedService, Platform, servicePort, serviceUrls } from "../platforms/platform";

export interface PostgresArgs {
    /** Where the server runs (a LocalPlatform, DockerPlatform or KubernetesPlatform). */
    platform: Platform;
    /** Port it listens on; default a free loopback port, leased at the first up and kept until destroy (on Kubernetes: 5432). */
    port?: pulumi.Input<number>;
    /** CPUs the service is pinned to (a taskset -c list, e.g. "1"); default any. */
    cpus?: pulumi.Input<string>;
    /** Unique within the stack: names its run folder, container and hostname; default "postgres". */
    serviceName?: string;
}

/** A PostgreSQL server with the psycopg2 app's user and database (the tutorial's POSTGRES_USER). */
export class Postgres extends pulumi.ComponentResource {
    /** libpq URL of the app's database from this machine, once the server accepts connections. */
    readonly url: pulumi.Output<string>;
    /** The same from the platform's other services: give it to FlaskApp's databaseUrl. */
    readonly serviceUrl: pulumi.Output<string>;
    readonly port: pulumi.Output<number>;
    readonly service: DeployedService;

    constructor(name: string, args: PostgresArgs, opts?: pulumi.ComponentResourceOptions) {
        super("flask-gevent-lab:components:Postgres", name, {}, opts);
        const { platform } = args;
        const serviceName = args.serviceName ?? SERVICE_NAMES.postgres;
        this.port = servicePort(name, platform, serviceName, args.port, 5432, { parent: this });
        const spec = pulumi.all([this.port, args.cpus]).apply(([port, cpus]) => ({ ...postgresSpec(serviceName, port, platform.paths), cpus }));
        this.service = platform.deploy(`${name}-server`, { name: serviceName, kind: "postgres", image: "postgres" }, spec, { parent: this });
        ({ url: this.url, serviceUrl: this.serviceUrl } = serviceUrls(this.service, this.port, (host, port) =>
            `postgresql://${DATABASE.user}:${DATABASE.password}@${host}:${port}/${DATABASE.name}`));
        this.registerOutputs({ url: this.url, serviceUrl: this.serviceUrl, port: this.port });
    }
}
