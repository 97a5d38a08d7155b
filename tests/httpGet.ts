// One GET over a fresh connection (no keep-alive: uWSGI's plain HTTP socket closes each one).
import * as http from "http";

export function httpGet(url: string): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
    return new Promise((resolve, reject) => {
        http.get(url, { agent: false }, (res) => {
            let body = "";
            res.on("data", (d) => (body += d));
            res.on("end", () => resolve({ status: res.statusCode!, body, headers: res.headers }));
        }).on("error", reject);
    });
}
