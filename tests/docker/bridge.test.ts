// psycopg2-psycogreen as the docker platform runs it by default: on a
// user-defined bridge network, each service its own container with the
// tutorial's hostname, ports published on 127.0.0.1 only. The app reaches the
// slow API and PostgreSQL by name, from its own address on that network: what
// PostgreSQL's pg_hba.conf has to admit (lib/services.ts postgresSpec).
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as path from "path";
import { containerPaths, containerSpec, imageFor } from "../../lib/container";
import { scenarioServices } from "../../lib/services";
import { resolveSettings } from "../../lib/settings";
import { readStackConfig } from "../../lib/stacks";
import { leasePort, releasePort } from "../../providers/portLease";
import { baseImage, buildAppImage, docker, runContainer, startEngine } from "./engine";
import { httpGet } from "../httpGet";

const ROOT = path.join(__dirname, "..", "..");
const STACK = "docker-bridge";
const NETWORK = `fgl-${STACK}`;

const get = async (url: string): Promise<string> => (await httpGet(url)).body;

describe("psycopg2-psycogreen on a Docker bridge network (real engine)", function () {
    let stopEngine: () => Promise<void> = async () => undefined;
    const owner = `docker-suite/${STACK}`;
    const ports = { app: 0, api: 0, ingress: 0, postgres: 0 };
    let names: string[] = [];

    before(async () => {
        stopEngine = await startEngine();
        for (const k of Object.keys(ports) as (keyof typeof ports)[]) ports[k] = await leasePort(`${owner}/${k}`);
    });

    after(async () => {
        for (const name of [...names].reverse()) spawnSync("docker", ["rm", "-f", name], { stdio: "ignore" });
        spawnSync("docker", ["network", "rm", NETWORK], { stdio: "ignore" });
        for (const [k, port] of Object.entries(ports)) if (port) releasePort(port, `${owner}/${k}`);
        await stopEngine();
    });

    it("finds each service by its hostname, PostgreSQL admits the app's container, only loopback sees the ports", async () => {
        const base = baseImage();
        for (const app of ["slow_api", "database_app"]) buildAppImage(app, `flask-gevent-lab/${app}:latest`, base);
        spawnSync("docker", ["network", "rm", NETWORK], { stdio: "ignore" }); // an earlier run's, if it was killed
        docker("network", "create", NETWORK);

        const config: Record<string, string> = { ...readStackConfig(ROOT, "psycopg2-psycogreen"), platform: "docker", dockerNetwork: "bridge" };
        const settings = resolveSettings((k) => config[k]);
        const images = { pythonImage: base, nginxImage: base, postgresImage: base };
        const containers = scenarioServices(settings, ports, containerPaths("bridge"))
            .map(({ role, spec }) => containerSpec(STACK, spec, imageFor(role.image, images), "bridge"));
        names = containers.map((c) => c.name);
        for (const c of containers) await runContainer(c, c.image.name, NETWORK, settings.readyTimeoutSeconds);

        const app = containers.find((c) => c.name.endsWith("-flask-app"))!;
        assert.equal(app.env.POSTGRES_HOST, "postgres");
        assert.equal(app.env.API_HOST, "slow_api");
        // Ten requests at once: ten connections from the app's container to PostgreSQL, each answered with its NOW().
        const bodies = await Promise.all(Array.from({ length: 10 }, () => get(`http://127.0.0.1:${ports.app}/?delay=0.2`)));
        for (const body of bodies) assert.match(body, /^Hi there! slow api response \(datetime\.datetime\(/);

        for (const c of containers) {
            const bindings = JSON.parse(docker("inspect", "-f", "{{json .HostConfig.PortBindings}}", c.name));
            assert.deepEqual(bindings, { [`${c.port}/tcp`]: [{ HostIp: "127.0.0.1", HostPort: String(c.port) }] }, c.name);
            const address = docker("inspect", "-f", `{{(index .NetworkSettings.Networks "${NETWORK}").IPAddress}}`, c.name);
            assert.match(address, /^\d+\.\d+\.\d+\.\d+$/, `${c.name} has an address on ${NETWORK}`);
            assert.notEqual(address, "127.0.0.1");
        }
    });
});
