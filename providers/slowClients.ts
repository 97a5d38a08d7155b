// Slow clients held open from this process during a load: each sends the head
// of lib/load/slowClients.ts a line a second and never ends it; one the server
// drops is opened again. Bounded: at most `count` sockets, to the load's own
// target only, closed by stop() or by the time limit, whichever comes first
// (and with the process, if the up is killed).
import * as net from "net";
import { SLOW_CLIENT_INTERVAL_SECONDS, slowHeaderLine, slowRequestHead, SlowClientsHeld } from "../lib/load/slowClients";

export interface SlowClients {
    /**
     * Resolves once every client has connected and sent its head, or after readySeconds with those that had (a
     * full listen backlog leaves the rest waiting in SYN retries); rejects when the target refuses one.
     */
    ready: Promise<void>;
    /** Closes every client; what they did. */
    stop(): SlowClientsHeld;
}

export function holdSlowClients(url: string, count: number, limitSeconds: number, readySeconds = 5): SlowClients {
    const target = new URL(url);
    const head = slowRequestHead(url);
    const sockets = new Set<net.Socket>();
    let opened = 0;
    let stopped = false;
    let connected = 0;
    let connectedAtReady: number | null = null;
    let readyResolve!: () => void;
    let readyReject!: (e: Error) => void;
    const ready = new Promise<void>((resolve, reject) => { readyResolve = resolve; readyReject = reject; });
    ready.catch(() => undefined);
    const becomeReady = () => {
        if (connectedAtReady === null) connectedAtReady = connected;
        readyResolve();
    };
    const waited = setTimeout(becomeReady, readySeconds * 1000);
    waited.unref();

    const open = (first: boolean): void => {
        if (stopped) return;
        opened++;
        let line = 0;
        let didConnect = false;
        const socket = net.connect({ host: target.hostname, port: Number(target.port || 80) });
        sockets.add(socket);
        const trickle = setInterval(() => socket.write(slowHeaderLine(++line)), SLOW_CLIENT_INTERVAL_SECONDS * 1000);
        socket.setNoDelay(true);
        socket.once("connect", () => {
            didConnect = true;
            socket.write(head);
            if (first && ++connected === count) becomeReady();
        });
        // Whatever the server answers (a 400 for a head too long, a timeout's close) is read and dropped.
        socket.on("data", () => undefined);
        socket.on("error", (e: Error) => {
            if (first && !didConnect) readyReject(new Error(`a slow client could not connect to ${target.host}: ${e.message}`));
        });
        socket.once("close", () => {
            clearInterval(trickle);
            sockets.delete(socket);
            // The server dropped it: come back, as a slowloris does, after a pause that keeps a refusing server from a busy loop.
            if (!stopped) setTimeout(() => open(false), 100).unref();
        });
    };

    const close = (): SlowClientsHeld => {
        stopped = true;
        clearTimeout(waited);
        for (const s of sockets) s.destroy();
        return { clients: count, connected: connectedAtReady ?? connected, opened, reopened: opened - count };
    };
    const limit = setTimeout(close, limitSeconds * 1000);
    limit.unref();
    const stop = (): SlowClientsHeld => {
        clearTimeout(limit);
        return close();
    };
    for (let i = 0; i < count; i++) open(true);
    return { ready, stop };
}
