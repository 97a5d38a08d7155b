import { strict as assert } from "assert";
import * as net from "net";
import { MAX_SLOW_CLIENTS, slowClientsEffect, slowClientsProblem, slowClientsText } from "../../lib/load/slowClients";
import { holdSlowClients } from "../../providers/slowClients";
import { run } from "./fixtures/runs";

/** A server that records what each connection sent; `dropFirst` closes the first connection on its first bytes. */
async function recordingServer(dropFirst = false) {
    const received: string[] = [];
    const open = new Set<net.Socket>();
    const server = net.createServer((socket) => {
        const i = received.push("") - 1;
        open.add(socket);
        socket.on("data", (d: Buffer) => {
            received[i] += d.toString();
            if (dropFirst && i === 0) socket.destroy();
        });
        socket.on("close", () => open.delete(socket));
        socket.on("error", () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    return { port: (server.address() as net.AddressInfo).port, received, open, close: () => server.close() };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("slow clients", () => {
    it("hold their connections with a head trickled a line a second and never ended, until stopped", async () => {
        const server = await recordingServer();
        try {
            const slow = holdSlowClients(`http://127.0.0.1:${server.port}/?delay=1`, 3, 60);
            await slow.ready;
            await sleep(2300);
            assert.equal(server.open.size, 3);
            for (const text of server.received) {
                assert.match(text, /^GET \/\?delay=1 HTTP\/1\.1\r\nHost: 127\.0\.0\.1:\d+\r\n/);
                assert.ok((text.match(/^X-Slow-\d+: \d+\r\n/gm) ?? []).length >= 2, `a line a second: ${JSON.stringify(text)}`);
                assert.ok(!text.includes("\r\n\r\n"), "the head is never ended");
            }
            assert.deepEqual(slow.stop(), { clients: 3, connected: 3, opened: 3, reopened: 0 });
            await sleep(200);
            assert.equal(server.open.size, 0, "stopped: every connection closed");
        } finally {
            server.close();
        }
    });

    it("come back when the server drops one, and stop by themselves at their time limit", async () => {
        const server = await recordingServer(true);
        try {
            const slow = holdSlowClients(`http://127.0.0.1:${server.port}/`, 2, 1);
            await slow.ready;
            await sleep(600);
            assert.equal(server.open.size, 2, "the dropped one came back");
            await sleep(900);
            assert.equal(server.open.size, 0, "past the 1 s limit nothing is held");
            assert.deepEqual(slow.stop(), { clients: 2, connected: 2, opened: 3, reopened: 1 });
        } finally {
            server.close();
        }
    });

    it("fail to get ready when the target refuses them", async () => {
        const server = await recordingServer();
        server.close();
        await sleep(50);
        const slow = holdSlowClients(`http://127.0.0.1:${server.port}/`, 2, 5);
        await assert.rejects(slow.ready, /a slow client could not connect to 127\.0\.0\.1:\d+/);
        slow.stop();
    });

    it("are bounded in number", () => {
        assert.equal(slowClientsProblem(0), null);
        assert.equal(slowClientsProblem(MAX_SLOW_CLIENTS), null);
        assert.match(slowClientsProblem(MAX_SLOW_CLIENTS + 1)!, /more than 2000/);
        assert.match(slowClientsProblem(-1)!, /not a whole number >= 0/);
        assert.match(slowClientsProblem(1.5)!, /not a whole number >= 0/);
    });

    it("judge the main load by what it answered: timed-out requests are no throughput, and a change within the noise is a tie", () => {
        const held = { clients: 4, connected: 4, opened: 4, reopened: 0 };
        // A driver's req/s counts timeouts: 16 requests, all failed, in 12 s read as 1.33 req/s.
        const starved = run(1.33, { complete: 16, failed: 16, timeTakenSeconds: 12, latencyMs: { p50: null, p90: null, p95: null, p99: null, p999: null, max: null } });
        const fed = [run(9.7, { complete: 16, timeTakenSeconds: 1.65 }), run(9.9, { complete: 16, timeTakenSeconds: 1.62 })];
        const e = slowClientsEffect(held, fed, [starved, { ...starved, timeTakenSeconds: 12.1 }]);
        assert.equal(e.answeredPerSecond.with, 0);
        assert.equal(e.answeredPerSecond.comparison, "lower");
        assert.deepEqual(e.failed, { without: 0, with: 32 });
        assert.equal(e.p95Ms.with, null, "no answer, no latency");
        assert.match(slowClientsText(e), /^4 held open \(0 reopened.*\): answered\/s 9\.8 -> 0 \(-100 %\), p95 1150 ms -> none, failed 0 -> 32$/);
        const same = slowClientsEffect(held, fed, [run(9.8, { complete: 16, timeTakenSeconds: 1.66 }), run(9.6, { complete: 16, timeTakenSeconds: 1.6 })]);
        assert.equal(same.answeredPerSecond.comparison, "tie");
        assert.match(slowClientsText(same), /within noise/);
        assert.equal(slowClientsEffect(held, [fed[0]], [fed[1]]).answeredPerSecond.comparison, "unknown", "one run each tells no noise");
        assert.match(slowClientsText(slowClientsEffect({ ...held, connected: 3 }, fed, fed)), /^3 of 4 connected held open/);
    });
});
