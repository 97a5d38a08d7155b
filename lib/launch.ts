// How the lab starts a program: argv wrappers for its CPUs and its open-files limit.

/** Wraps argv so it runs on the CPUs of a taskset -c list (sched_setaffinity, inherited by its children); no list: anywhere. */
export function withCpuAffinity(argv: string[], cpus: string | undefined): string[] {
    return cpus === undefined ? argv : ["taskset", "-c", cpus, ...argv];
}

/** Wraps argv so it runs with the open-files limit raised to the hard limit (high concurrency needs fds). */
export function withRaisedFileLimit(argv: string[]): string[] {
    return ["sh", "-c", 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', argv[0], ...argv];
}
