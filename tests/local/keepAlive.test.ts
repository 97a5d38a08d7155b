// Keep-alive loads on real stacks: a server that keeps connections answers
// nearly every request on one; one that closes them (the single-threaded dev
// server speaks HTTP/1.0) answers all of them, each on a new connection, and
// the result counts them so instead of calling them failed or kept.
import { strict as assert } from "assert";
import { Stack } from "@pulumi/pulumi/automation";
import { removeStack, testStack, upOutputs } from "./stack";

const LOAD = { loadRequests: "60", loadConcurrency: "6", loadDelay: "0.05", baseline: "false", loadKeepAlive: "true" };

describe("keep-alive loads (real engine, ab -k)", function () {
    let stack: Stack | undefined;
    afterEach(async () => {
        if (stack) await removeStack(stack);
        stack = undefined;
    });

    it("Gunicorn's gthread worker keeps the clients' connections: nearly every answer comes on a kept one", async () => {
        stack = await testStack("e2e-keepalive-gthread", "gunicorn-gthread", LOAD);
        const out = await upOutputs(stack);
        assert.deepEqual([out.completeRequests, out.failedRequests], [60, 0]);
        assert.equal(out.result.keepAlive, true);
        // Each of the 6 clients opens one connection and keeps it (the warm-up's are its own).
        assert.ok(out.result.keptAlive >= 60 - 2 * 6, `${out.result.keptAlive} of 60 answers on kept connections`);
        assert.match(out.summary, /keep-alive \(\d+ of 60 answers on kept connections\)/);
    });

    it("the single-threaded dev server closes each connection: every request answered, none on a kept connection", async () => {
        stack = await testStack("e2e-keepalive-devserver", "devserver", { ...LOAD, loadRequests: "10", loadConcurrency: "2" });
        const out = await upOutputs(stack);
        assert.deepEqual([out.completeRequests, out.failedRequests, out.result.keptAlive], [10, 0, 0]);
    });
});
