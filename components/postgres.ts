import * as pulumi from "@pulumi/pulumi";
import { DATABASE, postgresSpec } from "../lib/services";
import { Settings } from "../lib/settings";
import { DeployedService, Platform } from "../platforms/platform";

export interface PostgresArgs {
    /** The stack's validated settings (lib/settings.ts applies the seed's defaults). */
    settings: Settings;
    /** Where the server runs. */
    platform: Platform;
}

/** A PostgreSQL server with the psycopg2 app's user and database (the tutorial's POSTGRES_USER). */
export class Postgres extends pulumi.ComponentResource {
    /** libpq connection string for the app's database. */
    readonly connectionString: pulumi.Output<string>;
    readonly service: DeployedService;

    constructor(name: string, args: PostgresArgs, opts?: pulumi.ComponentResourceOptions) {
        super("flask-gevent-lab:components:Postgres", name, {}, opts);
        const spec = postgresSpec(args.settings, args.platform.paths);
        this.service = args.platform.deploy(`${name}-server`, spec, { parent: this });
        this.connectionString = pulumi.output(
            `postgresql://${DATABASE.user}:${DATABASE.password}@127.0.0.1:${spec.port}/${DATABASE.name}`);
        this.registerOutputs({ connectionString: this.connectionString });
    }
}
