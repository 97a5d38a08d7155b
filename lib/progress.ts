// The status line of a piece of long work (the matrix, a sweep, a build): what
// runs, how many of how many, and an estimate of the time left. Pure; drawn by
// scripts/progress.ts. scripts/progress.sh says the same for the shell builds.
import { MatrixResults } from "./report";

export interface Work {
    /** What the work is: "matrix". */
    what: string;
    /** Steps in all. */
    total: number;
    /** Seconds each finished step took, in order. */
    finished: number[];
    /** The whole work's seconds in an earlier run, and which run: the estimate before a step has finished. */
    earlier?: { seconds: number; from: string };
}

/** "45 s", "2 min 5 s", "1 h 3 min": an elapsed time, to the second below an hour. */
export function duration(seconds: number): string {
    const s = Math.max(0, Math.round(seconds));
    if (s < 60) return `${s} s`;
    if (s < 3600) return s % 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s / 60} min`;
    const minutes = Math.floor(s / 60);
    return minutes % 60 ? `${Math.floor(minutes / 60)} h ${minutes % 60} min` : `${minutes / 60} h`;
}

/** "~14 min", "<1 min", "~1 h 5 min": an estimate, to the minute (seconds would claim a precision it lacks). */
export function roughly(seconds: number): string {
    const minutes = Math.round(seconds / 60);
    return minutes < 1 ? "<1 min" : `~${duration(minutes * 60)}`;
}

/**
 * Seconds left, with `stepSeconds` into the running step: the mean of the finished steps for the rest
 * of it and for each step after it; else what an earlier run took, less the time spent so far.
 * Undefined before any step finished without an earlier run, or once every step has.
 */
export function secondsLeft(work: Work, stepSeconds: number): number | undefined {
    const done = work.finished.length;
    if (done >= work.total) return undefined;
    if (done === 0) {
        return work.earlier && Math.max(0, work.earlier.seconds - stepSeconds);
    }
    const mean = work.finished.reduce((a, b) => a + b, 0) / done;
    // A step running past the mean has, as far as anyone knows, nearly finished.
    return Math.max(0, mean - stepSeconds) + mean * (work.total - done - 1);
}

function bracket(work: Work, position: number, left: number | undefined): string {
    const estimate = left === undefined ? ""
        : `, ${roughly(left)} left${work.finished.length === 0 && work.earlier ? `, from ${work.earlier.from}` : ""}`;
    return `[${work.what} ${position}/${work.total}${estimate}]`;
}

/** The running step's line: "[matrix 3/12, ~14 min left] gunicorn-gevent: up + load (2 min 5 s)"; no time at its start. */
export function runningLine(work: Work, step: string, stepSeconds: number): string {
    const position = Math.min(work.finished.length + 1, work.total);
    const elapsed = stepSeconds >= 1 ? ` (${duration(stepSeconds)})` : "";
    return `${bracket(work, position, secondsLeft(work, stepSeconds))} ${step}${elapsed}`;
}

/** The line of the step that just finished (its seconds already in `work.finished`): "[matrix 3/12, ~12 min left] granian: 312 req/s". */
export function finishedLine(work: Work, text: string): string {
    const done = work.finished.length;
    return `${bracket(work, done, done < work.total ? secondsLeft(work, 0) : undefined)} ${text}`;
}

/** The line cut to a terminal's width (a wrapped line could not be redrawn in place). */
export function fit(line: string, columns: number): string {
    return line.length < columns ? line : `${line.slice(0, Math.max(0, columns - 2))}…`;
}

/** A matrix's work, as its results record it: its scenarios, its sweep's runs ("<scenario> <level> <split>"), its options. */
export interface MatrixPlan {
    scenarios: string[];
    sweep: string[];
    loadOverrides: Record<string, string>;
}

/** The seconds of the newest earlier run (newest first) that did the same work; undefined without one. */
export function sameWorkSeconds(earlier: MatrixResults[], plan: MatrixPlan): number | undefined {
    const key = (p: MatrixPlan) => JSON.stringify([p.scenarios, p.sweep, Object.entries(p.loadOverrides).sort()]);
    const wanted = key(plan);
    return earlier.find((r) => key({
        scenarios: r.rows.map((row) => row.scenario),
        sweep: r.sweep.map((s) => `${s.scenario} ${s.concurrency} ${s.split}`),
        loadOverrides: r.loadOverrides,
    }) === wanted)?.wallSeconds;
}
