// The tutorial's load as a k6 test: ITERATIONS requests shared by VUS clients.
// Parameters come through __ENV (see lib/load/k6.ts); the end-of-test summary
// is written as JSON to __ENV.SUMMARY for the LoadTest component to parse.
import http from "k6/http";

export const options = {
    scenarios: {
        load: {
            executor: "shared-iterations",
            vus: Number(__ENV.VUS),
            iterations: Number(__ENV.ITERATIONS),
            maxDuration: `${__ENV.MAX_DURATION_SECONDS}s`,
        },
    },
    summaryTrendStats: ["avg", "min", "med", "max", "p(90)", "p(95)", "p(99)", "p(99.9)"],
    // A new connection per request, as ab makes, unless the load keeps them (k6's own default).
    noConnectionReuse: __ENV.KEEP_ALIVE !== "true",
};

export default function () {
    http.get(__ENV.URL, { timeout: `${__ENV.MAX_DURATION_SECONDS}s` });
}

export function handleSummary(data) {
    return { [__ENV.SUMMARY]: JSON.stringify(data) };
}
