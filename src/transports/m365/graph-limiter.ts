/**
 * At most N Graph requests at once per app and mailbox. Exchange counts concurrency per app and
 * mailbox and answers the 5th request with 429 MailboxConcurrency (M365-FACTS.md), so the relay
 * never sends it: requests wait for a free slot here instead. Each graph route has its own
 * limiter for its mailbox; two graph routes of the same app and mailbox would each count alone.
 */
export class RequestLimiter {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly limit: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((go) => this.waiting.push(go));
    else this.running += 1;
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next(); // the slot passes straight to the next waiter
      else this.running -= 1;
    }
  }

  get inFlight(): number {
    return this.running;
  }
}
