// Reading what a load is aimed at, over HTTP, from the providers: a check that
// the endpoint answers as it should, and the slow API's own count.
import * as http from "http";
import { parseReading, SlowApiReading, statsUrl } from "../lib/load/slowApi";

/** GET over a fresh connection, as the drivers make them (uWSGI's plain HTTP socket keeps none alive). */
function get(url: string, timeoutSeconds: number): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
        const req = http.get(url, { timeout: timeoutSeconds * 1000, agent: false }, (res) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (chunk: string) => (body += chunk));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.once("error", reject);
        req.once("timeout", () => req.destroy(new Error(`no answer within ${timeoutSeconds} s`)));
    });
}

/** Throws, showing the answer, unless `url` answers 200 with `expectBody` in its body within `timeoutSeconds`. */
export async function verify(url: string, expectBody: string, timeoutSeconds: number): Promise<void> {
    let answer: { status: number; body: string };
    try {
        answer = await get(url, timeoutSeconds);
    } catch (e) {
        throw new Error(`verify ${url}: ${(e as Error).message}`);
    }
    if (answer.status !== 200 || !answer.body.includes(expectBody)) {
        throw new Error(`verify ${url}: expected status 200 and a body containing "${expectBody}", ` +
            `got status ${answer.status} and body:\n${answer.body.slice(0, 500)}`);
    }
}

/** The slow API's count now, for reader `mark`; null without a slow API (""). Throws when it does not answer. */
export async function readSlowApi(url: string | undefined, mark: string): Promise<SlowApiReading | null> {
    if (!url) return null;
    const stats = statsUrl(url, mark);
    try {
        const answer = await get(stats, 10);
        if (answer.status !== 200) throw new Error(`status ${answer.status}: ${answer.body.slice(0, 200)}`);
        return parseReading(JSON.parse(answer.body));
    } catch (e) {
        throw new Error(`the slow API's count at ${stats}: ${(e as Error).message}`);
    }
}
