// Failures counted truly, by every driver: the slow API's fault mode closes
// every tenth connection without a byte of answer, and counts what it dropped;
// each driver's failures, after the lab's own check, must equal that count.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { findDriver, which } from "../../platforms/localTools";
import { LoadRunInputs, measure } from "../../providers/loadRun";
import { startSlowApi, stop } from "../../scripts/harness";
import { ROOT } from "./stack";

describe("failures counted truly: the slow API drops 1 in 10 connections (?drop=0.1)", function () {
    const log = path.join(os.tmpdir(), `e2e-failures-slow-api-${process.pid}.log`);
    let api: Awaited<ReturnType<typeof startSlowApi>>;
    before(async () => {
        api = await startSlowApi({}, log);
    });
    after(() => {
        stop(api.child);
        fs.rmSync(log, { force: true });
    });

    const requests = 200;
    const dropped = requests / 10;
    const inputs = (driver: ReturnType<typeof findDriver>): LoadRunInputs => ({
        url: `${api.url}?delay=0.1&drop=0.1`, expectBody: "slow api response",
        driver: driver.name, driverPath: driver.path, driverVersion: driver.version, k6Script: path.join(ROOT, "k6", "load.js"),
        requests, concurrency: 20, delaySeconds: 0.1, timeoutSeconds: 30, repeats: 1, warmupSeconds: 0, upstreamUrl: api.url,
        capacity: -1, threads: { kind: "none" }, maxFailedRequests: -1, resultsDir: "", target: "", runId: "",
    });

    it("ab: blind to an answer closed without a byte (its -l counts it complete); the slow API's count finds every one", async () => {
        const r = await measure(inputs(findDriver("ab")));
        assert.equal(r.upstream!.dropped, dropped, "the slow API dropped exactly one in ten");
        assert.equal(r.failures.byDriver, 0, "ab itself saw none of them");
        assert.equal(r.failures.unseenByDriver, dropped);
        assert.equal(r.failed, dropped);
        assert.equal(r.complete, requests);
    });

    it("oha: counts each as an error itself, and the check agrees", async () => {
        const r = await measure(inputs(findDriver("oha")));
        assert.equal(r.upstream!.dropped, dropped);
        assert.equal(r.failures.byDriver, dropped, JSON.stringify(r.errors));
        assert.deepEqual(r.errors, { "connection closed before message completed": dropped });
        assert.equal(r.failures.unseenByDriver, 0);
        assert.equal(r.failed, dropped);
    });

    it("k6 (where on PATH): counts each as failed itself, and the check agrees", async function () {
        if (!which("k6")) this.skip();
        const r = await measure(inputs(findDriver("k6")));
        assert.equal(r.upstream!.dropped, dropped);
        assert.equal(r.failures.byDriver, dropped);
        assert.equal(r.failed, dropped);
    });

    it("without the slow API's count, a driver's own figure is all there is, and the result says so", async () => {
        const r = await measure({ ...inputs(findDriver("ab")), upstreamUrl: "" });
        assert.deepEqual([r.failed, r.failures.checkedAgainst, r.upstream], [0, null, null]);
    });
});
