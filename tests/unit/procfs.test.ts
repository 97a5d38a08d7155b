import { strict as assert } from "assert";
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import { containerIdOf, parseDockerTopThreads } from "../../lib/containers";
import { withRaisedFileLimit } from "../../lib/launch";
import { countThreads, isActiveBackend, readListenCounters } from "../../lib/probes";
import { groupProcesses, isAlive, localTargets, parseEnviron, parseNetstat, parseProcStat, processesWithEnv, readProcStat, threadsInGroup } from "../../lib/procfs";
import { listeningPorts } from "../../lib/ports";
import { markedTargets, stopProcesses } from "../../providers/processScope";

/** Polls `cond` until it holds; fails after `ms`. */
async function waitFor(what: string, cond: () => boolean, ms = 5000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!cond()) {
        if (Date.now() > deadline) assert.fail(`not within ${ms} ms: ${what}`);
        await new Promise((r) => setTimeout(r, 20));
    }
}

/** A detached process group, its environment only PATH and `env`. */
function spawnGroup(script: string, env: Record<string, string> = {}): ChildProcess {
    return spawn("sh", ["-c", script], { detached: true, stdio: "ignore", env: { PATH: process.env.PATH!, ...env } });
}

function killGroup(child: ChildProcess): void {
    try { process.kill(-child.pid!, "SIGKILL"); } catch { /* gone */ }
}

describe("procfs", () => {
    it("parses /proc/<pid>/stat even when the name holds spaces and parentheses", () => {
        const line = "4242 (uWSGI (worker 1)) S 4100 4200 4200 0 -1 4194624 100 0 0 0 5 1 0 0 20 0 12 0 987654 1000 100";
        assert.deepEqual(parseProcStat(line), { pid: 4242, state: "S", ppid: 4100, pgrp: 4200, threads: 12, startTime: 987654, cpuTicks: 6 });
        assert.throws(() => parseProcStat("garbage"), /not a \/proc/);
    });

    it("counts the threads of a real process group and tells a live process", async () => {
        const child = spawnGroup("sleep 30 & sleep 30 & wait");
        try {
            await waitFor("sh and its two sleeps", () => groupProcesses(child.pid!).length === 3);
            assert.equal(threadsInGroup(child.pid!), 3);
            assert.equal(countThreads({ kind: "group", pgid: child.pid! }), 3);
            assert.equal(countThreads({ kind: "none" }), null);
            const stat = readProcStat(child.pid!)!;
            assert.ok(isAlive(child.pid!, stat.startTime));
            assert.ok(!isAlive(child.pid!, stat.startTime + 1), "a reused pid is not the same process");
        } finally {
            killGroup(child);
        }
    });

    it("counts with a group the processes descended from it that started sessions of their own (PostgreSQL's backends)", async () => {
        const child = spawnGroup("setsid sleep 30 & sleep 30 & wait");
        try {
            await waitFor("sh, its sleep, and the sleep in a session of its own", () => groupProcesses(child.pid!).length === 3);
            assert.equal(new Set(groupProcesses(child.pid!).map((p) => p.pgrp)).size, 2, "two process groups, one service");
        } finally {
            killGroup(child);
            for (const p of groupProcesses(child.pid!)) process.kill(p.pid, "SIGKILL");
        }
    });

    it("tells PostgreSQL's backends running a statement from idle ones and from its own processes", () => {
        const title = (t: string) => `${t}${"\0".repeat(40)}`;
        assert.ok(isActiveBackend(title("postgres: example example 127.0.0.1(46736) SELECT")));
        assert.ok(!isActiveBackend(title("postgres: example example 127.0.0.1(46736) idle")));
        assert.ok(!isActiveBackend(title("postgres: example example 127.0.0.1(46736) idle in transaction")));
        assert.ok(!isActiveBackend(title("postgres: checkpointer ")));
        assert.ok(!isActiveBackend(title("postgres: logical replication launcher ")));
        assert.ok(!isActiveBackend("/usr/lib/postgresql/15/bin/postgres\0-D\0/data"));
    });

    it("reads the listen-queue counters of a process's network namespace", async () => {
        const text = "TcpExt: SyncookiesSent ListenOverflows ListenDrops\nTcpExt: 0 15251 15260\nIpExt: InNoRoutes\nIpExt: 3\n";
        const counters = parseNetstat(text);
        assert.deepEqual([counters.get("TcpExt.ListenOverflows"), counters.get("TcpExt.ListenDrops"), counters.get("IpExt.InNoRoutes")], [15251, 15260, 3]);
        // sleep itself, not under sh: whether sh execs its last command or forks it varies (dash here forks).
        const child = spawn("sleep", ["30"], { detached: true, stdio: "ignore" });
        try {
            await waitFor("sleep", () => groupProcesses(child.pid!).length === 1);
            const counters = readListenCounters({ kind: "group", pgid: child.pid! })!;
            assert.equal(counters.namespace, "this machine's");
            assert.ok(counters.overflows >= 0 && counters.drops >= counters.overflows, JSON.stringify(counters));
        } finally {
            killGroup(child);
        }
        assert.equal(readListenCounters({ kind: "container", name: "x" }), null, "a container's namespace is not read here");
    });

    it("parses /proc/<pid>/environ", () => {
        const env = parseEnviron("A=1\0PATHS=x=y:z\0EMPTY=\0no-equals\0\0");
        assert.deepEqual([...env], [["A", "1"], ["PATHS", "x=y:z"], ["EMPTY", ""]]);
    });

    it("finds the live processes carrying a marker, children included, and no others", async () => {
        const mark = `procfs-test-${process.pid}-${Date.now()}`;
        const marked = spawnGroup("sleep 30 & wait", { FGL_TEST_MARK: mark });
        const other = spawnGroup("sleep 30 & wait", { FGL_TEST_MARK: `${mark}-other` });
        try {
            // Both groups whole (sh, then the sleep it forks) before anything is judged: a busy machine forks late.
            await waitFor("sh and its sleep, in each group", () =>
                processesWithEnv("FGL_TEST_MARK", mark).length === 2 && processesWithEnv("FGL_TEST_MARK", `${mark}-other`).length === 2);
            const found = processesWithEnv("FGL_TEST_MARK", mark);
            assert.deepEqual(found.map((p) => p.pgrp), [marked.pid, marked.pid]);
            assert.equal(found[0].env.get("PATH"), process.env.PATH);
            killGroup(marked);
            await waitFor("the marked group gone (zombies count as gone)", () => processesWithEnv("FGL_TEST_MARK", mark).length === 0);
            assert.equal(processesWithEnv("FGL_TEST_MARK", `${mark}-other`).length, 2, "a different value is not ours");
        } finally {
            killGroup(marked);
            killGroup(other);
        }
    });

    it("reads the container a process runs in from its cgroups (cgroupfs and systemd drivers), and none outside one", () => {
        const id = "0123456789abcdef".repeat(4);
        assert.equal(containerIdOf(`12:pids:/kubepods/besteffort/pod1b2c/${id}\n4:cpu,cpuacct:/kubepods/besteffort/pod1b2c/${id}\n`), id);
        assert.equal(containerIdOf(`0::/kubepods.slice/kubepods-pod1b2c.slice/cri-containerd-${id}.scope\n`), id);
        assert.equal(containerIdOf("0::/user.slice/user-0.slice/session-1.scope\n4:cpu,cpuacct:/\n"), undefined);
    });

    it("reads the local processes a load measured from its target, skipping container ids", () => {
        assert.deepEqual(localTargets("postgres:90:1200 slow-api:123:4567 flask-app:789:10111"), [
            { service: "postgres", pid: 90, startTime: 1200 },
            { service: "slow-api", pid: 123, startTime: 4567 },
            { service: "flask-app", pid: 789, startTime: 10111 },
        ]);
        assert.deepEqual(localTargets("3f2a9c0b1d4e 77aa01 slow-api:12:34"), [{ service: "slow-api", pid: 12, startTime: 34 }]);
        assert.deepEqual(localTargets(""), []);
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

describe("stopping marked processes", () => {
    const mark = () => `stop-test-${process.pid}-${Date.now()}-${Math.random()}`;

    it("takes each process's stop signal from its FGL_STOP_SIGNAL marker", async () => {
        const m = mark();
        const int = spawnGroup("exec sleep 30", { FGL_TEST_MARK: m, FGL_STOP_SIGNAL: "SIGINT" });
        const bogus = spawnGroup("exec sleep 30", { FGL_TEST_MARK: m, FGL_STOP_SIGNAL: "SIGNOPE" });
        try {
            await waitFor("both started", () => markedTargets("FGL_TEST_MARK", m).length === 2);
            const bySignal = Object.fromEntries(markedTargets("FGL_TEST_MARK", m, "SIGQUIT").map((t) => [t.pid, t.signal]));
            assert.deepEqual(bySignal, { [int.pid!]: "SIGINT", [bogus.pid!]: "SIGQUIT" });
        } finally {
            killGroup(int);
            killGroup(bogus);
        }
    });

    it("stops with the graceful signal, SIGKILLs what ignores it after the grace, and spares the unmarked", async () => {
        const m = mark();
        const graceful = spawnGroup("exec sleep 30", { FGL_TEST_MARK: m });
        // An ignored signal stays ignored across exec: this sleep outlives SIGTERM.
        const stubborn = spawnGroup("trap '' TERM; exec sleep 30", { FGL_TEST_MARK: m });
        const unmarked = spawnGroup("exec sleep 30");
        const exitSignal = (c: ChildProcess) => new Promise((resolve) => c.once("exit", (_code, signal) => resolve(signal)));
        const ended = Promise.all([exitSignal(graceful), exitSignal(stubborn)]);
        try {
            // Both exec'd into sleep: the stubborn one's trap is set by then.
            const comm = (pid: number) => { try { return fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim(); } catch { return ""; } };
            await waitFor("both marked sleeping", () => markedTargets("FGL_TEST_MARK", m).length === 2 &&
                comm(graceful.pid!) === "sleep" && comm(stubborn.pid!) === "sleep");
            const started = Date.now();
            await stopProcesses("test", () => markedTargets("FGL_TEST_MARK", m), { graceMs: 1500, killLimitMs: 5000 });
            const took = Date.now() - started;
            assert.deepEqual(markedTargets("FGL_TEST_MARK", m), []);
            assert.deepEqual(await ended, ["SIGTERM", "SIGKILL"]);
            assert.ok(took >= 1500, `the stubborn one was SIGKILLed only after the grace (${took} ms)`);
            assert.ok(readProcStat(unmarked.pid!) && readProcStat(unmarked.pid!)!.state !== "Z", "the unmarked process still runs");
        } finally {
            killGroup(graceful);
            killGroup(stubborn);
            killGroup(unmarked);
        }
    });

    it("never signals a pid whose start time is not the recorded one, and names it when the limit passes", async () => {
        const child = spawnGroup("exec sleep 30");
        try {
            await waitFor("started", () => readProcStat(child.pid!) !== undefined);
            const stale = { pid: child.pid!, startTime: readProcStat(child.pid!)!.startTime - 1, signal: "SIGKILL" as const };
            await assert.rejects(stopProcesses("stale", () => [stale], { graceMs: 200, killLimitMs: 300 }),
                new RegExp(`stale: process ${child.pid} still alive 0.3 s after SIGKILL`));
            assert.ok(isAlive(child.pid!, stale.startTime + 1), "the reused pid's process was not signalled");
        } finally {
            killGroup(child);
        }
    });
});
