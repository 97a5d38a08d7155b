import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Progress } from "../../scripts/progress";
import { duration, finishedLine, fit, roughly, runningLine, sameWorkSeconds, secondsLeft, Work } from "../../lib/progress";
import { MatrixResults, SweepPoint } from "../../lib/report";

const matrix = (finished: number[], earlier?: Work["earlier"]): Work => ({ what: "matrix", total: 12, finished, earlier });

describe("progress lines", () => {
    it("says elapsed times to the second, and hours to the minute", () => {
        assert.deepEqual([0.4, 45, 60, 125, 3600, 3780, 7265].map(duration), ["0 s", "45 s", "1 min", "2 min 5 s", "1 h", "1 h 3 min", "2 h 1 min"]);
    });

    it("says estimates to the minute, under a minute as such", () => {
        assert.deepEqual([20, 29, 31, 840, 3900].map(roughly), ["<1 min", "<1 min", "~1 min", "~14 min", "~1 h 5 min"]);
    });

    it("shows what runs, how many of how many, and no estimate before a step finished", () => {
        assert.equal(runningLine(matrix([]), "devserver-threaded: up + load", 0), "[matrix 1/12] devserver-threaded: up + load");
        assert.equal(runningLine(matrix([]), "devserver-threaded: up + load", 125), "[matrix 1/12] devserver-threaded: up + load (2 min 5 s)");
    });

    it("estimates from the mean of the finished steps, the running one's time spent counted", () => {
        // Two steps of 1 and 2 min: 1.5 min each for the ten left, the running one 30 s in.
        assert.equal(runningLine(matrix([60, 120]), "gunicorn-gevent: up + load", 30), "[matrix 3/12, ~15 min left] gunicorn-gevent: up + load (30 s)");
        // A step past the mean is taken as about to finish, never as time running backwards.
        assert.equal(secondsLeft(matrix([60, 120]), 600), secondsLeft(matrix([60, 120]), 90));
    });

    it("uses an earlier run's duration until a step of this one finished, and says so", () => {
        const earlier = { seconds: 600, from: "the last build" };
        assert.equal(runningLine(matrix([], earlier), "building pulumi", 0), "[matrix 1/12, ~10 min left, from the last build] building pulumi");
        assert.equal(runningLine(matrix([], earlier), "building pulumi", 900), "[matrix 1/12, <1 min left, from the last build] building pulumi (15 min)");
        assert.equal(runningLine(matrix([60], earlier), "granian: destroy", 0), "[matrix 2/12, ~11 min left] granian: destroy");
    });

    it("shows a finished step at its own position, with what is left after it, and none after the last", () => {
        assert.equal(finishedLine(matrix([120]), "granian: 312 req/s"), "[matrix 1/12, ~22 min left] granian: 312 req/s");
        assert.equal(finishedLine({ what: "matrix", total: 2, finished: [60, 60] }, "sweep granian: 50 clients: 90 req/s"),
            "[matrix 2/2] sweep granian: 50 clients: 90 req/s");
    });

    it("cuts a line to the terminal's width, so it can be redrawn in place", () => {
        assert.equal(fit("[matrix 1/2] granian", 80), "[matrix 1/2] granian");
        assert.equal(fit("[matrix 1/2] granian", 10), "[matrix …");
        assert.ok(fit("x".repeat(80), 80).length < 80, "a line as wide as the terminal wraps on some");
    });
});

describe("an earlier matrix run's duration", () => {
    /** A run's results as far as its work goes: the scenarios, sweep levels and options it ran with. */
    const ran = (wallSeconds: number, scenarios: string[], levels: number[], loadOverrides: Record<string, string>) => ({
        wallSeconds, loadOverrides, rows: scenarios.map((scenario) => ({ scenario })),
        sweep: levels.map((concurrency): Partial<SweepPoint> => ({ scenario: "granian", concurrency, split: "" })),
    }) as unknown as MatrixResults;
    const plan = { scenarios: ["granian", "waitress"], sweep: ["granian 50 ", "granian 200 "], loadOverrides: { loadRepeats: "3", loadDriver: "oha" } };

    it("is the newest earlier run's of the same scenarios, sweep levels and options, in any order of options", () => {
        const earlier = [
            ran(100, ["granian"], [50, 200], plan.loadOverrides),
            ran(200, ["granian", "waitress"], [50], plan.loadOverrides),
            ran(300, ["granian", "waitress"], [50, 200], { loadRepeats: "1", loadDriver: "oha" }),
            ran(400, ["granian", "waitress"], [50, 200], { loadDriver: "oha", loadRepeats: "3" }),
            ran(500, ["granian", "waitress"], [50, 200], plan.loadOverrides),
        ];
        assert.equal(sameWorkSeconds(earlier, plan), 400);
        assert.equal(sameWorkSeconds(earlier.slice(0, 3), plan), undefined);
    });
});

/** What a Progress wrote to a stream that is, or is not, a terminal. */
function drawn(isTTY: boolean, draw: (p: Progress) => void): string {
    let text = "";
    const out = { isTTY, columns: 60, write: (s: string) => { text += s; return true; } } as unknown as NodeJS.WriteStream;
    const ci = process.env.CI;
    delete process.env.CI;
    try {
        const p = new Progress("matrix", 2, undefined, out);
        draw(p);
        p.stop();
    } finally {
        if (ci !== undefined) process.env.CI = ci;
    }
    return text;
}

describe("the progress display (scripts/progress.ts)", () => {
    const run = (p: Progress) => {
        p.start("granian: up + load");
        p.phase("granian: destroy");
        p.finish("granian: 312 req/s");
        p.start("waitress: up + load");
    };

    it("off a terminal writes plain lines, one per start, phase and finish, and no carriage return", () => {
        assert.deepEqual(drawn(false, run).split("\n"), [
            "[matrix 1/2] granian: up + load", "[matrix 1/2] granian: destroy", "[matrix 1/2, <1 min left] granian: 312 req/s",
            "[matrix 2/2, <1 min left] waitress: up + load", ""]);
    });

    it("on a terminal redraws one line in place, finished steps as lines above it, and clears it at the end", () => {
        const text = drawn(true, run);
        assert.equal(text.split("\n").length, 2, "one permanent line: the finished step's");
        assert.match(text, /\r\x1b\[2K\[matrix 1\/2\] granian: destroy\r\x1b\[2K\[matrix 1\/2, <1 min left\] granian: 312 req\/s\n/);
        assert.ok(text.endsWith("\r\x1b[2K"), "the status line cleared");
    });
});

describe("the builds' progress (scripts/progress.sh)", () => {
    let cache: string;
    beforeEach(() => { cache = fs.mkdtempSync(path.join(os.tmpdir(), "fgl-progress-")); });
    afterEach(() => fs.rmSync(cache, { recursive: true, force: true }));

    const script = (pause: string, end: string) => `set -euo pipefail
        source scripts/progress.sh demo
        trap progress_stop EXIT
        step 1 2 "building one"; echo tool-one >&2; ${pause}
        step 2 2 "building two"; echo tool-two >&2; ${pause}
        ${end}`;
    const options = (env: Record<string, string>) => ({ cwd: path.join(__dirname, "..", ".."), encoding: "utf8" as const, env: { ...process.env, FGL_CACHE: cache, ...env } });
    /** A two-step build sourcing the helper, its stderr a pipe; `fail`: it fails in its second step. */
    const build = (fail = false) => spawnSync("bash", ["-c", script("", fail ? "exit 1" : "progress_done")], options({}));
    /** The same build on a terminal (util-linux's script gives it one), each step long enough for a tick. */
    const onTerminal = (env: Record<string, string>, end = "progress_done") =>
        spawnSync("script", ["-qec", `bash -c '${script("sleep 2.5", end)}'`, "/dev/null"], options(env)).stdout;
    const durations = () => path.join(cache, "durations", "demo");

    it("off a terminal prints plain lines only, and no estimate without an earlier build's record", () => {
        const { stderr, status } = build();
        assert.equal(status, 0, stderr);
        // Bash's SECONDS counts whole seconds: a quick step that crosses one's boundary took "1 s".
        assert.deepEqual(stderr.replace(/done in [01] s/g, "done in 0 s").split("\n"), [
            "demo: [1/2] building one", "tool-one", "demo: [1/2] building one: done in 0 s",
            "demo: [2/2] building two", "tool-two", "demo: [2/2] building two: done in 0 s", ""]);
    });

    it("estimates from what the last successful build's steps took, and records only successful builds", () => {
        build(true);
        assert.ok(!fs.existsSync(durations()), "a failed build leaves no record");
        build();
        assert.match(fs.readFileSync(durations(), "utf8"), /^[01]\n[01]\n$/);
        fs.writeFileSync(durations(), "300\n65\n");
        const lines = build().stderr.split("\n");
        assert.equal(lines[0], "demo: [1/2, ~6 min left] building one");
        assert.equal(lines[3], "demo: [2/2, ~1 min left] building two");
    });

    it("on a terminal ticks the running step in place and keeps only the finished steps' lines; under CI, plain lines", function () {
        if (spawnSync("script", ["--version"]).error) this.skip();
        const live = onTerminal({ CI: "" });
        assert.match(live, /\r\x1b\[2Kdemo: \[1\/2\] building one \([1-5] s\)\r\x1b\[2Kdemo: \[1\/2\] building one: done in [2-6] s\r?\n/);
        assert.doesNotMatch(live, /^demo: \[1\/2\] building one\r?$/m, "no plain line besides");
        // What the tools print would break into the ticking line: it goes to a log, shown where the build fails.
        assert.doesNotMatch(live, /tool-/);
        assert.match(fs.readFileSync(`${durations()}.log`, "utf8"), /^tool-one\ntool-two\n$/);
        const failed = onTerminal({ CI: "" }, "exit 1");
        assert.match(failed, /tool-one\r?\ntool-two\r?\n\(all of it: .*durations\/demo\.log\)/);
        const ci = onTerminal({ CI: "true" });
        assert.doesNotMatch(ci, /\x1b/);
        assert.match(ci, /^demo: \[1\/2, <1 min left\] building one\r?\n/, "the terminal's build recorded its steps");
    });
});
