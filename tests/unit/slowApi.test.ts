import { strict as assert } from "assert";
import { between, heldOfSamples, parseReading, statsUrl } from "../../lib/load/slowApi";

const reading = (at: number, heldSeconds: number, counts: [number, number, number], peakSinceMark: number) =>
    ({ at, inFlight: 0, arrived: counts[0], served: counts[1], dropped: counts[2], heldSeconds, peakSinceMark });

describe("the slow API's own count", () => {
    it("gives what a run held at once (Little's law: held-seconds over the run's seconds) and what it answered", () => {
        // 10 s in which the API held 1500 request-seconds: 150 at once on average; 200 at its peak.
        const { held, count } = between(reading(100, 40, [5, 5, 0], 3), reading(110, 1540, [2005, 1805, 200], 200));
        assert.deepEqual(held, { peak: 200, avg: 150 });
        assert.deepEqual(count, { arrived: 2000, served: 1800, dropped: 200 });
    });

    it("averages PostgreSQL's sampled active queries, and has nothing to say without samples", () => {
        assert.deepEqual(heldOfSamples([1, 0, 1, 1]), { peak: 1, avg: 0.75 });
        assert.equal(heldOfSamples([]), null);
    });

    it("asks at /_stats beside the API's root, for one reader, and refuses an answer that is not a count", () => {
        assert.equal(statsUrl("http://127.0.0.1:4000/", "load 1"), "http://127.0.0.1:4000/_stats?mark=load%201");
        assert.throws(() => parseReading({ at: 1, inFlight: 0 }), /no number "arrived"/);
        assert.deepEqual(parseReading(reading(1, 2, [3, 4, 5], 6)), reading(1, 2, [3, 4, 5], 6));
    });
});
