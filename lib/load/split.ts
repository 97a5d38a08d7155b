// A load split over the N pods of a Kubernetes Indexed Job: each pod's share
// of the requests and clients, and the command every pod runs (one template
// for all: a pod finds its share by JOB_COMPLETION_INDEX): a warm-up, then its
// share of every measured run, then, with a capacity search, its share of each
// probe. lib/load/merge.ts reads back the one JSON line each pod prints, and
// each probe's line the pod leaves beside its barrier.
import { abCeilingRps, abRecordingArgv, abWarmupArgv, LoadRequest } from "./ab";
import { ohaRateArgv, ohaRecordingArgv, ohaWarmupArgv, withDatabase } from "./oha";
import { allClientsCeilingRps } from "./result";

export interface LoadShare {
    requests: number;
    concurrency: number;
}

/** Throws unless each of `parts` pods can get at least one request and one client. */
export function checkParallelism(requests: number, concurrency: number, parts: number): void {
    if (!Number.isInteger(parts) || parts < 1) throw new Error(`loadParallelism must be a whole number of pods, 1 or more (got ${parts})`);
    for (const [what, count] of [["clients (concurrency)", concurrency], ["requests", requests]] as const) {
        if (parts > count) {
            throw new Error(`loadParallelism ${parts} is more than the ${count} ${what}: each load pod needs at least one; ` +
                `lower loadParallelism to ${count} or less`);
        }
    }
}

/** `parts` shares of a load, as even as can be: the remainders go one each to the first shares. */
export function splitLoad(requests: number, concurrency: number, parts: number): LoadShare[] {
    checkParallelism(requests, concurrency, parts);
    const share = (total: number, i: number) => Math.floor(total / parts) + (i < total % parts ? 1 : 0);
    return Array.from({ length: parts }, (_, i) => ({ requests: share(requests, i), concurrency: share(concurrency, i) }));
}

/**
 * The best the pods can do together against an ideal server (each share's
 * ceiling with the pods' driver, side by side): the whole load over its slowest
 * share's least time; null without a delay.
 */
export function splitCeilingRps(driver: PodDriver, shares: LoadShare[], delaySeconds: number): number | null {
    if (delaySeconds <= 0) return null;
    const ceiling = POD_DRIVERS[driver].ceilingRps;
    const least = shares.map((s) => s.requests / ceiling(s.requests, s.concurrency, delaySeconds)!);
    return shares.reduce((n, s) => n + s.requests, 0) / Math.max(...least);
}

/** The `fgl` field of a pod's result line; a new format gets a new one. */
export const POD_RESULT_FORMAT = "load-pod/2";

/** The drivers a load pod runs: ab (the project's base image holds it) or oha (an image of its own: the base and oha). */
export const POD_DRIVERS = {
    ab: {
        /** The project's image it runs in (lib/kubernetesSettings.ts). */
        image: "base",
        /** Where it is in that image. */
        path: "/usr/bin/ab",
        /** The most cores one of its pods' driver processes can use: ab is one single-threaded process; none for one whose threads use what its pod may. */
        processCores: 1,
        versionArgs: ["-V"],
        /** Its per-request file (in each run's folder, run-<i>, of the pod's work folder) and the unit of the times the pod prints from it. */
        // ab -g: whole ms, the values of ab's own percentile table.
        recording: { file: "requests.tsv", unit: "ms" },
        argv: abRecordingArgv,
        warmupArgv: abWarmupArgv,
        ceilingRps: abCeilingRps,
    },
    oha: {
        image: "oha",
        path: "/usr/local/bin/oha",
        processCores: undefined,
        versionArgs: ["--version"],
        // oha --db-url: each answered request's duration, in seconds; printed in 0.1 ms, as oha's own figures are.
        recording: { file: "requests.db", unit: "0.1ms" },
        argv: ohaRecordingArgv,
        warmupArgv: ohaWarmupArgv,
        ceilingRps: allClientsCeilingRps,
    },
} as const satisfies Record<string, {
    image: "base" | "oha"; path: string; processCores: number | undefined; versionArgs: string[]; recording: { file: string; unit: string };
    argv: (path: string, load: LoadRequest, file: string) => string[];
    warmupArgv: (path: string, load: Omit<LoadRequest, "requests">, seconds: number) => string[];
    ceilingRps: (requests: number, concurrency: number, delaySeconds: number) => number | null;
}>;
export type PodDriver = keyof typeof POD_DRIVERS;

/** The pods' driver for a load driver's name: "auto" is ab, as on a machine without k6; null for one no pod runs (k6). */
export function podDriverOf(name: string): PodDriver | null {
    if (name === "auto") return "ab";
    return Object.prototype.hasOwnProperty.call(POD_DRIVERS, name) ? (name as PodDriver) : null;
}

export interface LoadPodSpec {
    driver: PodDriver;
    /** Target, query string included (?delay=). */
    url: string;
    /** Text the body must contain for the endpoint to count as correct. */
    expectBody: string;
    /** The whole load, split over `parts` pods (splitLoad). */
    requests: number;
    concurrency: number;
    parts: number;
    /** Per request, and for the pod's checks. */
    timeoutSeconds: number;
    /** Measured runs of the share, one after another. */
    repeats: number;
    /** Seconds of load at the share's clients before the measured runs, not measured; 0: none. */
    warmupSeconds: number;
    /** Keep each client's connection (ab -k); default one per request. */
    keepAlive?: boolean;
    /** Default: POD_DRIVERS' path. */
    driverPath?: string;
    /**
     * Seconds a pod waits, before each measured run, to be released with the others (releaseStep in
     * providers/kubeLoadRun.ts); absent: each run starts at once.
     */
    barrierSeconds?: number;
    /**
     * A capacity search's probes after the runs (oha, with barrierSeconds): each released with this pod's rate and
     * connections (probeShare), its result left in POD_BARRIER's probe file; at most `most` of them; absent: none.
     */
    probes?: { seconds: number; timeoutSeconds: number; most: number };
}

/**
 * Each pod's part of a probe at `rate` with `connections` over `parts` pods: the rate split evenly (oha takes a
 * fraction), at least the connections in all. Each pod offsets its start by its index / rate, so that the pods'
 * requests interleave rather than arrive in bursts of `parts`.
 */
export function probeShare(rate: number, connections: number, parts: number): { rate: number; connections: number } {
    return { rate: rate / parts, connections: Math.ceil(connections / parts) };
}

/**
 * How long a pod waits to be released for a run: for the others to finish their warm-up or their last
 * run (each at most its time limit), and two minutes more for a pod that started late.
 */
export function podBarrierSeconds(spec: Pick<LoadPodSpec, "warmupSeconds" | "timeoutSeconds">): number {
    return spec.warmupSeconds + spec.timeoutSeconds + 120;
}

/**
 * Where a pod says it is ready for a step (a run's number, a probe's p<k>), where it is released ("<step> <epoch
 * seconds> [its rate and connections]", or "<step> stop"), and where it leaves a probe's result (a result line
 * of one run, with its step as "token"): files its releaser reads and writes with kubectl exec.
 */
export const POD_BARRIER = { dir: "/tmp/fgl-barrier", ready: "ready", go: "go", probe: "probe" } as const;

/**
 * The command of every pod of the load's Indexed Job (python3 and the driver
 * are all it needs). The pod with JOB_COMPLETION_INDEX i checks the URL
 * (status 200 and expectBody in the body); with a warm-up, runs the driver on
 * share i's clients for warmupSeconds and checks again; runs the driver on
 * share i `repeats` times, recording every request's time (with barrierSeconds, each run
 * only once released: it writes the run's number into POD_BARRIER's ready file, waits for
 * "<run> <epoch seconds>" in its go file, and starts at that time); and prints ONE JSON
 * line on stdout (also when it fails: then with "error", and it exits 1).
 * Optional env: NODE_NAME (the downward API's spec.nodeName) is recorded as the
 * pod's node; FGL_LOAD_DIR is where each run's per-request file is written and
 * kept (default: a new temporary folder); FGL_BARRIER_DIR replaces POD_BARRIER's folder.
 */
export function loadPodArgv(spec: LoadPodSpec): string[] {
    const driver = POD_DRIVERS[spec.driver];
    const driverPath = spec.driverPath ?? driver.path;
    const { file, unit } = driver.recording;
    const shares = splitLoad(spec.requests, spec.concurrency, spec.parts);
    const load = (share: LoadShare) => ({ url: spec.url, timeoutSeconds: spec.timeoutSeconds, keepAlive: spec.keepAlive, ...share });
    const config = {
        format: POD_RESULT_FORMAT, driver: spec.driver, url: spec.url, expect: spec.expectBody, timeout: spec.timeoutSeconds,
        version: [driverPath, ...driver.versionArgs], record: file, unit, repeats: spec.repeats,
        warmup: spec.warmupSeconds > 0
            ? { seconds: spec.warmupSeconds, argvs: shares.map((share) => driver.warmupArgv(driverPath, load(share), spec.warmupSeconds)) }
            : null,
        argvs: shares.map((share) => driver.argv(driverPath, load(share), file)),
        barrier: spec.barrierSeconds ? { ...POD_BARRIER, seconds: spec.barrierSeconds } : null,
        probe: spec.probes ? { argv: probeArgv(spec, driverPath), result: POD_BARRIER.probe } : null,
    };
    return ["python3", "-c", POD_SCRIPT, JSON.stringify(config)];
}

/** A probe's oha: the rate and connections (-q, -c) are placeholders each pod replaces with those it is released with. */
function probeArgv(spec: LoadPodSpec, driverPath: string): string[] {
    if (spec.driver !== "oha" || !spec.barrierSeconds) throw new Error("a capacity search's probes run oha in pods released together (barrierSeconds)");
    const argv = ohaRateArgv(driverPath, { url: spec.url, rate: 1, seconds: spec.probes!.seconds, connections: 1, timeoutSeconds: spec.probes!.timeoutSeconds });
    return withDatabase(argv, POD_DRIVERS.oha.recording.file);
}

/**
 * The longest the pods' program may take: the warm-up and the check that
 * waits behind it, then each measured run, each of those at most timeoutSeconds,
 * and each probe of a search.
 */
export function loadPodSeconds(spec: Pick<LoadPodSpec, "repeats" | "warmupSeconds" | "timeoutSeconds" | "barrierSeconds" | "probes">): number {
    const warmup = spec.warmupSeconds > 0 ? spec.warmupSeconds + spec.timeoutSeconds : 0;
    // A probe waits for its release while the last one is merged: seconds, not a run's time.
    const probes = spec.probes ? spec.probes.most * (spec.probes.seconds + spec.probes.timeoutSeconds + 30) : 0;
    // Released runs: a pod waits for the others mostly while they run, counted already; once at most, for a pod that started late.
    return warmup + spec.repeats * spec.timeoutSeconds + probes + (spec.barrierSeconds ?? 0);
}

// The pod's program. Its line: fgl, index, driver, host (the pod's name), node,
// then either error, or version (the first line of ab -V, oha --version),
// warmup (null, or seconds and requests: ab's Complete requests, oha's answers
// and errors, null where unreadable) and runs, each: start and end (epoch
// seconds around the driver's run), report (the driver's stdout), unit and
// times: [[time, count], ...] by time, one count per timed request (ab: ttime
// of ab -g, every request; oha: the duration of each answered one).
const POD_SCRIPT = String.raw`
import collections, itertools, json, os, re, socket, subprocess, sys, tempfile, time, urllib.error, urllib.request

cfg = json.loads(sys.argv[1])
line = {"fgl": cfg["format"], "index": None, "driver": cfg["driver"],
        "host": socket.gethostname(), "node": os.environ.get("NODE_NAME") or None}


class Failure(Exception):
    pass


def emit(fields, code):
    line.update(fields)
    print(json.dumps(line, separators=(",", ":")), flush=True)
    sys.exit(code)


def check():
    url, expect = cfg["url"], cfg["expect"]
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # as the driver: no *_proxy variables
    try:
        with direct.open(url, timeout=cfg["timeout"]) as answer:
            status, body = answer.status, answer.read()
    except urllib.error.HTTPError as e:
        status, body = e.code, e.read()
    except (urllib.error.URLError, OSError) as e:
        raise Failure("check %s: %s" % (url, getattr(e, "reason", e)))
    text = body.decode("utf-8", "replace")
    if status != 200 or expect not in text:
        raise Failure('check %s: expected status 200 and a body containing "%s", got status %d and body: %s'
                      % (url, expect, status, text[:300]))


def version():
    said = subprocess.run(cfg["version"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    text = said.stdout.decode("utf-8", "replace").strip()
    if said.returncode != 0:
        raise Failure("%s exited with %d: %s" % (" ".join(cfg["version"]), said.returncode, text[-500:]))
    return text.splitlines()[0] if text else ""


def drive(step, argv, work):
    done = subprocess.run(argv, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = done.stdout.decode("utf-8", "replace")
    if done.returncode != 0:
        tail = (done.stderr.decode("utf-8", "replace") + out).strip()[-1500:]
        raise Failure("%s: %s exited with %d: %s" % (step, cfg["driver"], done.returncode, tail))
    return out


def warmed(out):
    if cfg["driver"] == "oha":
        try:
            data = json.loads(out[out.index("{"):out.rindex("}") + 1])
            return sum(data["statusCodeDistribution"].values()) + sum(data["errorDistribution"].values())
        except (ValueError, KeyError, TypeError):
            return None
    complete = re.search(r"^Complete requests:\s+(\d+)", out, re.M)
    return int(complete.group(1)) if complete else None


def warm_up(index, work):
    out = drive("warm-up", cfg["warmup"]["argvs"][index], work)
    check()  # waits behind whatever the warm-up left queued in the server
    return {"seconds": cfg["warmup"]["seconds"], "requests": warmed(out)}


def recorded(work):
    times = collections.Counter()
    path = os.path.join(work, cfg["record"])
    if cfg["driver"] == "oha":
        import sqlite3  # python3's own; only oha's pods read a database
        with sqlite3.connect(path) as db:
            for (duration,) in db.execute("SELECT duration FROM oha"):
                times[round(duration * 1e4)] += 1
        return times
    with open(path) as rows:
        next(rows)  # starttime seconds ctime dtime ttime wait
        for row in rows:
            times[int(row.split("\t")[4])] += 1
    return times


def barrier_dir():
    folder = os.environ.get("FGL_BARRIER_DIR") or cfg["barrier"]["dir"]
    os.makedirs(folder, exist_ok=True)
    return folder


def write(folder, name, text):
    with open(os.path.join(folder, name + ".tmp"), "w") as f:
        f.write(text)
    os.replace(os.path.join(folder, name + ".tmp"), os.path.join(folder, name))


def released(token, what):
    """Says it is ready for step token, waits for "<token> <at> [values...]" (or "<token> stop"): at and the values, or None to stop."""
    barrier, folder = cfg["barrier"], barrier_dir()
    write(folder, barrier["ready"], token)
    deadline = time.time() + barrier["seconds"]
    while True:
        try:
            with open(os.path.join(folder, barrier["go"])) as go:
                given = go.read().split()
            if len(given) >= 2 and given[0] == token:
                break
        except OSError:
            pass  # not yet written
        if time.time() > deadline:
            raise Failure("%s: not released within %d s (its load resource releases the pods together once every one is ready)"
                          % (what, barrier["seconds"]))
        time.sleep(0.01)
    if given[1] == "stop":
        return None
    return float(given[1]), given[2:]


def wait_until(at):
    time.sleep(max(0.0, at - time.time()))


def recorded_run(what, argv, work):
    start = time.time()
    out = drive(what, argv, work)
    end = time.time()
    times = recorded(work)
    return {"start": start, "end": end, "report": out, "unit": cfg["unit"], "times": sorted([t, n] for t, n in times.items())}


def fresh(work):
    os.makedirs(work, exist_ok=True)  # a folder per run: each keeps its own per-request file
    if os.path.exists(os.path.join(work, cfg["record"])):
        os.remove(os.path.join(work, cfg["record"]))  # oha adds to its database: a folder used before keeps the last one's
    return work


def measure(index, run, work):
    what = "run %d of %d" % (run + 1, cfg["repeats"])
    fresh(work)
    if cfg["barrier"]:
        wait_until(released(str(run), what)[0])
    return recorded_run(what, cfg["argvs"][index], work)


def probe_all(index, work, driver_version):
    """The capacity search's probes: each released with this pod's rate and connections, its result left in the barrier's folder."""
    for k in itertools.count():
        token, what = "p%d" % k, "probe %d" % (k + 1)
        given = released(token, what)
        if given is None:
            return
        at, (rate, connections) = given
        argv = list(cfg["probe"]["argv"])
        argv[argv.index("-q") + 1], argv[argv.index("-c") + 1] = rate, connections
        # Offset by index / the whole rate: the pods' requests interleave.
        wait_until(at + index / (float(rate) * len(cfg["argvs"])))
        result = recorded_run(what, argv, fresh(os.path.join(work, "probe-%d" % k)))
        check()  # waits behind what the probe left queued in the server, as the next probe would
        done = dict(line, index=index, token=token, version=driver_version, warmup=None, runs=[result])
        write(barrier_dir(), cfg["probe"]["result"], json.dumps(done, separators=(",", ":")))


def run(index):
    check()
    driver_version = version()
    work = os.environ.get("FGL_LOAD_DIR") or tempfile.mkdtemp(prefix="fgl-load-")
    os.makedirs(work, exist_ok=True)
    warmup = warm_up(index, work) if cfg["warmup"] else None
    runs = [measure(index, i, os.path.join(work, "run-%d" % i)) for i in range(cfg["repeats"])]
    if cfg["probe"]:
        probe_all(index, work, driver_version)
    return {"version": driver_version, "warmup": warmup, "runs": runs}


try:
    given = os.environ.get("JOB_COMPLETION_INDEX", "")
    if not given.isdigit() or int(given) >= len(cfg["argvs"]):
        raise Failure("JOB_COMPLETION_INDEX is %r, expected 0 to %d (an Indexed Job sets it)"
                      % (given, len(cfg["argvs"]) - 1))
    line["index"] = int(given)
    result = run(line["index"])
except Failure as e:
    emit({"error": str(e)}, 1)
except Exception as e:
    emit({"error": "%s: %s" % (type(e).__name__, e)}, 1)
emit(result, 0)
`;
