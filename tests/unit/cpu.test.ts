import { strict as assert } from "assert";
import { execFileSync, spawn } from "child_process";
import * as os from "os";
import {
    cpuList, CpuSnapshot, formatCpuAffinity, parseCpuAffinity, parseProcStatCpu, snapshotsSpanning, summarizeCpu, unseenUnreadable, usableCores,
} from "../../lib/load/cpu";
import { withCpuAffinity } from "../../lib/launch";
import { countThreads, readCpuSnapshot } from "../../lib/probes";
import { processTree, ProcStat } from "../../lib/procfs";
import { resolveSettings } from "../../lib/settings";

/** A snapshot: `at` seconds, machine ticks, and per role its processes' CPU seconds. */
const snap = (at: number, busy: number, idle: number, roles: CpuSnapshot["roles"]): CpuSnapshot => ({ at, machine: { busy, idle }, roles });

describe("CPU affinity setting", () => {
    it("reads taskset -c lists", () => {
        assert.deepEqual(cpuList("0-1,3"), [0, 1, 3]);
        assert.deepEqual(cpuList("1,1"), [1]);
        assert.throws(() => cpuList("a"), /not a CPU list/);
        assert.throws(() => cpuList("3-1"), /empty CPU range/);
    });

    it("parses role=cpus pairs and refuses anything else", () => {
        assert.deepEqual(parseCpuAffinity(""), {});
        assert.deepEqual(parseCpuAffinity(" app=1  driver=0 upstream=1 "), { app: "1", driver: "0", upstream: "1" });
        assert.equal(formatCpuAffinity(parseCpuAffinity("app=1 driver=0-1")), "driver=0-1 app=1");
        assert.throws(() => parseCpuAffinity("server=0"), /role among driver, upstream, app, ingress, postgres/);
        assert.throws(() => parseCpuAffinity("app"), /not role=cpus/);
        assert.throws(() => parseCpuAffinity("app=0=1"), /not role=cpus/);
        assert.throws(() => parseCpuAffinity("app=0 app=1"), /app is pinned twice/);
        assert.throws(() => parseCpuAffinity("app=x"), /not a CPU list/);
    });

    it("is checked with the stack's settings, naming the fix", () => {
        const read = (value: string) => resolveSettings((key) => (key === "cpuAffinity" ? value : undefined));
        assert.deepEqual(read("driver=0 app=1").cpuAffinity, { driver: "0", app: "1" });
        assert.throws(() => read("app=one"), /cpuAffinity: "one" is not a CPU list .*fix: pulumi config set cpuAffinity "driver=0 upstream=1 app=1"/);
    });

    it("pins a program to the CPUs of a list, and leaves it alone without one", () => {
        const allowed = (argv: string[]) =>
            execFileSync(argv[0], argv.slice(1), { encoding: "utf8" }).match(/^Cpus_allowed_list:\s+(\S+)/m)![1];
        const show = ["grep", "Cpus_allowed_list", "/proc/self/status"];
        assert.equal(allowed(withCpuAffinity(show, "0")), "0");
        assert.deepEqual(withCpuAffinity(show, undefined), show);
        if (os.cpus().length > 1) assert.equal(allowed(withCpuAffinity(show, "1")), "1");
    });

    it("counts the cores a role may run on: its pinned CPUs on this machine, or all", () => {
        assert.equal(usableCores({}, 2), 2);
        assert.equal(usableCores({ cpus: "1" }, 2), 1);
        assert.equal(usableCores({ cpus: "0-3" }, 2), 2);
        assert.equal(usableCores({ cpus: "0-1", processCores: 1 }, 8), 2);
        // A CPU quota (Kubernetes limits over a role's pods) caps it too.
        assert.equal(usableCores({ cores: 0.5 }, 2), 0.5);
        assert.equal(usableCores({ cpus: "1", cores: 4 }, 2), 1);
    });
});

describe("CPU time from /proc", () => {
    it("finds a process tree by parent pids", () => {
        const p = (pid: number, ppid: number) => ({ pid, ppid } as ProcStat);
        const table = [p(1, 0), p(10, 1), p(11, 10), p(12, 11), p(20, 1), p(13, 10)];
        assert.deepEqual(processTree(table, [10]).map((q) => q.pid).sort(), [10, 11, 12, 13]);
        assert.deepEqual(processTree(table, [99]), []);
    });

    it("reads the CPU time of a busy process group and of a driver's tree", async () => {
        const busy = spawn("sh", ["-c", "while :; do :; done"], { detached: true, stdio: "ignore" });
        try {
            const first = readCpuSnapshot({ app: { kind: "group", pgid: busy.pid! }, ingress: { kind: "container", name: "x" } }, process.pid);
            await new Promise((r) => setTimeout(r, 600));
            const then = readCpuSnapshot({ app: { kind: "group", pgid: busy.pid! } }, process.pid);
            const key = Object.keys(then.roles.app!)[0];
            const used = then.roles.app![key] - (first.roles.app![key] ?? 0);
            const elapsed = then.at - first.at;
            assert.ok(used > 0.1 && used <= elapsed + 0.05, `a spinning shell used ${used} s of CPU in ${elapsed} s`);
            assert.equal(first.roles.ingress, null, "a container is not read from /proc");
            assert.ok(Object.keys(first.roles.driver!).some((k) => k.startsWith(`${process.pid}:`)), "the tree's root is in it");
            assert.ok(then.at - first.at >= 0.6 && then.machine.busy > first.machine.busy);
        } finally {
            process.kill(-busy.pid!, "SIGKILL");
        }
    });

    it("finds a role by the marker in its processes' environment (a pod's, on this machine), threads and CPU", async () => {
        const mark = `cpu-test-${process.pid}-${Date.now()}`;
        const busy = spawn("sh", ["-c", "while :; do :; done"], { detached: true, stdio: "ignore", env: { ...process.env, FGL_TEST_ROLE: mark } });
        const probe = (value: string) => ({ kind: "marked" as const, key: "FGL_TEST_ROLE", value });
        try {
            const first = readCpuSnapshot({ app: probe(mark), upstream: probe(`${mark}-other`) });
            await new Promise((r) => setTimeout(r, 600));
            const then = readCpuSnapshot({ app: probe(mark) });
            assert.deepEqual(Object.keys(then.roles.app!), [`${busy.pid}:${Object.keys(first.roles.app!)[0].split(":")[1]}`]);
            const used = Object.values(then.roles.app!)[0] - Object.values(first.roles.app!)[0];
            assert.ok(used > 0.1, `the marked shell used ${used} s of CPU`);
            assert.deepEqual(first.roles.upstream, {}, "another value marks nobody here");
            assert.equal(countThreads(probe(mark)), 1);
            assert.equal(countThreads(probe(`${mark}-other`)), null);
        } finally {
            process.kill(-busy.pid!, "SIGKILL");
        }
    });
});

describe("CPU per role", () => {
    it("reads /proc/stat's aggregate line (iowait is idle, steal is busy)", () => {
        const text = "cpu  100 5 50 800 20 1 2 3 0 0\ncpu0 50 2 25 400 10 0 1 1 0 0\nintr 1\n";
        assert.deepEqual(parseProcStatCpu(text), { busy: 161, idle: 820 });
        assert.throws(() => parseProcStatCpu("intr 1"), /no aggregate cpu line/);
    });

    it("averages over the run and takes the peak over one-second windows", () => {
        // The app at 0.2 cores for 2 s, then 1 core for 1 s; the machine 50 % then 90 % busy (ticks of 2 cores).
        const s = [
            snap(0, 0, 0, { app: { "10:1": 5 } }),
            snap(1, 100, 100, { app: { "10:1": 5.2 } }),
            snap(2, 200, 200, { app: { "10:1": 5.4 } }),
            snap(3, 380, 220, { app: { "10:1": 6.4 } }),
        ];
        const cpu = summarizeCpu(s, 2, { app: { processCores: 1 } })!;
        assert.equal(cpu.seconds, 3);
        assert.deepEqual(cpu.roles.app, { avgCores: 0.467, peakCores: 1, usableCores: 2, peakProcessCores: 1, burstProcessCores: 1, processCores: 1 });
        assert.deepEqual(cpu.machine, { avgBusyCores: 1.267, peakBusyCores: 1.8, minIdle: 0.1, othersAvgCores: 0.8 });
    });

    it("sees a process busy in bursts shorter than a second, which the one-second peak averages away", () => {
        // Sampled every 0.25 s: the app busy 0.25 s of every second (a wave of clients served in a row), idle the rest.
        const s = Array.from({ length: 13 }, (_, k) => snap(k * 0.25, 0, 0, { app: { "10:1": 0.25 * Math.floor((k + 3) / 4) } }));
        const app = summarizeCpu(s, 2, { app: { processCores: 1 } })!.roles.app!;
        assert.equal(app.peakProcessCores, 0.25, "a quarter of every second");
        assert.equal(app.burstProcessCores, 1, "all of a quarter second");
    });

    it("keeps the CPU of a worker that exited, and counts a new process from its start", () => {
        const s = [
            snap(0, 0, 100, { app: { "10:1": 1, "11:1": 3 } }),
            snap(1, 100, 100, { app: { "10:1": 1.5, "11:1": 3.5 } }),
            // Worker 11 exited; worker 12 started since the last sample and used 0.3 s.
            snap(2, 200, 100, { app: { "10:1": 2, "12:9": 0.3 } }),
            // A pid reused by another process is another process.
            snap(3, 300, 100, { app: { "10:1": 2.5, "12:9": 0.8, "11:50": 0.1 } }),
        ];
        const app = summarizeCpu(s, 2, {})!.roles.app!;
        assert.equal(app.avgCores, 0.967); // (1 + 0.8 + 1.1) / 3 s
        assert.equal(app.peakProcessCores, 0.5); // worker 10 and 12, each 0.5 s in a second
        assert.deepEqual([app.usableCores, app.processCores], [2, null]);
    });

    it("tells one busy process from a busy role: two workers, one of them pegged", () => {
        const s = [0, 1, 2].map((t) => snap(t, 200 * t, 0, { app: { "10:1": 0.97 * t, "11:1": 0.05 * t } }));
        const app = summarizeCpu(s, 2, { app: { cpus: "0-1", processCores: 1 } })!.roles.app!;
        assert.deepEqual([app.peakCores, app.peakProcessCores, app.processCores], [1.02, 0.97, 1]);
        const pinned = summarizeCpu(s, 2, { app: { cpus: "1", processCores: 4 } })!.roles.app!;
        assert.deepEqual([pinned.usableCores, pinned.processCores], [1, 1], "a process can't use more than the role may");
    });

    it("keeps the snapshots spanning a run: the last before its start through the first after its end", () => {
        const s = [0, 1, 2, 3, 4, 5].map((t) => snap(t, 0, 0, {}));
        assert.deepEqual(snapshotsSpanning(s, 1.5, 3.5).map((x) => x.at), [1, 2, 3, 4]);
        assert.deepEqual(snapshotsSpanning(s, 2, 3).map((x) => x.at), [2, 3]);
        // Sampling began late or ended early: what there is.
        assert.deepEqual(snapshotsSpanning(s, -1, 9).map((x) => x.at), [0, 1, 2, 3, 4, 5]);
    });

    it("tells a role whose processes were never seen here (another node) from one that used no CPU", () => {
        const s = unseenUnreadable([
            snap(0, 0, 0, { app: {}, upstream: { "5:1": 1 }, driver: {} }),
            snap(1, 0, 0, { app: {}, upstream: { "5:1": 1 }, driver: { "9:2": 0.5 } }),
        ]);
        assert.deepEqual(s.map((x) => x.roles.app), [null, null]);
        assert.deepEqual(s.map((x) => x.roles.driver), [{}, { "9:2": 0.5 }], "seen once: read, 0 before it started");
        const cpu = summarizeCpu(s, 2, {})!;
        assert.equal(cpu.roles.app, null);
        assert.equal(cpu.roles.upstream!.avgCores, 0);
    });

    it("reports a role it could not read (a container) as null, and a short run as a whole window", () => {
        const s = [snap(0, 0, 0, { app: null, upstream: { "5:1": 0 } }), snap(0.5, 50, 50, { app: null, upstream: { "5:1": 0.25 } })];
        const cpu = summarizeCpu(s, 2, {})!;
        assert.equal(cpu.roles.app, null);
        assert.equal(cpu.roles.upstream!.peakCores, 0.5);
        assert.equal(summarizeCpu(s.slice(0, 1), 2, {}), null, "one sample measures nothing");
    });
});
