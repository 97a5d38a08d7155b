// nginx.conf text for an ingress, from the templates in nginx/. Pure apart
// from reading those fixed templates once.
import * as fs from "fs";
import * as path from "path";
import { Protocol } from "./serverModes";

const templatesDir = path.join(__dirname, "..", "nginx");
const template = (name: string) => fs.readFileSync(path.join(templatesDir, name), "utf8");
const MAIN = template("nginx.conf");
/** proxy_pass for HTTP upstreams, uwsgi_pass for the uwsgi protocol. */
const LOCATION: Record<Protocol, string> = { http: template("proxy_pass.conf"), uwsgi: template("uwsgi_pass.conf") };

export interface NginxConfInput {
    listenHost: string;
    listenPort: number;
    upstreamHost: string;
    upstreamPort: number;
    protocol: Protocol;
    /** nginx's prefix folder: pid, logs and temp files. */
    prefix: string;
    /** Path of nginx's uwsgi_params file. */
    uwsgiParams: string;
}

export function renderNginxConf(input: NginxConfInput): string {
    const values: Record<string, string> = {
        prefix: input.prefix,
        listen: `${input.listenHost}:${input.listenPort}`,
        upstream: `${input.upstreamHost}:${input.upstreamPort}`,
        uwsgiParams: input.uwsgiParams,
    };
    const fill = (text: string) => text.replace(/\{\{(\w+)\}\}/g, (_, key: string) => {
        if (!(key in values)) throw new Error(`nginx template: unknown placeholder {{${key}}}`);
        return values[key];
    });
    return fill(MAIN.replace("{{location}}", LOCATION[input.protocol].trimEnd()));
}
