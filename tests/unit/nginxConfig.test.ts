import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { renderNginxConf } from "../../lib/nginxConfig";
import { which } from "../../platforms/localTools";

const input = (protocol: "http" | "uwsgi", prefix = "/run/lab/nginx") => ({
    listenHost: "127.0.0.1", listenPort: 8080, upstreams: [{ host: "127.0.0.1", port: 3000 }],
    protocol, prefix, uwsgiParams: "/etc/nginx/uwsgi_params",
});

describe("nginx config", () => {
    it("proxies HTTP upstreams with the tutorial's forwarded headers", () => {
        const conf = renderNginxConf(input("http"));
        assert.match(conf, /listen 127\.0\.0\.1:8080;/);
        assert.match(conf, /upstream app \{\s+server 127\.0\.0\.1:3000;\s+\}/);
        assert.match(conf, /proxy_pass http:\/\/app;/);
        for (const header of ["Host $http_host", "X-Real-IP $remote_addr", "X-Forwarded-For $proxy_add_x_forwarded_for", "X-Forwarded-Proto $scheme"]) {
            assert.ok(conf.includes(`proxy_set_header ${header};`), header);
        }
        assert.doesNotMatch(conf, /uwsgi_pass/);
    });

    it("speaks the uwsgi protocol to uWSGI upstreams", () => {
        const conf = renderNginxConf(input("uwsgi"));
        assert.match(conf, /include \/etc\/nginx\/uwsgi_params;/);
        assert.match(conf, /uwsgi_pass app;/);
        assert.doesNotMatch(conf, /proxy_pass/);
        assert.doesNotMatch(conf, /\{\{/);
    });

    it("balances across every upstream server", () => {
        const conf = renderNginxConf({ ...input("http"), upstreams: [{ host: "127.0.0.1", port: 3000 }, { host: "flask_app", port: 3001 }] });
        assert.match(conf, /upstream app \{\s+server 127\.0\.0\.1:3000;\s+server flask_app:3001;\s+\}/);
        assert.throws(() => renderNginxConf({ ...input("http"), upstreams: [] }), /at least one upstream/);
    });

    it("renders configs that nginx itself accepts", () => {
        const nginx = which("nginx");
        assert.ok(nginx, "nginx is needed: ./lab setup installs it");
        for (const protocol of ["http", "uwsgi"] as const) {
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nginx-test-"));
            fs.writeFileSync(path.join(dir, "nginx.conf"), renderNginxConf(input(protocol, dir)));
            execFileSync(nginx, ["-t", "-q", "-p", dir, "-c", path.join(dir, "nginx.conf")], { stdio: "pipe" });
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
