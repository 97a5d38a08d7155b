// Command-line flags for the scripts: one walk over argv, shared.

/** Hands each flag to `on` with a reader of its value; `on` returns false for a flag it doesn't know. */
export function readFlags(argv: string[], script: string, on: (flag: string, value: () => string) => boolean): void {
    for (let i = 0; i < argv.length; i++) {
        const flag = argv[i];
        const value = () => {
            const v = argv[++i];
            if (v === undefined) throw new Error(`${flag} needs a value`);
            return v;
        };
        if (!on(flag, value)) throw new Error(`unknown option ${flag} (see the top of ${script})`);
    }
}

/** "a, b,c" -> ["a", "b", "c"]. */
export function list(value: string): string[] {
    return value.split(",").map((s) => s.trim()).filter(Boolean);
}

/** Concurrency levels and waves of a sweep: positive whole numbers. */
export function checkLevels(levels: number[], waves: number): void {
    if (levels.some((l) => !Number.isInteger(l) || l < 1)) throw new Error("--levels takes positive whole numbers");
    if (!Number.isInteger(waves) || waves < 1) throw new Error("--waves takes a positive whole number");
}
