import { strict as assert } from "assert";
import { spawn } from "child_process";
import { countThreads, groupProcesses, isAlive, parseDockerTopThreads, parseProcStat, readProcStat, threadsInGroup, withRaisedFileLimit } from "../../lib/procfs";
import { listeningPorts } from "../../lib/ports";

describe("procfs", () => {
    it("parses /proc/<pid>/stat even when the name holds spaces and parentheses", () => {
        const line = "4242 (uWSGI (worker 1)) S 4200 4200 4200 0 -1 4194624 100 0 0 0 5 1 0 0 20 0 12 0 987654 1000 100";
        assert.deepEqual(parseProcStat(line), { pid: 4242, state: "S", pgrp: 4200, threads: 12, startTime: 987654 });
        assert.throws(() => parseProcStat("garbage"), /not a \/proc/);
    });

    it("counts the threads of a real process group and tells a live process", async () => {
        const child = spawn("sh", ["-c", "sleep 30 & sleep 30 & wait"], { detached: true, stdio: "ignore" });
        await new Promise((r) => setTimeout(r, 200));
        try {
            assert.equal(groupProcesses(child.pid!).length, 3);
            assert.equal(threadsInGroup(child.pid!), 3);
            assert.equal(countThreads({ kind: "group", pgid: child.pid! }), 3);
            assert.equal(countThreads({ kind: "none" }), null);
            const stat = readProcStat(child.pid!)!;
            assert.ok(isAlive(child.pid!, stat.startTime));
            assert.ok(!isAlive(child.pid!, stat.startTime + 1), "a reused pid is not the same process");
        } finally {
            process.kill(-child.pid!, "SIGKILL");
        }
    });

    it("sums a container's threads from docker top", () => {
        assert.equal(parseDockerTopThreads("PID                 NLWP\n4101                1\n4150                12\n4151                10\n"), 23);
        assert.throws(() => parseDockerTopThreads("Error: No such container: x"), /no NLWP column/);
    });

    it("raises the open-files limit before exec", () => {
        const argv = withRaisedFileLimit(["/usr/bin/ab", "-n", "1"]);
        assert.deepEqual(argv.slice(0, 2), ["sh", "-c"]);
        assert.deepEqual(argv.slice(-3), ["/usr/bin/ab", "-n", "1"]);
    });
});

describe("ports", () => {
    it("finds listening ports in /proc/net/tcp", () => {
        const text = [
            "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
            "   0: 0100007F:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0",
            "   1: 0100007F:0FA0 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0",
        ].join("\n");
        assert.deepEqual([...listeningPorts(text)], [3000]);
    });
});
