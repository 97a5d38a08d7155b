// Draws a piece of long work's progress (lib/progress.ts) on stderr. On a
// terminal: one status line redrawn in place every second, finished steps as
// permanent lines above it. Elsewhere (CI, a pipe, a log): plain lines, one per
// step start, phase and finish, and never a carriage return.
import { finishedLine, fit, runningLine, Work } from "../lib/progress";

export class Progress {
    private readonly work: Work;
    private readonly live: boolean;
    private step?: { label: string; started: number };
    private timer?: NodeJS.Timeout;

    constructor(what: string, total: number, earlier?: Work["earlier"], private readonly out: NodeJS.WriteStream = process.stderr) {
        this.work = { what, total, finished: [], earlier };
        // CI runners may give a pseudo-terminal whose log keeps every redraw.
        this.live = Boolean(out.isTTY) && !process.env.CI;
    }

    /** A new step begins. */
    start(label: string): void {
        this.step = { label, started: Date.now() };
        if (this.live) {
            this.timer ??= setInterval(() => this.redraw(), 1000).unref();
            this.redraw();
        } else {
            this.out.write(`${runningLine(this.work, label, 0)}\n`);
        }
    }

    /** The running step moves on to another part: "destroy". */
    phase(label: string): void {
        if (!this.step) return;
        this.step.label = label;
        if (this.live) this.redraw();
        else this.out.write(`${runningLine(this.work, label, this.seconds())}\n`);
    }

    /** The running step finished: its line stays, with `text` (its outcome). */
    finish(text: string): void {
        if (!this.step) return;
        this.work.finished.push(this.seconds());
        this.step = undefined;
        this.permanent(finishedLine(this.work, text));
    }

    /** Done, or giving up: the status line goes, the timer stops. */
    stop(): void {
        clearInterval(this.timer);
        this.timer = undefined;
        this.step = undefined;
        if (this.live) this.out.write("\r\x1b[2K");
    }

    private seconds(): number {
        return this.step ? (Date.now() - this.step.started) / 1000 : 0;
    }

    private permanent(line: string): void {
        this.out.write(this.live ? `\r\x1b[2K${line}\n` : `${line}\n`);
        if (this.live) this.redraw();
    }

    private redraw(): void {
        if (!this.step) return;
        // A terminal that does not know its size says 0 columns.
        this.out.write(`\r\x1b[2K${fit(runningLine(this.work, this.step.label, this.seconds()), this.out.columns || 80)}`);
    }
}
