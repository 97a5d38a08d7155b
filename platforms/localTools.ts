// Finds the programs a topology needs on this machine, before anything
// starts; a missing one is an error that says how to get it.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { parseAbVersion } from "../lib/load/ab";
import { parseK6Version } from "../lib/load/k6";
import { parseOhaVersion } from "../lib/load/oha";
import { DriverName } from "../lib/load/result";
import { LoadDriverChoice } from "../lib/settings";
import { PACKAGE_ROOT } from "../lib/packageRoot";

export interface LocalTools {
    /** Folder of the project's Python virtualenv executables. */
    pythonBin: string;
    /** Folder of PostgreSQL's server programs; "" when not needed. */
    postgresBin: string;
    /** nginx executable; "" when not needed. */
    nginx: string;
    /** nginx's uwsgi_params. */
    uwsgiParams: string;
    /** The load driver that will run, its executable and version; found only when asked for. */
    driver?: LoadDriver;
    /** oha for a capacity search's probes; found only when asked for. */
    rateDriver?: LoadDriver;
}

/** A load generator on this machine. */
export interface LoadDriver {
    name: DriverName;
    path: string;
    version: string;
}

/**
 * The Python virtualenv the servers run from: $FGL_VENV where set, else the one `./lab setup` links into the clone
 * (<package>/.lab/venv). Installed from a packed tarball, the package has none of its own: set FGL_VENV (or
 * LocalPlatformArgs.venv) to one made from the package's python-apps/requirements.txt.
 */
export function defaultVenv(): string {
    return process.env.FGL_VENV || path.join(PACKAGE_ROOT, ".lab", "venv");
}

export interface ToolNeeds {
    /** The Python virtualenv (defaultVenv()). */
    venv: string;
    /** The Python servers run here (not in containers). */
    python: boolean;
    /** The docker CLI (platform: docker). */
    docker: boolean;
    postgres: boolean;
    nginx: boolean;
    /** The load driver to find; unset: none. */
    driver?: LoadDriverChoice;
    /** oha, for a capacity search. */
    rateDriver?: boolean;
}

export class MissingToolError extends Error {
    constructor(readonly missing: string[]) {
        super(`missing tools:\n  - ${missing.join("\n  - ")}`);
        this.name = "MissingToolError";
    }
}

const SBIN = ["/usr/local/sbin", "/usr/sbin", "/sbin"];

/** The first executable `name` on PATH (or in the sbin folders); undefined if none. */
export function which(name: string): string | undefined {
    const dirs = [...(process.env.PATH ?? "").split(path.delimiter), ...SBIN].filter(Boolean);
    for (const dir of dirs) {
        const candidate = path.join(dir, name);
        try {
            fs.accessSync(candidate, fs.constants.X_OK);
            if (fs.statSync(candidate).isFile()) return candidate;
        } catch { /* keep looking */ }
    }
    return undefined;
}

/** Newest /usr/lib/postgresql/<version>/bin holding a server, or the folder of `postgres` on PATH. */
export function findPostgresBin(): string | undefined {
    const root = "/usr/lib/postgresql";
    const versions = fs.existsSync(root)
        ? fs.readdirSync(root).filter((v) => fs.existsSync(path.join(root, v, "bin", "postgres"))).sort((a, b) => Number(b) - Number(a))
        : [];
    if (versions.length) return path.join(root, versions[0], "bin");
    const onPath = which("postgres");
    return onPath && path.dirname(onPath);
}

/** The engine finds pulumi-resource-docker on PATH or among the installed plugins. */
function dockerPluginInstalled(): boolean {
    const plugins = path.join(process.env.PULUMI_HOME ?? path.join(process.env.HOME ?? "", ".pulumi"), "plugins");
    return which("pulumi-resource-docker") !== undefined ||
        (fs.existsSync(plugins) && fs.readdirSync(plugins).some((d) => d.startsWith("resource-docker-")));
}

export function findLocalTools(needs: ToolNeeds): LocalTools {
    const missing: string[] = [];
    const setup = "run ./lab setup";

    const pythonBin = path.join(needs.venv, "bin");
    // Outside the clone there is no ./lab: the fix is a virtualenv of the package's requirements, named by FGL_VENV.
    const requirements = path.join(PACKAGE_ROOT, "python-apps", "requirements.txt");
    const venvFix = fs.existsSync(path.join(PACKAGE_ROOT, "lab")) ? `${setup}: it installs python-apps/requirements.txt`
        : `python3 -m venv <dir> && <dir>/bin/pip install -r ${requirements}, then set FGL_VENV=<dir> or LocalPlatformArgs.venv`;
    for (const program of needs.python ? ["python", "flask", "gunicorn", "uwsgi"] : []) {
        if (!fs.existsSync(path.join(pythonBin, program))) missing.push(`${program} in the Python virtualenv ${needs.venv} (${venvFix})`);
    }

    let postgresBin = "";
    if (needs.postgres) {
        postgresBin = findPostgresBin() ?? "";
        if (!postgresBin) missing.push(`PostgreSQL server (postgres, initdb) for database: true (${setup}, or apt-get install postgresql)`);
    }

    let nginx = "";
    if (needs.nginx) {
        nginx = which("nginx") ?? "";
        if (!nginx) missing.push(`nginx for ingress: nginx (${setup}, or apt-get install nginx)`);
    }
    const uwsgiParams = "/etc/nginx/uwsgi_params";
    if (needs.docker) {
        if (!which("docker")) missing.push("the docker CLI and a Docker engine for platform: docker (or pulumi config set platform local)");
        if (!dockerPluginInstalled()) {
            missing.push("the Pulumi docker provider plugin for platform: docker (pulumi plugin install resource docker; " +
                "it can't be downloaded on an offline machine: README, \"Docker\")");
        }
    }

    const driver = needs.driver === undefined ? undefined : findDriver(needs.driver, missing);
    const rateDriver = !needs.rateDriver ? undefined : driver?.name === "oha" ? driver : findDriver("oha", missing);
    if (missing.length) throw new MissingToolError(missing);
    return { pythonBin, postgresBin, nginx, uwsgiParams, driver, rateDriver };
}

/** The load driver a choice means on this machine; what is missing is added to `missing` (thrown when not given). */
export function findDriver(choice: LoadDriverChoice, missing?: string[]): LoadDriver {
    const problems = missing ?? [];
    if (choice === "oha") {
        const oha = findOha(problems);
        if (!oha && !missing) throw new MissingToolError(problems);
        return oha ?? { name: "oha", path: "", version: "" };
    }
    const k6 = which("k6");
    const ab = which("ab");
    const useK6 = choice === "k6" || (choice === "auto" && k6 !== undefined);
    if (useK6 && !k6) problems.push("k6 for loadDriver: k6 (install k6 on PATH, or pulumi config set loadDriver ab)");
    if (!useK6 && !ab) problems.push("ApacheBench (ab) for the load test (run ./lab setup, or apt-get install apache2-utils)");
    if (problems.length) {
        if (!missing) throw new MissingToolError(problems);
        return { name: useK6 ? "k6" : "ab", path: "", version: "" };
    }
    return useK6
        ? { name: "k6", path: k6!, version: parseK6Version(execFileSync(k6!, ["version"]).toString()) }
        : { name: "ab", path: ab!, version: parseAbVersion(execFileSync(ab!, ["-V"]).toString()) };
}

/** The pinned oha: scripts/oha.sh prints the cached build, building it first when there is none (once per machine, ~4 min). */
function findOha(problems: string[]): LoadDriver | undefined {
    try {
        // Its progress goes to stderr: the up shows why it takes minutes the first time.
        const oha = execFileSync(path.join(PACKAGE_ROOT, "scripts", "oha.sh"), { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
        return { name: "oha", path: oha, version: parseOhaVersion(execFileSync(oha, ["--version"], { encoding: "utf8" })) };
    } catch (e) {
        problems.push(`oha for loadDriver: oha: scripts/oha.sh could not build it (${(e as Error).message.split("\n")[0]}; ` +
            `its messages are above) (install Rust 1.88+ with cargo, or pulumi config set loadDriver ab)`);
        return undefined;
    }
}
