// The Docker test suite's set-up: a running engine (started here if needed,
// and stopped again), the local base image, and the apps' images built from
// python-apps/Dockerfile on that base.
import { ChildProcess, execFileSync, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ContainerSpec, dockerCreateArgv } from "../../lib/container";

const ROOT = path.join(__dirname, "..", "..");

export function docker(...args: string[]): string {
    const r = spawnSync("docker", args, { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`docker ${args.slice(0, 3).join(" ")}: ${(r.stderr || r.stdout || String(r.error)).trim()}`);
    return r.stdout.trim();
}

function engineAnswers(): boolean {
    return spawnSync("docker", ["info"], { stdio: "ignore" }).status === 0;
}

/** Makes sure a Docker engine answers; returns how to stop it if this call started it. Throws, saying why, if it can't. */
export async function startEngine(): Promise<() => Promise<void>> {
    if (engineAnswers()) return async () => undefined;
    const dockerd = ["/usr/sbin/dockerd", "/usr/bin/dockerd"].find((p) => fs.existsSync(p));
    if (!dockerd) throw new Error("Docker engine: not running, and no dockerd to start (./lab setup installs docker.io)");
    fs.mkdirSync(path.join(ROOT, ".lab"), { recursive: true });
    const logFile = path.join(ROOT, ".lab", "dockerd.log");
    const log = fs.openSync(logFile, "a");
    const daemon: ChildProcess = spawn(dockerd, [], { detached: true, stdio: ["ignore", log, log] });
    fs.closeSync(log);
    const deadline = Date.now() + 60_000;
    while (!engineAnswers()) {
        if (daemon.exitCode !== null || Date.now() > deadline) {
            try { process.kill(-daemon.pid!, "SIGKILL"); } catch { /* gone */ }
            const tail = fs.readFileSync(logFile, "utf8").split("\n").slice(-15).join("\n");
            throw new Error(`Docker engine: dockerd did not come up (${daemon.exitCode !== null ? `exited ${daemon.exitCode}` : "60 s"}):\n${tail}`);
        }
        await new Promise((r) => setTimeout(r, 500));
    }
    return async () => {
        process.kill(daemon.pid!, "SIGTERM");
        const stopBy = Date.now() + 30_000;
        while (daemon.exitCode === null && Date.now() < stopBy) await new Promise((r) => setTimeout(r, 200));
        if (daemon.exitCode === null) process.kill(-daemon.pid!, "SIGKILL");
    };
}

/** The local Debian base image (built once by scripts/base-image.sh). */
export function baseImage(): string {
    return execFileSync(path.join(ROOT, "scripts", "base-image.sh"), { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
}

/** Builds one app's image from python-apps/Dockerfile, as the docker platform would; returns its build seconds. */
export function buildAppImage(app: string, imageName: string, pythonImage: string): number {
    const start = Date.now();
    // Host networking for the build: pip reaches the package index the way the machine does.
    execFileSync("docker", ["build", "--network", "host", "-q", "-f", path.join(ROOT, "python-apps", "Dockerfile"),
        "--build-arg", `APP=${app}`, "--build-arg", `PYTHON_IMAGE=${pythonImage}`, "-t", imageName,
        path.join(ROOT, "python-apps")], { stdio: ["ignore", "ignore", "pipe"] });
    return (Date.now() - start) / 1000;
}

/** Creates, fills and starts one container from its spec, and waits until its health check passes. */
export async function runContainer(c: ContainerSpec, imageRef: string, network: string, timeoutSeconds: number): Promise<void> {
    docker(...dockerCreateArgv(c, imageRef, network));
    if (c.files.length) {
        // docker cp of a tar stream creates the files' folders too.
        const staging = fs.mkdtempSync(path.join(os.tmpdir(), "fgl-files-"));
        for (const f of c.files) {
            fs.mkdirSync(path.join(staging, path.dirname(f.path)), { recursive: true });
            fs.writeFileSync(path.join(staging, f.path), f.content);
        }
        execFileSync("sh", ["-c", `tar -C '${staging}' -c . | docker cp - '${c.name}:/'`]);
        fs.rmSync(staging, { recursive: true, force: true });
    }
    docker("start", c.name);
    const deadline = Date.now() + timeoutSeconds * 1000;
    for (;;) {
        const status = docker("inspect", "-f", "{{.State.Status}} {{.State.Health.Status}}", c.name);
        if (status === "running healthy") return;
        if (!status.startsWith("running") || Date.now() > deadline) {
            const logs = spawnSync("docker", ["logs", "--tail", "20", c.name], { encoding: "utf8" });
            throw new Error(`${c.name} is "${status}", not healthy:\n${logs.stdout}${logs.stderr}`);
        }
        await new Promise((r) => setTimeout(r, 250));
    }
}
