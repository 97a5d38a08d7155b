// nginx.conf text for an ingress, from the templates in nginx/. Pure apart
// from reading those fixed templates once.
import * as fs from "fs";
import * as path from "path";
import { PACKAGE_ROOT } from "./packageRoot";
import { Protocol } from "./serverModes";

const templatesDir = path.join(PACKAGE_ROOT, "nginx");
const template = (name: string) => fs.readFileSync(path.join(templatesDir, name), "utf8");
const MAIN = template("nginx.conf");
/** proxy_pass for HTTP upstreams, uwsgi_pass for the uwsgi protocol. */
const LOCATION: Record<Protocol, string> = { http: template("proxy_pass.conf"), uwsgi: template("uwsgi_pass.conf") };

export interface NginxConfInput {
    listenHost: string;
    listenPort: number;
    /** The app servers, balanced round-robin. */
    upstreams: { host: string; port: number }[];
    protocol: Protocol;
    /** nginx's prefix folder: pid, logs and temp files. */
    prefix: string;
    /** Path of nginx's uwsgi_params file. */
    uwsgiParams: string;
}

export function renderNginxConf(input: NginxConfInput): string {
    if (input.upstreams.length === 0) throw new Error("nginx: at least one upstream server is needed");
    const values: Record<string, string> = {
        prefix: input.prefix,
        listen: `${input.listenHost}:${input.listenPort}`,
        servers: input.upstreams.map((u) => `        server ${u.host}:${u.port};`).join("\n"),
        uwsgiParams: input.uwsgiParams,
    };
    const fill = (text: string) => text.replace(/\{\{(\w+)\}\}/g, (_, key: string) => {
        if (!(key in values)) throw new Error(`nginx template: unknown placeholder {{${key}}}`);
        return values[key];
    });
    return fill(MAIN.replace("{{location}}", LOCATION[input.protocol].trimEnd()));
}
