import { strict as assert } from "assert";
import { execFile } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { AddressInfo } from "net";
import { parseAbOutput } from "../../lib/load/ab";
import { parseOhaOutput } from "../../lib/load/oha";
import { mergePodResults } from "../../lib/load/merge";
import { Warmup } from "../../lib/load/result";
import { loadPodArgv, loadPodSeconds, LoadPodSpec, probeShare, splitCeilingRps, splitLoad } from "../../lib/load/split";
import { which } from "../../platforms/localTools";

const FIXTURES = path.join(__dirname, "fixtures", "load-pods");
const fixture = (name: string) => fs.readFileSync(path.join(FIXTURES, name), "utf8");
const line = (log: string) => JSON.parse(log.trim());

/** The per-request times as ab wrote them in a pod's run, in ms: ab -g's ttime column. */
function rawAbMs(pod: number, run: number): number[] {
    return fixture(`ab-${pod}-${run}.tsv`).trim().split("\n").slice(1).map((row) => Number(row.split("\t")[4]));
}

/** The value that at least p % of the times are at or below, counted ab's way: the (floor(n p / 100) + 1)-th smallest. */
function nthSmallest(times: number[], p: number): number {
    const sorted = [...times].sort((a, b) => a - b);
    const wanted = Math.floor((sorted.length * p) / 100) + 1;
    return sorted.find((_, i) => i + 1 === Math.min(wanted, sorted.length))!;
}

/** A hand-made run of a pod: the report fields the merge reads, and the times. */
function abRun(start: number, taken: number, times: [number, number][], failed = 0) {
    const complete = times.reduce((s, [, n]) => s + n, 0);
    const report = `Time taken for tests:   ${taken.toFixed(3)} seconds\nComplete requests:      ${complete}\n` +
        `Failed requests:        ${failed}\nRequests per second:    ${(complete / taken).toFixed(2)} [#/sec] (mean)\n`;
    return { start, end: start + taken + 0.01, report, unit: "ms", times };
}

/** A hand-made ab pod line of these runs. */
function abLine(index: number, runs: ReturnType<typeof abRun>[], warmup: Warmup | null = null): string {
    return JSON.stringify({
        fgl: "load-pod/2", index, driver: "ab", host: `load-${index}`, node: "n1", version: "This is ApacheBench, Version 2.3 <$Revision$>",
        warmup, runs,
    });
}

describe("load split over pods", () => {
    it("gives each pod n/N requests and c/N clients", () => {
        assert.deepEqual(splitLoad(2000, 200, 2), [{ requests: 1000, concurrency: 100 }, { requests: 1000, concurrency: 100 }]);
        assert.deepEqual(splitLoad(2000, 200, 1), [{ requests: 2000, concurrency: 200 }]);
    });

    it("spreads the remainders over the first pods, each with at least one request and one client", () => {
        assert.deepEqual(splitLoad(11, 7, 3), [{ requests: 4, concurrency: 3 }, { requests: 4, concurrency: 2 }, { requests: 3, concurrency: 2 }]);
        assert.deepEqual(splitLoad(3, 3, 3), [1, 1, 1].map(() => ({ requests: 1, concurrency: 1 })));
        const parts = splitLoad(1001, 13, 5);
        assert.deepEqual(parts.map((p) => p.requests), [201, 200, 200, 200, 200]);
        assert.deepEqual(parts.map((p) => p.concurrency), [3, 3, 3, 2, 2]);
    });

    it("refuses more pods than clients or requests, naming loadParallelism", () => {
        assert.throws(() => splitLoad(100, 2, 3), /loadParallelism 3 is more than the 2 clients \(concurrency\).*lower loadParallelism to 2/);
        assert.throws(() => splitLoad(2, 10, 3), /loadParallelism 3 is more than the 2 requests/);
        assert.throws(() => splitLoad(100, 10, 0), /loadParallelism must be a whole number of pods, 1 or more \(got 0\)/);
        assert.throws(() => splitLoad(100, 10, 1.5), /loadParallelism must be a whole number/);
    });

    it("gives every pod the same command, holding each share's driver line, its warm-up's, and the runs", () => {
        const load = { driver: "ab", url: "http://10.0.0.1:80/?delay=1", expectBody: "Hi", requests: 5, concurrency: 3, parts: 2, timeoutSeconds: 60 } as const;
        const argv = loadPodArgv({ ...load, repeats: 3, warmupSeconds: 2 });
        assert.equal(argv[0], "python3");
        assert.equal(argv[1], "-c");
        const config = JSON.parse(argv[3]);
        assert.deepEqual(config.argvs, [
            ["/usr/bin/ab", "-r", "-l", "-s", "60", "-n", "3", "-c", "2", "-g", "requests.tsv", "http://10.0.0.1:80/?delay=1"],
            ["/usr/bin/ab", "-r", "-l", "-s", "60", "-n", "2", "-c", "1", "-g", "requests.tsv", "http://10.0.0.1:80/?delay=1"],
        ]);
        // Each share warms up at its own clients, for the load's seconds.
        assert.deepEqual(config.warmup, {
            seconds: 2, argvs: [
                ["/usr/bin/ab", "-r", "-l", "-s", "60", "-t", "2", "-c", "2", "http://10.0.0.1:80/?delay=1"],
                ["/usr/bin/ab", "-r", "-l", "-s", "60", "-t", "2", "-c", "1", "http://10.0.0.1:80/?delay=1"],
            ],
        });
        assert.equal(config.repeats, 3);
        assert.deepEqual(config.version, ["/usr/bin/ab", "-V"]);
        assert.equal(JSON.parse(loadPodArgv({ ...load, repeats: 1, warmupSeconds: 0 })[3]).warmup, null);
        const kept = JSON.parse(loadPodArgv({ ...load, repeats: 1, warmupSeconds: 2, keepAlive: true })[3]);
        assert.ok([...kept.argvs, ...kept.warmup.argvs].every((a: string[]) => a.slice(1, 4).join(" ") === "-r -l -k"), "keep-alive in every pod's runs");
        assert.throws(() => loadPodArgv({ ...load, requests: 4, concurrency: 2, parts: 3, repeats: 1, warmupSeconds: 0 }), /loadParallelism 3/);
        // oha: each answered request's time into an SQLite file, a new connection per request unless kept.
        const oha = JSON.parse(loadPodArgv({ ...load, driver: "oha", repeats: 1, warmupSeconds: 2 })[3]);
        assert.deepEqual(oha.argvs[1], ["/usr/local/bin/oha", "--no-tui", "--output-format", "json", "--disable-keepalive", "-t", "60s", "--connect-timeout", "60s",
            "-n", "2", "-c", "1", "--db-url", "requests.db", "http://10.0.0.1:80/?delay=1"]);
        assert.deepEqual(oha.warmup.argvs[0].slice(-5), ["-z", "2s", "-c", "2", "http://10.0.0.1:80/?delay=1"]);
        assert.deepEqual([oha.version, oha.record, oha.unit], [["/usr/local/bin/oha", "--version"], "requests.db", "0.1ms"]);
    });

    it("gives the pods time for the warm-up and its check, and each run", () => {
        // One run without a warm-up: the run's own timeout, as the Job had before repeats.
        assert.equal(loadPodSeconds({ repeats: 1, warmupSeconds: 0, timeoutSeconds: 300 }), 300);
        assert.equal(loadPodSeconds({ repeats: 3, warmupSeconds: 2, timeoutSeconds: 60 }), 2 + 60 + 3 * 60);
        // Released before each run: a pod's waits overlap the others' runs, but for one as long as the barrier.
        assert.equal(loadPodSeconds({ repeats: 3, warmupSeconds: 2, timeoutSeconds: 60, barrierSeconds: 200 }), 2 + 60 + 3 * 60 + 200);
    });

    it("gives the ceiling of the slowest share, the pods side by side", () => {
        const near = (a: number | null, b: number) => assert.ok(a !== null && Math.abs(a - b) < 1e-9, `${a} vs ${b}`);
        // ab: 1 + ceil((n - 1) / c) rounds of the delay; 11 requests over 3 + 3 clients: 6 in 1 + 2 rounds, 5 in 1 + 2 rounds.
        near(splitCeilingRps("ab", splitLoad(11, 6, 2), 0.5), 11 / (3 * 0.5));
        // 2000 requests, 200 clients, 3 pods: 667 over 67 clients twice (1 + 10 rounds), and the slowest, 666 over 66 (1 + 11 rounds).
        near(splitCeilingRps("ab", splitLoad(2000, 200, 3), 1), 2000 / 12);
        assert.equal(splitCeilingRps("ab", splitLoad(10, 2, 2), 0), null);
        // A probe's rate split evenly (oha takes a fraction), its connections rounded up.
        assert.deepEqual(probeShare(25, 7, 2), { rate: 12.5, connections: 4 });
        assert.deepEqual(probeShare(100, 8, 3), { rate: 100 / 3, connections: 3 });
        // oha opens all its clients at once: ceil(n / c) rounds; 6 requests over 3 clients and 5 over 3, 2 rounds each.
        near(splitCeilingRps("oha", splitLoad(11, 6, 2), 0.5), 11 / (2 * 0.5));
    });
});

describe("load pods' merge, from recorded pods (tests/unit/fixtures/load-pods, record.ts)", () => {
    const ab = [fixture("ab-0.log"), fixture("ab-1.log")];
    const RUNS = [0, 1];

    it("ab: sums the counts and takes the percentiles of every request of both pods, run by run", () => {
        const merged = mergePodResults(ab, { driver: "ab", parts: 2, repeats: 2 });
        assert.equal(merged.runs.length, 2);
        for (const r of RUNS) {
            const run = merged.runs[r];
            const own = ab.map((log) => parseAbOutput(line(log).runs[r].report));
            const times = [...rawAbMs(0, r), ...rawAbMs(1, r)];
            // 401: n x p / 100 is no whole number, so the rank's rounding shows.
            assert.equal(times.length, 401);
            assert.equal(run.complete, 401);
            assert.equal(run.failed, own[0].failed + own[1].failed);
            assert.ok(run.failed > 0, "the recording has 500s");
            for (const [key, p] of [["p50", 50], ["p90", 90], ["p95", 95], ["p99", 99]] as const) {
                assert.equal(run.latencyMs[key], nthSmallest(times, p), `run ${r} ${key}`);
            }
            assert.equal(run.latencyMs.max, Math.max(...times));
            assert.equal(run.latencyMs.p999, null);
        }
    });

    it("ab: times the union of the pods' runs, each run on its own", () => {
        const merged = mergePodResults(ab, { driver: "ab", parts: 2, repeats: 2 });
        const lines = ab.map(line);
        for (const r of RUNS) {
            const run = merged.runs[r];
            const runs = lines.map((l) => l.runs[r]);
            const own = runs.map((x) => parseAbOutput(x.report));
            // At least the longer pod, at most from the first start to the last pod's exit.
            assert.ok(run.timeTakenSeconds >= Math.max(...own.map((f) => f.timeTakenSeconds)));
            const wall = Math.max(...runs.map((x) => x.end)) - Math.min(...runs.map((x) => x.start));
            assert.ok(run.timeTakenSeconds <= wall + 0.0005, `${run.timeTakenSeconds} within ${wall}`);
            assert.ok(Math.abs(run.requestsPerSecond - 401 / run.timeTakenSeconds) <= 401 * 0.0005 / run.timeTakenSeconds ** 2 + 0.005);
            assert.deepEqual(run.pods.map((p) => [p.index, p.complete, p.host, p.startedAt]),
                lines.map((l, i) => [i, [201, 200][i], l.host, new Date(l.runs[r].start * 1000).toISOString()]));
        }
        // The second run started after the first ended, in each pod.
        for (const l of lines) assert.ok(l.runs[1].start >= l.runs[0].end);
        assert.equal(merged.driverVersion, "2.3");
    });

    it("ab: sums the pods' warm-ups, which ran side by side", () => {
        const merged = mergePodResults(ab, { driver: "ab", parts: 2, repeats: 2 });
        const warmups = ab.map((log) => line(log).warmup);
        assert.ok(warmups.every((w) => w.requests > 0), "ab reported the warm-up's requests");
        assert.deepEqual(merged.warmup, { seconds: 1, requests: warmups[0].requests + warmups[1].requests });
    });

    it("ab: one pod gives ab's own figures in each run", () => {
        const merged = mergePodResults([ab[0]], { driver: "ab", parts: 1, repeats: 2 });
        for (const r of RUNS) {
            const run = merged.runs[r];
            const own = parseAbOutput(line(ab[0]).runs[r].report);
            assert.equal(run.complete, own.complete);
            assert.equal(run.failed, own.failed);
            assert.equal(run.timeTakenSeconds, own.timeTakenSeconds);
            // ab divides by its unrounded time; the report shows it to the ms.
            const slack = (own.complete * 0.0005) / own.timeTakenSeconds ** 2 + 0.005;
            assert.ok(Math.abs(run.requestsPerSecond - own.requestsPerSecond) <= slack, `${run.requestsPerSecond} vs ${own.requestsPerSecond}`);
            assert.deepEqual(run.latencyMs, own.latencyMs);
        }
    });
});

describe("load pods' merge of oha, from recorded pods (tests/unit/fixtures/load-pods, record.ts)", () => {
    const oha = [fixture("oha-0.log"), fixture("oha-1.log")];
    const expected = { driver: "oha", parts: 2, repeats: 2 } as const;
    /** The durations oha wrote to its --db-url file in a pod's run, in seconds. */
    const rawOha = (pod: number, run: number) => fixture(`oha-${pod}-${run}.txt`).trim().split("\n").map(Number);
    /** oha's rounding of its figures: to 0.1 ms. */
    const ms = (seconds: number) => Math.round(seconds * 10_000) / 10;

    it("one pod gives oha's own figures in each run: its percentiles, its answers and errors", () => {
        const merged = mergePodResults([oha[0]], { ...expected, parts: 1 });
        assert.equal(merged.driverVersion, "1.16.0");
        for (const r of [0, 1]) {
            const run = merged.runs[r];
            const own = parseOhaOutput(line(oha[0]).runs[r].report);
            assert.deepEqual([run.complete, run.failed, run.statusCodes, run.errors, run.timeouts], [own.complete, own.failed, own.statusCodes, own.errors, own.timeouts]);
            assert.ok(Object.values(run.errors!).some((n) => n > 0) && run.statusCodes!["500"] > 0, "the recording has dropped connections and 500s");
            assert.deepEqual(run.latencyMs, own.latencyMs);
            assert.equal(run.timeTakenSeconds, own.timeTakenSeconds);
        }
    });

    it("two pods: sums the counts and errors, and takes the percentiles of every answered request of both, run by run", () => {
        const merged = mergePodResults(oha, expected);
        for (const r of [0, 1]) {
            const run = merged.runs[r];
            const own = oha.map((log) => parseOhaOutput(line(log).runs[r].report));
            const times = [...rawOha(0, r), ...rawOha(1, r)].sort((a, b) => a - b);
            assert.equal(run.complete, 401);
            assert.equal(run.failed, own[0].failed + own[1].failed);
            assert.equal(times.length, run.statusCodes!["200"] + run.statusCodes!["500"], "a time for every answer, none for an error");
            for (const [key, p] of [["p50", 50], ["p90", 90], ["p95", 95], ["p99", 99], ["p999", 99.9]] as const) {
                // oha's rule: the value at floor(p / 100 x n), 0-based.
                assert.equal(run.latencyMs[key], ms(times[Math.floor((p / 100) * times.length)]), `run ${r} ${key}`);
            }
            assert.equal(run.latencyMs.max, ms(times[times.length - 1]));
            assert.equal(run.timeouts, 0);
        }
        assert.deepEqual(merged.warmup, { seconds: 1, requests: line(oha[0]).warmup.requests + line(oha[1]).warmup.requests });
    });

    it("refuses a pod whose times don't match its answers, and oha's pods read as ab's", () => {
        const cut = oha[1].replace(/"times":\[\[\d+,1\],/, '"times":[');
        assert.throws(() => mergePodResults([oha[0], cut], expected), /load pod 1, run 1 of 2: \d+ request times for \d+ requests/);
        assert.throws(() => mergePodResults(oha, { ...expected, driver: "ab" }), /load pod 0 ran oha, expected ab/);
    });
});

describe("load pods' merge, hand-checked", () => {
    it("ranks the union of the pods' times, never averaging their percentiles", () => {
        // Pod 0 took 10, 20 ms; pod 1 took 30, 30 ms: 4 times, the median is the 3rd smallest (ab: 50 % of 4 = rank 2 from 0),
        // where the mean of the pods' own medians (20 and 30) would say 25.
        const [merged] = mergePodResults([abLine(0, [abRun(1000, 0.5, [[10, 1], [20, 1]])]), abLine(1, [abRun(1000.25, 0.5, [[30, 2]], 1)])],
            { driver: "ab", parts: 2, repeats: 1 }).runs;
        assert.deepEqual(merged.latencyMs, { p50: 30, p90: 30, p95: 30, p99: 30, p999: null, max: 30 });
        assert.equal(merged.complete, 4);
        assert.equal(merged.failed, 1);
        // From 1000 to 1000.25 + 0.5.
        assert.equal(merged.timeTakenSeconds, 0.75);
        assert.equal(merged.requestsPerSecond, 5.33);
        assert.deepEqual(merged.pods.map((p) => [p.host, p.node, p.startedAt, p.timeTakenSeconds, p.failed]),
            [["load-0", "n1", new Date(1000_000).toISOString(), 0.5, 0], ["load-1", "n1", new Date(1000_250).toISOString(), 0.5, 1]]);
    });

    it("takes ab's percentile from 100 times as ab does: the (p+1)-th smallest", () => {
        const times: [number, number][] = Array.from({ length: 100 }, (_, i) => [i + 1, 1]);
        const [merged] = mergePodResults([abLine(0, [abRun(5, 1, times.slice(0, 50))]), abLine(1, [abRun(5, 1, times.slice(50))])],
            { driver: "ab", parts: 2, repeats: 1 }).runs;
        assert.deepEqual(merged.latencyMs, { p50: 51, p90: 91, p95: 96, p99: 100, p999: null, max: 100 });
    });

    it("rounds the rank down, as ab does", () => {
        // 7 times: 50 % of 7 is 3.5, rank 3 from 0: the 4th smallest; 90 % is 6.3: the 7th.
        const times: [number, number][] = [[1, 1], [2, 1], [3, 1], [4, 1], [5, 1], [6, 1], [7, 1]];
        const [merged] = mergePodResults([abLine(0, [abRun(5, 1, times.slice(0, 3))]), abLine(1, [abRun(5, 1, times.slice(3))])],
            { driver: "ab", parts: 2, repeats: 1 }).runs;
        assert.deepEqual(merged.latencyMs, { p50: 4, p90: 7, p95: 7, p99: 7, p999: null, max: 7 });
    });

    it("gives no percentiles when no request was timed", () => {
        const [merged] = mergePodResults([abLine(0, [abRun(5, 1, [])])], { driver: "ab", parts: 1, repeats: 1 }).runs;
        assert.deepEqual(merged.latencyMs, { p50: null, p90: null, p95: null, p99: null, p999: null, max: null });
    });

    it("merges each run of a pod with the same run of the others, never across runs", () => {
        // Run 1: 10 and 20 ms; run 2: 100 and 200 ms. Across runs, run 1's max would be 200 and run 2's p50 no 200.
        const pods = [
            abLine(0, [abRun(1000, 0.5, [[10, 2]]), abRun(1001, 0.5, [[100, 2]])]),
            abLine(1, [abRun(1000.1, 0.5, [[20, 2]], 1), abRun(1001.2, 0.5, [[200, 2]])]),
        ];
        const { runs } = mergePodResults(pods, { driver: "ab", parts: 2, repeats: 2 });
        assert.deepEqual(runs.map((r) => r.latencyMs), [
            { p50: 20, p90: 20, p95: 20, p99: 20, p999: null, max: 20 },
            { p50: 200, p90: 200, p95: 200, p99: 200, p999: null, max: 200 },
        ]);
        assert.deepEqual(runs.map((r) => [r.complete, r.failed, r.timeTakenSeconds]), [[4, 1, 0.6], [4, 0, 0.7]]);
        assert.deepEqual(runs.map((r) => r.pods.map((p) => [p.index, p.startedAt, p.failed])), [
            [[0, new Date(1000_000).toISOString(), 0], [1, new Date(1000_100).toISOString(), 1]],
            [[0, new Date(1001_000).toISOString(), 0], [1, new Date(1001_200).toISOString(), 0]],
        ]);
    });

    it("sums the warm-up's requests over the pods, unknown where a pod's count is; none where the pods had none", () => {
        const run = [abRun(5, 1, [[5, 1]])];
        const warmed = (a: Warmup | null, b: Warmup | null) =>
            mergePodResults([abLine(0, run, a), abLine(1, run, b)], { driver: "ab", parts: 2, repeats: 1 }).warmup;
        assert.deepEqual(warmed({ seconds: 3, requests: 120 }, { seconds: 3, requests: 80 }), { seconds: 3, requests: 200 });
        assert.deepEqual(warmed({ seconds: 3, requests: 120 }, { seconds: 3, requests: null }), { seconds: 3, requests: null });
        assert.equal(warmed(null, null), null);
        assert.equal(warmed({ seconds: 3, requests: 120 }, null), null);
    });
});

describe("load pods' merge, refusals", () => {
    const good = [abLine(0, [abRun(1, 1, [[5, 2]])]), abLine(1, [abRun(1, 1, [[6, 2]])])];
    const one = { driver: "ab", parts: 2, repeats: 1 } as const;

    it("names a missing pod", () => {
        assert.throws(() => mergePodResults([good[0]], one), /expected the logs of 2 load pods, got 1/);
        assert.throws(() => mergePodResults([good[0], ""], one), /load pod 1 printed no result line .*its log is empty/);
        assert.throws(() => mergePodResults([good[0], "Error from server (NotFound): pods \"x\" not found\n"], one),
            /load pod 1 printed no result line .*ends with:\nError from server \(NotFound\)/s);
    });

    it("finds the line among other output, and refuses a bad one", () => {
        assert.equal(mergePodResults([`Benchmarking 10.0.0.1\n${good[0]}\n`, good[1]], one).runs[0].complete, 4);
        assert.throws(() => mergePodResults([good[0], good[1].slice(0, 60)], one), /load pod 1: its result line is not JSON \(cut short\?\)/);
        assert.throws(() => mergePodResults([good[0], good[1].replace("load-pod/2", "load-pod/9")], one),
            /load pod 1: its result line is "load-pod\/9", expected "load-pod\/2"/);
        assert.throws(() => mergePodResults([good[1], good[0]], one), /load pod 0: its log holds the result of pod 1/);
        assert.throws(() => mergePodResults([good[0].replace('"driver":"ab"', '"driver":"oha"'), good[1]], one),
            /load pod 0 ran oha, expected ab/);
        assert.throws(() => mergePodResults([good[0], good[1].replace('"unit":"ms"', '"unit":"ns"')], one),
            /load pod 1, run 1 of 1: its times are in ns, expected ms/);
        assert.throws(() => mergePodResults([good[0], good[1].replace('"times":[[6,2]]', '"times":[[6,1]]')], one),
            /load pod 1, run 1 of 1: 1 request times for 2 requests/);
        assert.throws(() => mergePodResults([good[0], good[1].replace('"times":[[6,2]]', '"times":[[6]]')], one),
            /load pod 1, run 1 of 1: its times are not \[\[time, count\], \.\.\.\]/);
        assert.throws(() => mergePodResults([good[0], good[1].replace("Complete requests", "Completed")], one),
            /load pod 1, run 1 of 1: ApacheBench: no 'Complete requests'/);
        assert.throws(() => mergePodResults([good[0], good[1].replace('"warmup":null', '"warmup":{"seconds":"3"}')], one),
            /load pod 1: its warm-up is not null or \{seconds, requests\}/);
    });

    it("refuses a pod whose line holds another number of runs than the load's, naming it", () => {
        const twice = (index: number) => abLine(index, [abRun(1, 1, [[5, 2]]), abRun(3, 1, [[5, 2]])]);
        const expected = { driver: "ab", parts: 2, repeats: 2 } as const;
        assert.equal(mergePodResults([twice(0), twice(1)], expected).runs.length, 2);
        assert.throws(() => mergePodResults([twice(0), good[1]], expected), /load pod 1: its line holds 1 measured run\(s\), expected 2/);
        assert.throws(() => mergePodResults([twice(0), good[1]], one), /load pod 0: its line holds 2 measured run\(s\), expected 1/);
        assert.throws(() => mergePodResults([good[0], good[1].replace(/"runs":.*\}$/, '"runs":{}}')], one),
            /load pod 1: its line holds 0 measured run\(s\), expected 1/);
    });

    it("passes on a pod's own failure", () => {
        const failed = JSON.stringify({ fgl: "load-pod/2", index: 1, driver: "ab", host: "p", error: "ab exited with 22: apr_pollset_poll: The timeout specified has expired (70007)" });
        assert.throws(() => mergePodResults([good[0], failed], one), /load pod 1 failed: ab exited with 22: apr_pollset_poll/);
    });
});

/** A loopback server answering after 3 ms; `agents` gets each request's User-Agent, in order of arrival. */
async function withServer(body: (url: string, agents: string[]) => Promise<void>) {
    const agents: string[] = [];
    const server = http.createServer((req, res) => {
        agents.push(req.headers["user-agent"] ?? "");
        setTimeout(() => res.end("Hi there! slow api response"), 3);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
        await body(`http://127.0.0.1:${(server.address() as AddressInfo).port}/?delay=0.003`, agents);
    } finally {
        server.close();
    }
}

/** Runs a pod's command here, as the pod with JOB_COMPLETION_INDEX `index` (none: unset). */
function runPod(argv: string[], index: string | undefined, dir?: string, barrier?: string): Promise<{ code: number; stdout: string }> {
    const env: NodeJS.ProcessEnv = { ...process.env, NODE_NAME: "node-a", ...(dir ? { FGL_LOAD_DIR: dir } : {}), ...(barrier ? { FGL_BARRIER_DIR: barrier } : {}) };
    if (index === undefined) delete env.JOB_COMPLETION_INDEX;
    else env.JOB_COMPLETION_INDEX = index;
    return new Promise((resolve) => {
        execFile(argv[0], argv.slice(1), { env, encoding: "utf8" }, (e, stdout) => resolve({ code: e ? Number(e.code) : 0, stdout }));
    });
}

/**
 * A stand-in with oha's interface, in `dir`: -n requests (5 without), one of them an error, the others answered
 * after 10, 20, ... ms; each call's arguments appended to calls.txt beside it.
 */
function fakeOha(dir: string): string {
    const fake = path.join(dir, "oha");
    fs.writeFileSync(fake, `#!/usr/bin/env python3
import json, os, sqlite3, sys
args = sys.argv[1:]
if args == ["--version"]:
    sys.exit(print("oha 1.16.0"))
with open(os.path.join(os.path.dirname(sys.argv[0]), "calls.txt"), "a") as calls:
    calls.write(" ".join(args) + "\\n")
n = int(args[args.index("-n") + 1]) if "-n" in args else 5
times = [0.01 * (i + 1) for i in range(n - 1)]
if "--db-url" in args:
    db = sqlite3.connect(args[args.index("--db-url") + 1])
    db.execute("CREATE TABLE IF NOT EXISTS oha (url TEXT, start REAL, start_latency_correction REAL, end REAL, duration REAL, status INTEGER, len_bytes INTEGER, run INTEGER)")
    db.executemany("INSERT INTO oha VALUES ('u', 0, NULL, 0, ?, 200, 1, 0)", [(t,) for t in times])
    db.commit()
print(json.dumps({"summary": {"total": 0.5, "requestsPerSec": n / 0.5, "slowest": max(times)}, "latencyPercentiles": {},
                  "statusCodeDistribution": {"200": n - 1}, "errorDistribution": {"connection closed": 1}}))
print("Storing results to requests.db")
`, { mode: 0o755 });
    return fake;
}

describe("load pods' command, run here against a loopback server", () => {
    let work: string;
    beforeEach(() => (work = fs.mkdtempSync(path.join(os.tmpdir(), "load-pods-"))));
    afterEach(() => fs.rmSync(work, { recursive: true, force: true }));

    const spec = (url: string, more: Partial<LoadPodSpec> = {}): LoadPodSpec => ({
        driver: "ab", url, expectBody: "slow api", requests: 61, concurrency: 6, parts: 2, timeoutSeconds: 10, repeats: 2, warmupSeconds: 1,
        driverPath: which("ab"), ...more,
    });
    const expected = { driver: "ab", parts: 2, repeats: 2 } as const;

    it("ab: two pods at once, each warming up and then running its share twice, one JSON line each, merged run by run", async () => {
        await withServer(async (url, agents) => {
            const argv = loadPodArgv(spec(url));
            const pods = await Promise.all(["0", "1"].map((i) => runPod(argv, i, path.join(work, i))));
            assert.deepEqual(pods.map((r) => r.code), [0, 0]);
            assert.deepEqual(pods.map((r) => r.stdout.split("\n").length), [2, 2], "one line each, newline-terminated");
            const merged = mergePodResults(pods.map((r) => r.stdout), expected);
            assert.equal(merged.runs.length, 2);
            for (const [r, run] of merged.runs.entries()) {
                assert.equal(run.complete, 61);
                assert.equal(run.failed, 0);
                assert.deepEqual(run.pods.map((p) => [p.complete, p.node]), [[31, "node-a"], [30, "node-a"]]);
                assert.ok(run.latencyMs.p50! >= 3 && run.latencyMs.max! >= run.latencyMs.p99!);
                // Each run's ab -g file, kept in its own folder of FGL_LOAD_DIR, has a row for each request of its share.
                for (const [pod, share] of [[0, 31], [1, 30]]) {
                    assert.equal(fs.readFileSync(path.join(work, String(pod), `run-${r}`, "requests.tsv"), "utf8").trim().split("\n").length, 1 + share);
                }
            }
            for (const pod of pods.map((p) => line(p.stdout))) assert.ok(pod.runs[1].start >= pod.runs[0].end, "the runs one after another");
            assert.equal(merged.warmup?.seconds, 1);
            assert.ok(merged.warmup!.requests! > 0, "ab's count of the warm-up");
            // Each pod checked the URL before its warm-up and after it; ab sent the warm-up and both runs.
            assert.equal(agents.filter((a) => a.startsWith("Python-urllib")).length, 4);
            assert.ok(agents.filter((a) => a.startsWith("ApacheBench")).length >= merged.warmup!.requests! + 2 * 61);
        });
    });

    it("oha: reads each answered request's time from oha's SQLite file, and counts its warm-up's answers and errors", async () => {
        const fake = fakeOha(work);
        await withServer(async (url) => {
            const argv = loadPodArgv(spec(url, { driver: "oha", driverPath: fake, requests: 22, concurrency: 4 }));
            const pods = await Promise.all(["0", "1"].map((i) => runPod(argv, i, path.join(work, i))));
            assert.deepEqual(pods.map((r) => r.code), [0, 0], pods.map((p) => p.stdout).join("\n"));
            const merged = mergePodResults(pods.map((r) => r.stdout), { driver: "oha", parts: 2, repeats: 2 });
            assert.equal(merged.driverVersion, "1.16.0");
            // Each pod's warm-up: its 4 answers and 1 error.
            assert.deepEqual(merged.warmup, { seconds: 1, requests: 10 });
            for (const run of merged.runs) {
                // 11 requests a pod, 10 answered after 10 to 100 ms: 20 times, the 50th percentile oha's floor(0.5 x 20) = the 11th smallest.
                assert.deepEqual([run.complete, run.failed, run.statusCodes, run.errors], [22, 2, { 200: 20 }, { "connection closed": 2 }]);
                assert.deepEqual([run.latencyMs.p50, run.latencyMs.p999, run.latencyMs.max], [60, 100, 100]);
            }
        });
    });

    it("oha with a search: after the runs, each probe released with the pod's rate and connections, its result left beside the barrier, until told to stop", async () => {
        const fake = fakeOha(work);
        await withServer(async (url) => {
            const argv = loadPodArgv(spec(url, { driver: "oha", driverPath: fake, requests: 22, concurrency: 4, repeats: 1, warmupSeconds: 0,
                barrierSeconds: 20, probes: { seconds: 3, timeoutSeconds: 5, most: 4 } }));
            const barrier = path.join(work, "barrier");
            const pod = runPod(argv, "0", path.join(work, "0"), barrier);
            const ready = () => { try { return fs.readFileSync(path.join(barrier, "ready"), "utf8"); } catch { return ""; } };
            const release = async (step: string, rest: string) => {
                while (ready() !== step) await new Promise((r) => setTimeout(r, 20));
                // As the load resource does: whole, never half-written.
                fs.writeFileSync(path.join(barrier, "go.tmp"), `${step} ${rest}`);
                fs.renameSync(path.join(barrier, "go.tmp"), path.join(barrier, "go"));
            };
            await release("0", String(Date.now() / 1000));
            const results: string[] = [];
            for (const [k, rate] of [[0, "12.5"], [1, "25"]] as const) {
                await release(`p${k}`, `${Date.now() / 1000} ${rate} 7`);
                const probe = path.join(barrier, "probe");
                while (!(fs.existsSync(probe) && fs.readFileSync(probe, "utf8").includes(`"token":"p${k}"`))) await new Promise((r) => setTimeout(r, 20));
                results.push(fs.readFileSync(probe, "utf8"));
            }
            await release("p2", "stop");
            const done = await pod;
            assert.equal(done.code, 0, done.stdout);
            assert.equal(line(done.stdout).runs.length, 1);
            // Each probe's oha at the rate and connections it was released with, timed from when each request was due.
            const calls = fs.readFileSync(path.join(work, "calls.txt"), "utf8").trim().split("\n").filter((c) => c.includes(" -q "));
            assert.deepEqual(calls.map((c) => [c.split(" -q ")[1].split(" ")[0], c.split(" -c ")[1].split(" ")[0], c.includes("--latency-correction -z 3s -w")]),
                [["12.5", "7", true], ["25", "7", true]]);
            // A probe's result is a pod's result line of one run: merged as a run is.
            const [probe] = mergePodResults([results[1]], { driver: "oha", parts: 1, repeats: 1 }).runs;
            assert.deepEqual([probe.complete, probe.failed, probe.latencyMs.max], [5, 1, 40]);
        });
    });

    it("with a barrier, waits to be released before each run and starts at the time given: the pods' starts together", async () => {
        await withServer(async (url) => {
            // Pod 1 starts 2 s after pod 0: unreleased, it would start its runs that much later.
            const argv = loadPodArgv(spec(url, { barrierSeconds: 20, warmupSeconds: 0 }));
            const barriers = ["0", "1"].map((i) => path.join(work, `barrier-${i}`));
            const late = new Promise((r) => setTimeout(r, 2000)).then(() => runPod(argv, "1", path.join(work, "1"), barriers[1]));
            const pods = Promise.all([runPod(argv, "0", path.join(work, "0"), barriers[0]), late]);
            const releasedAt: number[] = [];
            for (const run of [0, 1]) {
                // As the load resource does: every pod ready for this run, then one start time for all.
                const ready = (dir: string) => { try { return fs.readFileSync(path.join(dir, "ready"), "utf8"); } catch { return ""; } };
                while (!barriers.every((dir) => ready(dir) === String(run))) await new Promise((r) => setTimeout(r, 20));
                releasedAt.push(Date.now() / 1000 + 0.3);
                for (const dir of barriers) fs.writeFileSync(path.join(dir, "go"), `${run} ${releasedAt[run]}`);
            }
            const done = await pods;
            assert.deepEqual(done.map((p) => p.code), [0, 0], done.map((p) => p.stdout).join("\n"));
            const merged = mergePodResults(done.map((p) => p.stdout), expected);
            for (const [run, r] of merged.runs.entries()) {
                assert.ok(r.podsStartSkewSeconds < 0.25, `run ${run}: the pods started ${r.podsStartSkewSeconds} s apart`);
                for (const pod of done.map((p) => line(p.stdout))) {
                    assert.ok(pod.runs[run].start >= releasedAt[run] - 0.01, `run ${run} started ${releasedAt[run] - pod.runs[run].start} s before its release`);
                }
            }
        });
    });

    it("with a barrier, a pod never released fails on its own, saying so", async () => {
        await withServer(async (url) => {
            const started = Date.now();
            const alone = await runPod(loadPodArgv(spec(url, { barrierSeconds: 1, warmupSeconds: 0 })), "0", work, path.join(work, "barrier"));
            assert.equal(alone.code, 1);
            assert.match(line(alone.stdout).error, /^run 1 of 2: not released within 1 s \(its load resource releases the pods together once every one is ready\)/);
            assert.ok(Date.now() - started < 15_000, "bounded: it gave up");
        });
    });

    it("fails clearly, in its line, on a wrong answer, no answer, or no index", async () => {
        await withServer(async (url) => {
            const wrong = await runPod(loadPodArgv(spec(url, { expectBody: "Goodbye" })), "1");
            assert.equal(wrong.code, 1);
            assert.throws(() => mergePodResults([wrong.stdout], { ...expected, parts: 1 }),
                /load pod 0 failed: check http:\/\/127\.0\.0\.1:\d+\/\?delay=0\.003: expected status 200 and a body containing "Goodbye", got status 200 and body: Hi there/);
            const noIndex = await runPod(loadPodArgv(spec(url)), undefined);
            assert.equal(noIndex.code, 1);
            assert.match(line(noIndex.stdout).error, /JOB_COMPLETION_INDEX is '', expected 0 to 1 \(an Indexed Job sets it\)/);
            assert.match(line((await runPod(loadPodArgv(spec(url)), "2")).stdout).error, /JOB_COMPLETION_INDEX is '2'/);
            // A driver that stops half-way, as ab does on a reset connection without -r.
            const broken = path.join(work, "ab");
            fs.writeFileSync(broken, '#!/bin/sh\n[ "$1" = -V ] && exec echo "This is ApacheBench, Version 2.3"\n' +
                'echo "apr_socket_recv: Connection reset by peer (104)" >&2\nexit 22\n', { mode: 0o755 });
            const stopped = await runPod(loadPodArgv(spec(url, { driverPath: broken })), "0");
            assert.equal(stopped.code, 1);
            assert.throws(() => mergePodResults([stopped.stdout], { ...expected, parts: 1 }),
                /load pod 0 failed: warm-up: ab exited with 22: apr_socket_recv: Connection reset by peer \(104\)/);
            const unwarmed = await runPod(loadPodArgv(spec(url, { driverPath: broken, warmupSeconds: 0 })), "0");
            assert.equal(unwarmed.code, 1);
            assert.match(line(unwarmed.stdout).error, /^run 1 of 2: ab exited with 22: apr_socket_recv/);
        });
        // The server is closed: nothing listens on its port.
        const closed = await new Promise<number>((resolve) => {
            const s = http.createServer().listen(0, "127.0.0.1", () => {
                const port = (s.address() as AddressInfo).port;
                s.close(() => resolve(port));
            });
        });
        const refused = await runPod(loadPodArgv(spec(`http://127.0.0.1:${closed}/`)), "0");
        assert.equal(refused.code, 1);
        assert.match(line(refused.stdout).error, /^check http:\/\/127\.0\.0\.1:\d+\/: .*[Cc]onnection refused/);
    });
});
