import { strict as assert } from "assert";
import { combineRuns } from "../../lib/load/repeats";
import { CpuSamplerNote } from "../../lib/load/result";
import { renderSummary, SummaryInput } from "../../lib/summary";
import { result, run } from "./fixtures/runs";

const input = (over: Partial<SummaryInput> = {}): SummaryInput => {
    const runs = [run(160), run(170), run(165)];
    return {
        scenario: "uwsgi-gevent", server: "uwsgi --gevent: 2 worker(s) x 2000 async cores", ingress: "none", platform: "local",
        result: result(runs, { ...combineRuns(runs), repeats: runs }), baseline: result([run(172.19)]), tutorialRps: 151.93,
        fullResult: "pulumi stack output --json -s uwsgi-gevent; results/uwsgi-gevent/x.json", ...over,
    };
};

describe("the answer on one screen", () => {
    it("fits in 15 lines: req/s with its interval against the limit, the driver's ceiling, the baseline and the tutorial, then the verdict", () => {
        const text = renderSummary(input());
        const lines = text.split("\n");
        assert.ok(lines.length <= 15, text);
        assert.equal(lines[0], "uwsgi-gevent: uwsgi --gevent: 2 worker(s) x 2000 async cores (local)");
        assert.match(text, /load {8}2000 requests, 200 clients, 1 s delay, ab 2\.3; 3 runs after a 3 s warm-up/);
        assert.match(text, /req\/s {7}165 \(95 % interval 152\.6-177\.4, CV 3\.0 %, 3 runs\)/);
        assert.match(text, /against {5}limit 200 \(83 %\), ab's ceiling 181\.82, baseline 172\.19, tutorial 151\.93/);
        assert.match(text, /failed {6}0 of 6000; checked against the slow API's count of its answers/);
        assert.match(text, /threads {5}5 before the load, 205 at its peak/);
        assert.match(text, /verdict {5}latency-bound: near its limit/);
        assert.match(lines[lines.length - 1], /everything {2}pulumi stack output --json -s uwsgi-gevent; results\/uwsgi-gevent\/x\.json/);
    });

    it("says a single run has no spread, names failures the driver missed, and the tutorial's missing figure", () => {
        const one = run(150, { failed: 20, failures: { byDriver: 0, unseenByDriver: 20, checkedAgainst: "the slow API's count of its answers" } });
        const text = renderSummary(input({ result: result([one]), tutorialRps: null, baseline: null, ingress: "nginx" }));
        assert.match(text, /req\/s {7}150 \(one run: no spread measured\)/);
        assert.match(text, /failed {6}20 of 2000 \(20 of them unseen by ab\)/);
        assert.match(text, /tutorial not published/);
        assert.match(text.split("\n")[0], /behind nginx/);
        assert.doesNotMatch(text, /baseline/);
    });

    it("on a cluster, says how many load pods ran and how far apart their release left their starts", () => {
        const pod = (index: number) => ({ index, host: `load-${index}`, node: "node-a", startedAt: "", timeTakenSeconds: 12, complete: 1000, failed: 0 });
        const runs = [run(160)];
        const text = renderSummary(input({ platform: "kubernetes", result: result(runs, { pods: [pod(0), pod(1)], podsStartSkewSeconds: 0.0123 }) }));
        assert.match(text, /load {8}2000 requests, 200 clients, 1 s delay, ab 2\.3; 1 run after a 3 s warm-up; 2 load pods, released together \(their starts at most 0\.012 s apart\)/);
        assert.doesNotMatch(renderSummary(input()), /load pods/);
        // Who read the CPU, and why not the cluster's sampler where not.
        const cpuLine = (cpuSampler: CpuSamplerNote) => renderSummary(input({ platform: "kubernetes", result: result(runs, { cpuSampler }) })).split("\n").find((l) => l.startsWith("  cpu "));
        assert.equal(cpuLine({ source: "cluster" }), "  cpu         read by a sampler pod on each of the cluster's nodes");
        assert.equal(cpuLine({ source: null, reason: "the CPU sampler did not run: forbidden" }), "  cpu         not read: the CPU sampler did not run: forbidden");
        assert.equal(renderSummary(input()).split("\n").some((l) => l.startsWith("  cpu ")), false);
    });

    it("says when the app's CPU set the limit", () => {
        const text = renderSummary(input({ result: result([run(48, { limitRps: 50, cpuLimitRps: 50 })], { appCpuMs: 20 }) }));
        assert.match(text, /limit 50 \(\d+ %\), set by the app's CPU \(20 ms a request\)/);
        assert.doesNotMatch(renderSummary(input({ result: result([run(150)]) })), /app's CPU/);
    });

    it("says when the clients kept their connections, and how many answers came on them", () => {
        const text = renderSummary(input({ result: result([run(150, { keptAlive: 1990 })], { keepAlive: true }) }));
        assert.match(text, /ab 2\.3, keep-alive \(1990 of 2000 answers on kept connections\); /);
        assert.doesNotMatch(renderSummary(input()), /keep-alive/);
    });

    it("marks a scenario the tutorial never ran as beyond it", () => {
        const text = renderSummary(input({ result: result([run(150)]), tutorialRps: undefined }));
        assert.match(text, /, beyond the tutorial\n/);
    });
});
