// Messages accepted over the 30-a-minute rate, waiting for their turn (Microsoft: "the excess is
// delayed by the service"). Each waits in the spool until its time on the sandbox clock, which is
// polled, so a test that advances the clock sees the delivery without waiting a real minute.
import type { SandboxClock } from '../../clock.js';

interface Waiting {
  readonly due: number;
  readonly deliver: () => Promise<void>;
}

export class DelayedDeliveries {
  private waiting: Waiting[] = [];
  private readonly running = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly clock: SandboxClock,
    private readonly onError: (e: Error) => void,
    private readonly pollMs = 100,
  ) {}

  /** Runs `deliver` once the sandbox clock reaches `due`. */
  schedule(due: number, deliver: () => Promise<void>): void {
    this.waiting.push({ due, deliver });
    this.timer ??= setInterval(() => this.release(false), this.pollMs);
    this.timer.unref();
  }

  get size(): number {
    return this.waiting.length;
  }

  /** Delivers everything still waiting (the sandbox is stopping: accepted mail is never lost) and waits for it. */
  async flush(): Promise<void> {
    this.release(true);
    await Promise.all([...this.running]);
  }

  private release(all: boolean): void {
    const now = this.clock.now();
    const due = this.waiting.filter((w) => all || w.due <= now);
    this.waiting = this.waiting.filter((w) => !due.includes(w));
    if (this.waiting.length === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
    for (const w of due) {
      const run = w.deliver().catch((e: unknown) => this.onError(e as Error));
      this.running.add(run);
      void run.finally(() => this.running.delete(run));
    }
  }
}
