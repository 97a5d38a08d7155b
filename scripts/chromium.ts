// A small driver for headless Chromium over the DevTools protocol, without npm dependencies
// (puppeteer needs a newer Node): the tests open a generated report.html with it and check it,
// and the report's screenshot is taken with it.
//
// The protocol runs over --remote-debugging-pipe: the browser reads commands on its fd 3 and
// writes messages on its fd 4, each a JSON text ended by a NUL byte. Every wait is bounded:
// commands time out, and the browser exiting rejects whatever still waits on it.
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Readable, Writable } from "stream";
import { pathToFileURL } from "url";

/** The browser binary: Debian's real one (its /usr/bin/chromium is a wrapper script), else one on PATH. */
export function chromiumPath(): string | null {
    const onPath = (process.env.PATH ?? "").split(path.delimiter).filter(Boolean);
    const candidates = [
        "/usr/lib/chromium/chromium",
        ...["chromium", "chromium-browser", "google-chrome"].flatMap((name) => onPath.map((dir) => path.join(dir, name))),
    ];
    return candidates.find(isExecutable) ?? null;
}

function isExecutable(file: string): boolean {
    try {
        fs.accessSync(file, fs.constants.X_OK);
        return fs.statSync(file).isFile();
    } catch {
        return false;
    }
}

export interface Page {
    /** Console errors (console.error, uncaught exceptions, failed loads: Runtime.exceptionThrown, Runtime.consoleAPICalled type error, Log.entryAdded level error) seen so far, as text. */
    errors: string[];
    /** The URL of every request the page made, in order (Network.requestWillBeSent): a page that needs no network makes only file: and data: ones. */
    requests: string[];
    /** The expression's value (awaited if a promise, returned as JSON); throws with the exception's text if it throws. */
    evaluate<T>(expression: string): Promise<T>;
    /** A PNG of the viewport, or with fullPage of the whole document. */
    screenshot(pngFile: string, options?: { fullPage?: boolean }): Promise<void>;
    /** Closes the browser and waits for its process to exit (killing it after 5 s), then removes its profile. */
    close(): Promise<void>;
}

// Protocol messages: responses carry the command's id, events a method; a session's carry its sessionId.
interface Message {
    id?: number;
    method?: string;
    params?: any;
    result?: any;
    error?: { message: string; data?: string };
    sessionId?: string;
}

const KILL_AFTER_MS = 5000;
const STDERR_LINES = 20;

/** One browser process and the pipe to it. */
class Browser {
    private nextId = 1;
    private readonly pending = new Map<number, { method: string; resolve: (result: any) => void; reject: (error: Error) => void; timer: NodeJS.Timeout }>();
    private readonly listeners = new Set<(message: Message) => void>();
    private readonly exitWaiters = new Set<(error: Error) => void>();
    private stderrTail: string[] = [];
    /** Set once the process has exited (or failed to start): why nothing more can be sent. */
    private exitError: Error | null = null;
    readonly exited: Promise<void>;

    constructor(private readonly child: ChildProcess, private readonly commandTimeoutMs: number) {
        const [toBrowser, fromBrowser] = [child.stdio[3] as Writable, child.stdio[4] as Readable];
        // A write after the browser has gone fails with EPIPE; its exit handler reports that instead.
        toBrowser.on("error", () => undefined);
        this.readMessages(fromBrowser);
        child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
            // Without a D-Bus (as in a container) it complains of it all along: not a reason it would fail.
            const lines = chunk.split("\n").filter((line) => line.trim() && !line.includes(":ERROR:dbus/"));
            this.stderrTail = [...this.stderrTail, ...lines].slice(-STDERR_LINES);
        });
        this.exited = new Promise((resolve) => {
            child.on("error", (error) => this.fail(new Error(`chromium did not start: ${error.message}`), resolve));
            child.on("exit", (code, signal) => {
                const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
                const report = () => {
                    const stderr = this.stderrTail.length ? `; the last lines of its stderr:\n${this.stderrTail.join("\n")}` : "";
                    this.fail(new Error(`chromium ${how}${stderr}`), resolve);
                };
                // Its last lines of stderr may still be on their way: waited for, but briefly, as a helper
                // process it started could hold stderr open.
                if (child.stderr!.closed) return report();
                const late = setTimeout(report, 1000);
                child.stderr!.once("close", () => {
                    clearTimeout(late);
                    report();
                });
            });
        });
    }

    private readMessages(fromBrowser: Readable): void {
        let buffered = Buffer.alloc(0);
        fromBrowser.on("data", (chunk: Buffer) => {
            buffered = Buffer.concat([buffered, chunk]);
            let end: number;
            while ((end = buffered.indexOf(0)) >= 0) {
                const message = JSON.parse(buffered.subarray(0, end).toString("utf8")) as Message;
                buffered = buffered.subarray(end + 1);
                this.dispatch(message);
            }
        });
        fromBrowser.on("error", () => undefined);
    }

    private dispatch(message: Message): void {
        const waiting = message.id === undefined ? undefined : this.pending.get(message.id);
        if (waiting) {
            this.pending.delete(message.id!);
            clearTimeout(waiting.timer);
            if (message.error) waiting.reject(new Error(`${message.error.message}${message.error.data ? `: ${message.error.data}` : ""}`));
            else waiting.resolve(message.result);
        } else if (message.method) {
            for (const listener of this.listeners) listener(message);
        }
    }

    private fail(error: Error, exited: () => void): void {
        this.exitError ??= error;
        for (const waiting of this.pending.values()) {
            clearTimeout(waiting.timer);
            waiting.reject(new Error(`${waiting.method}: ${this.exitError.message}`));
        }
        this.pending.clear();
        for (const reject of this.exitWaiters) reject(this.exitError);
        this.exitWaiters.clear();
        exited();
    }

    send(method: string, params: object = {}, sessionId?: string): Promise<any> {
        if (this.exitError) return Promise.reject(this.exitError);
        const id = this.nextId++;
        return new Promise((resolve, reject) => {
            const timer = setTimeout(() => {
                this.pending.delete(id);
                reject(new Error(`chromium did not answer ${method} within ${this.commandTimeoutMs} ms`));
            }, this.commandTimeoutMs);
            this.pending.set(id, { method, resolve, reject, timer });
            (this.child.stdio[3] as Writable).write(JSON.stringify({ id, method, params, sessionId }) + "\0");
        });
    }

    on(listener: (message: Message) => void): void {
        this.listeners.add(listener);
    }

    /** The first event `method` of the session, or a rejection (with timeoutMessage) after timeoutMs or when the browser exits. */
    waitFor(method: string, sessionId: string, timeoutMs: number, timeoutMessage: string): Promise<Message> {
        if (this.exitError) return Promise.reject(this.exitError);
        return new Promise((resolve, reject) => {
            const done = () => {
                clearTimeout(timer);
                this.listeners.delete(listener);
                this.exitWaiters.delete(onExit);
            };
            const listener = (message: Message) => {
                if (message.method === method && message.sessionId === sessionId) {
                    done();
                    resolve(message);
                }
            };
            const onExit = (error: Error) => {
                done();
                reject(error);
            };
            const timer = setTimeout(() => {
                done();
                reject(new Error(timeoutMessage));
            }, timeoutMs);
            this.listeners.add(listener);
            this.exitWaiters.add(onExit);
        });
    }

    /** Asks the browser to close, kills it if it hasn't exited after 5 s, and waits for the exit. */
    async close(): Promise<void> {
        const kill = setTimeout(() => this.child.kill("SIGKILL"), KILL_AFTER_MS);
        this.send("Browser.close").catch(() => undefined); // already gone, or the kill ends it
        await this.exited;
        clearTimeout(kill);
    }
}

/** The text of a Runtime.exceptionThrown's details, or of an exception evaluate caught. */
function exceptionText(details: any): string {
    return details.exception?.description ?? details.text ?? "exception";
}

/** The text of a console call's arguments, as the console would print them. */
function consoleText(args: any[]): string {
    return args.map((arg) => (arg.value !== undefined ? String(arg.value) : arg.description ?? arg.type)).join(" ");
}

/** Opens `file` in a fresh headless Chromium once it has loaded; throws if that takes over timeoutMs (30 s), also each command's limit. */
export async function openPage(file: string, options: { width?: number; height?: number; timeoutMs?: number } = {}): Promise<Page> {
    const { width = 1280, height = 800, timeoutMs = 30000 } = options;
    const executable = chromiumPath();
    if (!executable) throw new Error("no chromium found: apt-get install chromium (./lab test local installs it)");
    const deadline = Date.now() + timeoutMs;
    const url = pathToFileURL(path.resolve(file)).href;
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), "chromium-profile-"));
    const child = spawn(
        executable,
        [
            "--headless",
            "--remote-debugging-pipe",
            "--no-sandbox", // the sandbox refuses to run as root
            "--disable-gpu",
            "--hide-scrollbars", // not in the screenshots
            "--no-first-run",
            "--no-default-browser-check",
            `--user-data-dir=${profile}`,
            `--window-size=${width},${height}`,
            // Nothing of its own on the network: no updates, sync, metrics, default apps or pings.
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--metrics-recording-only",
            "--disable-default-apps",
            "--no-pings",
            "--disable-domain-reliability",
            "--disable-breakpad",
        ],
        { stdio: ["ignore", "ignore", "pipe", "pipe", "pipe"] },
    );
    const browser = new Browser(child, timeoutMs);
    const close = async () => {
        await browser.close();
        fs.rmSync(profile, { recursive: true, force: true });
    };

    const errors: string[] = [];
    const requests: string[] = [];
    try {
        const { targetId } = await browser.send("Target.createTarget", { url: "about:blank" });
        const { sessionId } = await browser.send("Target.attachToTarget", { targetId, flatten: true });
        const send = (method: string, params?: object) => browser.send(method, params, sessionId);
        browser.on(({ method, params, sessionId: from }) => {
            if (from !== sessionId) return;
            if (method === "Network.requestWillBeSent") requests.push(params.request.url);
            else if (method === "Runtime.exceptionThrown") errors.push(exceptionText(params.exceptionDetails));
            else if (method === "Runtime.consoleAPICalled" && params.type === "error") errors.push(consoleText(params.args));
            else if (method === "Log.entryAdded" && params.entry.level === "error") {
                errors.push(params.entry.url ? `${params.entry.text} (${params.entry.url})` : params.entry.text);
            }
        });
        await Promise.all([
            send("Runtime.enable"),
            send("Log.enable"),
            send("Page.enable"),
            send("Network.enable"),
            // The viewport exactly width x height: the window's size includes what headless keeps of its frame.
            send("Emulation.setDeviceMetricsOverride", { width, height, deviceScaleFactor: 1, mobile: false }),
        ]);
        // Listening before navigating, so a quick load isn't missed.
        const loaded = browser.waitFor("Page.loadEventFired", sessionId, deadline - Date.now(), `not loaded within ${timeoutMs} ms`);
        loaded.catch(() => undefined); // awaited below, unless navigating fails first
        const navigated = await send("Page.navigate", { url });
        if (navigated.errorText) throw new Error(`${url}: ${navigated.errorText}`);
        await loaded;

        return {
            errors,
            requests,
            async evaluate<T>(expression: string): Promise<T> {
                const { result, exceptionDetails } = await send("Runtime.evaluate", { expression, awaitPromise: true, returnByValue: true });
                if (exceptionDetails) throw new Error(`${expression}: ${exceptionText(exceptionDetails)}`);
                return result.value as T;
            },
            async screenshot(pngFile: string, { fullPage = false } = {}): Promise<void> {
                // The whole document: a clip as large as its content, captured beyond the viewport.
                const clip = fullPage ? await send("Page.getLayoutMetrics").then(({ cssContentSize: s }) => ({ x: 0, y: 0, width: s.width, height: s.height, scale: 1 })) : undefined;
                const { data } = await send("Page.captureScreenshot", { format: "png", ...(clip && { clip, captureBeyondViewport: true }) });
                fs.writeFileSync(pngFile, Buffer.from(data, "base64"));
            },
            close,
        };
    } catch (error) {
        await close();
        throw new Error(`chromium could not open ${file}: ${(error as Error).message}`);
    }
}
