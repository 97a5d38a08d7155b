import { strict as assert } from "assert";
import { compareResults, compareRuns, comparisonNotes, cpuMsPerRequest, Measured, METRICS, rank, rankCapacity, regressions, renderChanges } from "../../lib/decide";
import { CapacityResult, Probe } from "../../lib/load/capacity";
import { LoadResult } from "../../lib/load/result";
import { CPU, result, run } from "./fixtures/runs";

const measured = (scenario: string, rps: number[], over: Partial<LoadResult> = {}): Measured =>
    ({ scenario, result: result(rps.map((r) => run(r)), over) });

const probe = (askedRps: number, passed: boolean): Probe => ({
    askedRps, reachedRps: askedRps, requests: askedRps * 10, failed: 0, latencyMs: { p50: 1000, p90: null, p99: passed ? 1200 : 3000, max: null },
    passed, why: passed ? "met" : "missed: p99 3000 ms > 1500 ms", cpu: null, held: null, listen: null, upstream: null,
    bottleneck: { verdict: passed ? "latency-bound" : "app", words: passed ? "" : "app ran out of CPU first", rule: "" }, startedAt: "",
});
const capacity = (found: number, knee: number): CapacityResult =>
    ({ sloP99Ms: 1500, probeSeconds: 10, capacityRps: found, bound: "found", knee: probe(knee, false), probes: [probe(found, true), probe(knee, false)] });

describe("decisions from repeated runs", () => {
    it("ranks by groups of ties at each load; a scenario alone at its load is not ranked", () => {
        const [r] = rank([
            measured("uwsgi-gevent", [170, 172, 168]), measured("nginx-uwsgi", [165, 175, 160]), measured("gevent-pywsgi", [134, 136, 135]),
            measured("devserver", [0.98, 0.99, 0.98], { requests: 10, concurrency: 5 }),
        ], METRICS.rps);
        assert.equal(r.load, "2000 requests, 200 clients, 1 s delay, ab");
        assert.deepEqual(r.groups.map((g) => g.scenarios), [["uwsgi-gevent", "nginx-uwsgi"], ["gevent-pywsgi"]]);
        assert.match(r.groups[0].evidence, /uwsgi-gevent 170 \[165-175\], nginx-uwsgi 165 \[.*\] \(tied within the noise\)/);
        assert.match(r.groups[1].evidence, /below uwsgi-gevent \(p = 0\.0\d+\)/);
    });

    it("counts the CPU the server spent per request, leaving out the harness's roles, and nothing where a role was unreadable", () => {
        // app 0.5 cores on average over 11 s for 2000 requests: 2.75 ms each (the driver and the slow API are not counted).
        const { driver, upstream, app } = CPU.roles;
        assert.equal(cpuMsPerRequest(run(160, { cpu: { ...CPU, roles: { driver, upstream, app } } })), 2.75);
        assert.equal(cpuMsPerRequest(run(160, { cpu: { ...CPU, roles: { driver, upstream, app, ingress: null } } })), null,
            "a container's CPU can't be read");
    });

    it("ties capacities whose brackets overlap, one search each", () => {
        const c = rankCapacity([
            measured("uwsgi-gevent", [170], { capacity: capacity(400, 425) }),
            measured("gevent-pywsgi", [150], { capacity: capacity(410, 430) }),
            measured("gunicorn-sync", [150], { capacity: capacity(160, 170) }),
        ])!;
        assert.deepEqual(c.groups.map((g) => g.scenarios), [["gevent-pywsgi", "uwsgi-gevent"], ["gunicorn-sync"]]);
        assert.match(c.groups[0].evidence, /gevent-pywsgi 410 req\/s, knee 430: app ran out of CPU first/);
        assert.equal(c.objective, "p99 <= 1500 ms, no failure, 10 s probes");
        assert.equal(rankCapacity([measured("x", [1])]), null);
    });

    it("compares two runs: better, worse, within noise, or no spread measured", () => {
        const a = [measured("uwsgi-gevent", [170, 172, 168]), measured("gunicorn-sync", [150, 151, 149]), measured("devserver", [0.98])];
        const b = [measured("uwsgi-gevent", [165, 175, 168]), measured("gunicorn-sync", [140, 141, 139]), measured("devserver", [0.97])];
        const changes = compareResults(a, b).filter((c) => c.metric === "req/s");
        assert.deepEqual(changes.map((c) => [c.scenario, c.verdict]),
            [["uwsgi-gevent", "within noise"], ["gunicorn-sync", "worse"], ["devserver", "no spread measured"]]);
        assert.ok(Math.abs(changes[1].change! + 0.0667) < 0.001);
        const capacities = compareResults(
            [measured("s", [1], { capacity: capacity(400, 425) })], [measured("s", [1], { capacity: capacity(450, 470) })]).find((c) => c.metric === "capacity")!;
        assert.equal(capacities.verdict, "better", "450 is above A's knee of 425");
        const text = renderChanges(changes, "A", "B");
        assert.match(text, /gunicorn-sync +req\/s +150 \[147\.5-152\.5\] +140 \[137\.5-142\.5\] +-6\.7 % +worse \(p = 0\.00\d\)/);
    });

    it("compares two runs: a scenario failed in B is a regression; a change at another load is flagged and does not gate", () => {
        const a = [measured("gunicorn-sync", [150, 152, 148]), measured("granian", [160, 162, 158]), measured("waitress", [163, 164, 162]), measured("devserver", [1, 1, 1])];
        const b = [
            { scenario: "gunicorn-sync", result: null },
            measured("granian", [100, 102, 98], { keepAlive: true }),
            measured("waitress", [120, 121, 119]),
            measured("uwsgi-gevent", [170, 171, 169]),
        ];
        const c = compareRuns(a, b);
        assert.deepEqual(c.onlyInA, ["devserver"]);
        assert.deepEqual(c.onlyInB, ["uwsgi-gevent"]);
        assert.deepEqual(c.otherLoad.map((o) => [o.scenario, o.b]), [["granian", "2000 requests, 200 clients, 1 s delay, ab, keep-alive"]]);
        assert.deepEqual(regressions(c).map((x) => `${x.scenario} ${x.metric}`), ["waitress req/s", "gunicorn-sync status"]);
        assert.ok(c.changes.some((x) => x.scenario === "granian" && x.verdict === "worse"), "the change is still shown");
        assert.match(comparisonNotes(c, "A", "B").join("\n"), /^only in A: devserver\nonly in B: uwsgi-gevent\nnot the same load for granian/);
        assert.match(renderChanges(c.changes, "A", "B"), /gunicorn-sync +status +150 req\/s +FAILED +- +worse/);
    });
});
