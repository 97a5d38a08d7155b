// A fresh clone, then `eval "$(./lab env)"` and nothing else: every
// scenario's stack exists, so `pulumi up/preview/stack output -s <scenario>`
// work at once. The clone is a copy of this working tree (what git would
// clone, uncommitted edits included) with its own, empty Pulumi state; it
// shares node_modules, the virtualenv and the toolchain (cached per machine).
import { strict as assert } from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { listStacks } from "../../lib/stacks";
import { ROOT } from "./stack";

/** Runs a bash script in the clone after `eval "$(./lab env)"`; its stdout, stderr and seconds. */
function inClone(clone: string, script: string): { stdout: string; stderr: string; seconds: number } {
    const start = Date.now();
    // The test runner's own Pulumi settings point at this project: the clone's ./lab env must set its own.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PULUMI_")));
    const r = spawnSync("bash", ["-c", `set -e; eval "$(./lab env)"; ${script}`], { cwd: clone, env, encoding: "utf8" });
    assert.equal(r.status, 0, `${script}:\n${r.stdout}\n${r.stderr}`);
    return { stdout: r.stdout, stderr: r.stderr, seconds: (Date.now() - start) / 1000 };
}

describe("./lab env on a fresh clone (real pulumi)", function () {
    let clone: string;

    before(() => {
        clone = fs.mkdtempSync(path.join(os.tmpdir(), "fgl-clone-"));
        const files = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: ROOT })
            .toString().split("\0").filter((f) => f && fs.existsSync(path.join(ROOT, f)));
        for (const f of files) {
            fs.mkdirSync(path.dirname(path.join(clone, f)), { recursive: true });
            fs.copyFileSync(path.join(ROOT, f), path.join(clone, f));
            // Keep times: a package-lock.json newer than node_modules' would make ./lab run npm ci on the shared one.
            const { atime, mtime, mode } = fs.statSync(path.join(ROOT, f));
            fs.utimesSync(path.join(clone, f), atime, mtime);
            fs.chmodSync(path.join(clone, f), mode);
        }
        fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(clone, "node_modules"));
        // An interrupted test and matrix run's stack files: not stacks of the project.
        for (const leftover of ["e2e-left", "matrix-left", "sweep-left"]) {
            fs.copyFileSync(path.join(ROOT, "Pulumi.dev.yaml"), path.join(clone, `Pulumi.${leftover}.yaml`));
        }
    });

    after(() => {
        if (clone) fs.rmSync(clone, { recursive: true, force: true });
    });

    it("creates a stack for every committed stack file, only those, and nothing on stdout but the exports", () => {
        const { stdout } = inClone(clone, "pulumi stack ls --json");
        const created = JSON.parse(stdout).map((s: { name: string }) => s.name).sort();
        assert.deepEqual(created, listStacks(ROOT));
        assert.ok(created.includes("dev") && created.includes("uwsgi-gevent") && !created.some((s: string) => /left$/.test(s)));
        const exports = inClone(clone, "./lab env").stdout;
        for (const line of exports.trim().split("\n")) assert.match(line, /^export [A-Z_]+=/);
    });

    it("lets pulumi use any scenario's stack at once: config, preview, stack output", () => {
        const config = inClone(clone, "pulumi config -s devserver --json").stdout;
        assert.equal(JSON.parse(config)["flask-gevent-lab:serverMode"].value, "devserver");
        const preview = inClone(clone, "pulumi preview -s devserver --non-interactive --color never").stdout;
        assert.match(preview, /\+ .*flask-app/);
        inClone(clone, "pulumi stack output -s psycopg2-psycogreen");
    });

    it("creates nothing the second time", () => {
        const again = inClone(clone, "true");
        assert.doesNotMatch(again.stderr, /creating the stack/);
    });
});
