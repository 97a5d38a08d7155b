// Sampling over a load: the probes read every SAMPLE_MS from its start until it stops.
import { CpuRole, CpuSnapshot } from "./load/cpu";
import { countActiveQueries, countThreads, ProcessProbe, readCpuSnapshot } from "./probes";

/** How often a load's threads and CPU times are read. */
export const SAMPLE_MS = 250;

/** A load's samples so far: each role's CPU and the machine's, the most threads `threads` had at once, PostgreSQL's active queries. */
export interface Sampling {
    snapshots: CpuSnapshot[];
    threadsPeak(): number | null;
    /** PostgreSQL's active queries at each sample; empty without a readable postgres role. */
    activeQueries: number[];
    stop(): void;
}

/**
 * Reads the roles' CPU (the driver: the process tree under `driverPid`), the threads of `threads` and the
 * postgres role's active queries, now and every SAMPLE_MS until stop(); with no role and no driver, nothing.
 */
export function startSampling(roles: Partial<Record<CpuRole, ProcessProbe>>, threads: ProcessProbe, driverPid?: number): Sampling {
    const snapshots: CpuSnapshot[] = [];
    const activeQueries: number[] = [];
    let threadsPeak: number | null = null;
    const sample = () => {
        snapshots.push(readCpuSnapshot(roles, driverPid));
        const now = countThreads(threads);
        if (now !== null) threadsPeak = Math.max(threadsPeak ?? 0, now);
        const active = roles.postgres && countActiveQueries(roles.postgres);
        if (typeof active === "number") activeQueries.push(active);
    };
    const timer = Object.keys(roles).length > 0 || driverPid !== undefined ? (sample(), setInterval(sample, SAMPLE_MS)) : undefined;
    return { snapshots, threadsPeak: () => threadsPeak, activeQueries, stop: () => clearInterval(timer) };
}

