// Which TCP ports something listens on, from /proc/net/tcp{,6}. Pure parsing.

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
