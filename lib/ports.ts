// Which TCP ports something listens on, from /proc/net/tcp{,6}.
import * as fs from "fs";
import * as net from "net";

/** Ports in LISTEN state (st 0A) in the text of /proc/net/tcp or /proc/net/tcp6. */
export function listeningPorts(procNetTcp: string): Set<number> {
    const ports = new Set<number>();
    for (const line of procNetTcp.split("\n").slice(1)) {
        const cols = line.trim().split(/\s+/);
        if (cols.length < 4 || cols[3] !== "0A") continue;
        ports.add(parseInt(cols[1].split(":").pop()!, 16));
    }
    return ports;
}

/** Ports something listens on now, IPv4 and IPv6. */
export function listeningNow(): Set<number> {
    const ports = new Set<number>();
    for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
        try {
            listeningPorts(fs.readFileSync(file, "utf8")).forEach((p) => ports.add(p));
        } catch { /* no IPv6 */ }
    }
    return ports;
}

/** True when nothing listens on host:port now (a listen attempt succeeds). */
export function portFree(host: string, port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const server = net.createServer();
        server.once("error", () => resolve(false));
        server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
    });
}
