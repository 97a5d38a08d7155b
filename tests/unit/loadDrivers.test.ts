import { strict as assert } from "assert";
import { execFile, execFileSync } from "child_process";
import { promisify } from "util";
import * as fs from "fs";
import * as http from "http";
import * as path from "path";
import { AddressInfo } from "net";
import { abArgv, abCeilingRps, abWarmupArgv, parseAbOutput, parseAbVersion } from "../../lib/load/ab";
import { k6Argv, k6WarmupArgv, parseK6Summary, parseK6Version } from "../../lib/load/k6";
import { ohaArgv, ohaRateArgv, ohaWarmupArgv, parseOhaOutput, parseOhaVersion } from "../../lib/load/oha";
import { allClientsCeilingRps, checkFailures, efficiency, LoadResult, thresholdExceeded, throughputLimit } from "../../lib/load/result";
import { which } from "../../platforms/localTools";

/** A loopback server that fails every `failEvery`-th request with a 500; `close`: it closes every connection after its answer. */
async function withServer(failEvery: number, body: (port: number) => void | Promise<void>, close = false) {
    let count = 0;
    const server = http.createServer((_req, res) => {
        count++;
        res.statusCode = failEvery && count % failEvery === 0 ? 500 : 200;
        if (close) res.setHeader("Connection", "close");
        // A length, or an HTTP/1.0 client (ab) gets its connection closed to mark the end.
        const body = "Hi there! slow api response";
        res.setHeader("Content-Length", Buffer.byteLength(body));
        res.end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
        await body((server.address() as AddressInfo).port);
    } finally {
        server.close();
    }
}

/** Runs ab for real (asynchronously: the server under test shares this event loop). */
async function runAb(port: number, requests: number, concurrency: number, keepAlive = false): Promise<string> {
    const ab = which("ab");
    assert.ok(ab, "ApacheBench (ab) is needed: ./lab setup installs it");
    const [cmd, ...args] = abArgv(ab, { url: `http://127.0.0.1:${port}/?delay=0`, requests, concurrency, timeoutSeconds: 10, keepAlive });
    return (await promisify(execFile)(cmd, args, { encoding: "utf8" })).stdout;
}

describe("ApacheBench driver", () => {
    it("runs the tutorial's command line", () => {
        assert.deepEqual(abArgv("/usr/bin/ab", { url: "http://127.0.0.1:3000/?delay=1", requests: 2000, concurrency: 200, timeoutSeconds: 60 }),
            ["/usr/bin/ab", "-r", "-l", "-s", "60", "-n", "2000", "-c", "200", "http://127.0.0.1:3000/?delay=1"]);
    });

    it("parses a real ab report", async () => {
        await withServer(0, async (port) => {
            const figures = parseAbOutput(await runAb(port, 50, 5));
            assert.equal(figures.complete, 50);
            assert.equal(figures.failed, 0);
            assert.ok(figures.timeTakenSeconds > 0);
            assert.ok(figures.requestsPerSecond > 0);
            assert.ok(figures.latencyMs.p50 !== null && figures.latencyMs.max !== null);
            assert.ok(figures.latencyMs.max! >= figures.latencyMs.p50!);
        });
    });

    it("keeps connections with -k, counting the answers that came on a kept one: none where the server closes each", async () => {
        assert.deepEqual(abArgv("/usr/bin/ab", { url: "http://h/", requests: 20, concurrency: 2, timeoutSeconds: 60, keepAlive: true }).slice(1, 4), ["-r", "-l", "-k"]);
        await withServer(0, async (port) => {
            const kept = parseAbOutput(await runAb(port, 50, 5, true));
            assert.equal(kept.complete, 50);
            assert.ok(kept.keptAlive! >= 45, `${kept.keptAlive} of 50 answers on kept connections`);
            assert.equal(parseAbOutput(await runAb(port, 50, 5)).keptAlive, undefined, "not counted without -k");
        });
        await withServer(0, async (port) => {
            const closed = parseAbOutput(await runAb(port, 50, 5, true));
            assert.deepEqual([closed.complete, closed.failed, closed.keptAlive], [50, 0, 0]);
        }, true);
    });

    it("counts non-2xx answers as failed", async () => {
        await withServer(5, async (port) => {
            const figures = parseAbOutput(await runAb(port, 50, 1));
            assert.equal(figures.complete, 50);
            assert.equal(figures.failed, 10);
        });
    });

    it("refuses truncated or foreign output instead of reading zeros", async () => {
        await withServer(0, async (port) => {
            const full = await runAb(port, 20, 2);
            const truncated = full.slice(0, full.indexOf("Failed requests"));
            assert.throws(() => parseAbOutput(truncated), /ApacheBench: no 'Failed requests'/);
            const noPercentiles = full.slice(0, full.indexOf("Percentage of the requests"));
            assert.throws(() => parseAbOutput(noPercentiles), /no latency percentiles/);
        });
        assert.throws(() => parseAbOutput(""), /ApacheBench: no 'Complete requests'/);
        assert.throws(() => parseAbOutput("<html>502 Bad Gateway</html>"), /truncated, or not this driver's output/);
    });

    it("warms up for a time (-t), not a count", () => {
        assert.deepEqual(abWarmupArgv("/usr/bin/ab", { url: "http://127.0.0.1:3000/?delay=1", concurrency: 200, timeoutSeconds: 300 }, 3),
            ["/usr/bin/ab", "-r", "-l", "-s", "300", "-t", "3", "-c", "200", "http://127.0.0.1:3000/?delay=1"]);
    });

    it("reads its version", () => {
        const ab = which("ab")!;
        assert.match(parseAbVersion(execFileSync(ab, ["-V"], { encoding: "utf8" })), /^\d+\.\d+/);
    });

    it("knows its own ceiling: one request first, then the rest in waves of c", () => {
        assert.equal(abCeilingRps(2000, 200, 1)!.toFixed(1), "181.8"); // 11 s, as DESIGN.md measured
        assert.equal(2000 / abCeilingRps(2000, 200, 1)!, 11);
        assert.equal(10 / abCeilingRps(10, 5, 1)!, 3); // the tutorial's "expected ~2 s" is 3 s with ab
        assert.equal(abCeilingRps(10, 5, 0), null);
    });
});

// k6's documented end-of-test summary data (handleSummary), as k6/load.js writes it.
const K6_SUMMARY = {
    state: { isStdOutTTY: false, isStdErrTTY: false, testRunDurationMs: 10046.3 },
    metrics: {
        http_reqs: { type: "counter", contains: "default", values: { count: 2000, rate: 199.08 } },
        http_req_failed: { type: "rate", contains: "default", values: { rate: 0.0015, passes: 3, fails: 1997 } },
        http_req_duration: {
            type: "trend", contains: "time",
            values: { avg: 1003.2, min: 1000.4, med: 1002.11, max: 1040.7, "p(90)": 1005.3, "p(95)": 1007.9, "p(99)": 1020.55, "p(99.9)": 1035.24 },
        },
        iterations: { type: "counter", contains: "default", values: { count: 2000, rate: 199.08 } },
    },
};

describe("k6 driver", () => {
    it("passes the load through __ENV to k6/load.js", () => {
        const argv = k6Argv("/usr/bin/k6", "/p/k6/load.js", { url: "http://127.0.0.1:3000/?delay=1", requests: 2000, concurrency: 200, timeoutSeconds: 60 }, "/tmp/s.json");
        assert.deepEqual(argv.slice(0, 4), ["/usr/bin/k6", "run", "--quiet", "--no-usage-report"]);
        assert.equal(argv[argv.length - 1], "/p/k6/load.js");
        for (const kv of ["URL=http://127.0.0.1:3000/?delay=1", "VUS=200", "ITERATIONS=2000", "MAX_DURATION_SECONDS=60", "SUMMARY=/tmp/s.json"]) {
            assert.equal(argv[argv.indexOf(kv) - 1], "-e", kv);
        }
    });

    it("warms up for a time: the script's maxDuration, whatever the count", () => {
        const argv = k6WarmupArgv("/usr/bin/k6", "k6/load.js", { url: "http://x/", concurrency: 20, timeoutSeconds: 300 }, 3, "/tmp/s.json");
        assert.ok(argv.includes("MAX_DURATION_SECONDS=3") && argv.includes("VUS=20") && argv.includes("ITERATIONS=1000000"), argv.join(" "));
    });

    it("parses the summary: http_req_failed's passes are the failures", () => {
        const f = parseK6Summary(JSON.stringify(K6_SUMMARY));
        assert.deepEqual(f, {
            complete: 2000, failed: 3, timeTakenSeconds: 10.046, requestsPerSecond: 199.08,
            latencyMs: { p50: 1002.1, p90: 1005.3, p95: 1007.9, p99: 1020.6, p999: 1035.2, max: 1040.7 },
        });
    });

    it("refuses a malformed or truncated summary", () => {
        const text = JSON.stringify(K6_SUMMARY);
        assert.throws(() => parseK6Summary(text.slice(0, 100)), /k6 summary: not JSON/);
        const noFailed = JSON.parse(text);
        delete noFailed.metrics.http_req_failed;
        assert.throws(() => parseK6Summary(JSON.stringify(noFailed)), /no http_req_failed.passes/);
        assert.throws(() => parseK6Summary("{}"), /no http_reqs.count/);
    });

    it("reads its version; starting every client at once, its ceiling is n / c waves", () => {
        assert.equal(parseK6Version("k6 v0.54.0 (go1.23.1, linux/amd64)"), "v0.54.0");
        assert.equal(2000 / allClientsCeilingRps(2000, 200, 1)!, 10);
        assert.equal(2001 / allClientsCeilingRps(2001, 200, 1)!, 11);
        assert.equal(allClientsCeilingRps(2000, 200, 0), null);
    });
});

/** A real `oha --output-format json` output, recorded on this machine (tests/unit/fixtures). */
const ohaFixture = (name: string) => fs.readFileSync(path.join(__dirname, "fixtures", `oha-${name}.json`), "utf8");

describe("oha driver", () => {
    it("runs -n/-c exactly, a new connection per request, JSON on stdout", () => {
        assert.deepEqual(ohaArgv("/c/oha", { url: "http://127.0.0.1:3000/?delay=1", requests: 2000, concurrency: 200, timeoutSeconds: 60 }), [
            "/c/oha", "--no-tui", "--output-format", "json", "--disable-keepalive", "-t", "60s", "--connect-timeout", "60s",
            "-n", "2000", "-c", "200", "http://127.0.0.1:3000/?delay=1"]);
        const kept = ohaArgv("/c/oha", { url: "http://h/", requests: 20, concurrency: 2, timeoutSeconds: 60, keepAlive: true });
        assert.ok(!kept.includes("--disable-keepalive"), "keep-alive: oha's own default");
    });

    it("warms up for a time at the load's clients, and probes a constant rate with latency counted from when each request was due", () => {
        const load = { url: "http://127.0.0.1:3000/?delay=1", concurrency: 200, timeoutSeconds: 60 };
        assert.deepEqual(ohaWarmupArgv("/c/oha", load, 3).slice(5), ["-t", "60s", "-z", "3s", "-c", "200", "http://127.0.0.1:3000/?delay=1"]);
        assert.deepEqual(ohaRateArgv("/c/oha", { url: load.url, rate: 150, seconds: 10, connections: 450, timeoutSeconds: 6 }), [
            "/c/oha", "--no-tui", "--output-format", "json", "--disable-keepalive", "-q", "150", "--latency-correction", "-z", "10s", "-w",
            "-t", "6s", "--connect-timeout", "6s", "-c", "450", "http://127.0.0.1:3000/?delay=1"]);
    });

    it("parses a real run: seconds become ms, p99.9 included", () => {
        // 400 requests, 100 clients, the slow API at 0.5 s.
        assert.deepEqual(parseOhaOutput(ohaFixture("ok")), {
            complete: 400, failed: 0, timeTakenSeconds: 2.22, requestsPerSecond: 180.17,
            latencyMs: { p50: 548.6, p90: 556.9, p95: 557.7, p99: 564, p999: 564.1, max: 564.1 },
            statusCodes: { "200": 400 }, errors: {}, timeouts: 0,
        });
    });

    it("counts non-2xx answers as failed, like ab's readers would", () => {
        const f = parseOhaOutput(ohaFixture("mixed"));
        assert.deepEqual([f.complete, f.failed, f.statusCodes], [50, 10, { "200": 40, "500": 10 }]);
    });

    it("counts requests with no answer as failed, timeouts apart, with no latency to report", () => {
        const timedOut = parseOhaOutput(ohaFixture("timeouts"));
        assert.deepEqual([timedOut.complete, timedOut.failed, timedOut.timeouts, timedOut.errors], [20, 20, 20, { timeout: 20 }]);
        assert.deepEqual(timedOut.latencyMs, { p50: null, p90: null, p95: null, p99: null, p999: null, max: null });
        const refused = parseOhaOutput(ohaFixture("refused"));
        assert.deepEqual([refused.failed, refused.timeouts], [10, 0]);
    });

    it("finds its JSON among other printed lines, and refuses truncated or foreign output", () => {
        assert.equal(parseOhaOutput(`warning: something\n${ohaFixture("ok")}\nbye\n`).complete, 400);
        const text = ohaFixture("ok");
        assert.throws(() => parseOhaOutput(text.slice(0, text.length / 2)), /oha: no JSON in the output/);
        assert.throws(() => parseOhaOutput("error: invalid value 'x' for '-n <N_REQUESTS>'"), /oha: no JSON/);
        const noCodes = JSON.parse(text);
        delete noCodes.statusCodeDistribution;
        assert.throws(() => parseOhaOutput(JSON.stringify(noCodes)), /no statusCodeDistribution/);
        assert.throws(() => parseOhaOutput(JSON.stringify({ ...JSON.parse(text), summary: {} })), /no summary.total/);
    });

    it("reads its version", () => {
        assert.equal(parseOhaVersion("oha 1.16.0\n"), "1.16.0");
    });
});

describe("limits", () => {
    it("applies Little's law with the server's capacity", () => {
        assert.equal(throughputLimit(200, Infinity, 1), 200);
        assert.equal(throughputLimit(5, 1, 1), 1); // single-threaded dev server
        assert.equal(throughputLimit(2000, 200, 1), 200); // 4 x 50 threads
        assert.equal(throughputLimit(200, 4000, 0.5), 400);
        assert.equal(throughputLimit(200, 200, 0), null);
        assert.equal(efficiency(151.93, 200), 0.7597);
        assert.equal(efficiency(10, null), null);
    });
});

describe("failures checked against the slow API's own count", () => {
    const figures = { complete: 200, failed: 3, timeTakenSeconds: 2, requestsPerSecond: 100, latencyMs: { p50: 1, p90: 1, p95: 1, p99: 1, p999: null, max: 1 } };
    it("counts what the driver called answered and the slow API never answered as failed, unseen by the driver", () => {
        assert.deepEqual(checkFailures(figures, { arrived: 200, served: 177, dropped: 20 }),
            { byDriver: 3, unseenByDriver: 20, checkedAgainst: "the slow API's count of its answers" });
        assert.deepEqual(checkFailures(figures, { arrived: 200, served: 197, dropped: 0 }).unseenByDriver, 0);
        assert.deepEqual(checkFailures(figures, null), { byDriver: 3, unseenByDriver: 0, checkedAgainst: null });
    });

    it("does not let answers to earlier requests, falling in the run, hide this run's missing ones", () => {
        // The run's 200 reached it, 20 were dropped; 13 answers to a warm-up's requests fell in the run: served 193.
        assert.equal(checkFailures(figures, { arrived: 200, served: 193, dropped: 20 }).unseenByDriver, 17);
    });
});

describe("failure threshold", () => {
    const result = { failed: 7, requests: 2000, requestsPerSecond: 150, timeTakenSeconds: 13.3, url: "http://127.0.0.1:3000/?delay=1", repeats: [{}] } as LoadResult;
    it("fails the up with a readable summary above maxFailedRequests, and only then", () => {
        assert.equal(thresholdExceeded(result, -1, "results/x"), undefined);
        assert.equal(thresholdExceeded(result, 7, "results/x"), undefined);
        assert.equal(thresholdExceeded(result, 0, "results/x"),
            "load test: 7 of 2000 requests failed (maxFailedRequests is 0); 150 req/s in 13.3 s against " +
            "http://127.0.0.1:3000/?delay=1; result kept in results/x");
        assert.match(thresholdExceeded({ ...result, repeats: [result, result, result] }, 0, "results/x")!, /^load test: 7 of 6000 requests failed over 3 runs/);
    });
});
