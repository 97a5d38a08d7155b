// The tutorial's own figures (data/tutorial.json), as every report shows them beside a scenario's.
import tutorial from "../data/tutorial.json";

const SCENARIOS = tutorial.scenarios as Record<string, { requests: number; concurrency: number; requestsPerSecond: number | null }>;

/**
 * The tutorial's req/s for a scenario: null where it ran the scenario but published no figure,
 * undefined where it never ran it (a scenario beyond the tutorial).
 */
export function tutorialRps(scenario: string): number | null | undefined {
    return scenario in SCENARIOS ? SCENARIOS[scenario].requestsPerSecond : undefined;
}

/** The tutorial column's text: its figure, "not published", or "beyond the tutorial". */
export function tutorialText(rps: number | null | undefined, format: (v: number) => string): string {
    return rps === undefined ? "beyond the tutorial" : rps === null ? "not published" : format(rps);
}

/** Whether a load is the one the tutorial ran this scenario with: its figure is drawn beside ours only there. */
export function atTutorialLoad(scenario: string, requests: number, concurrency: number): boolean {
    const t = SCENARIOS[scenario];
    return t !== undefined && t.requests === requests && t.concurrency === concurrency;
}
