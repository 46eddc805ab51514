/**
 * Group commit for PostgreSQL: writes asked for close together go to the database as one
 * statement over arrays (one round trip, one commit, one fsync for all of them). A write
 * someone waits on (a client waiting for its 250) goes at the next turn of the event loop,
 * with whatever else arrived in that turn; one nobody waits on (a finished attempt) may
 * wait LAZY_FLUSH_MS for company. Batches do not wait for each other: with many clients
 * several are in flight at once, on different connections.
 *
 * Each caller still learns its own outcome: when a batch of several fails, its writes are
 * retried one by one, so one bad write cannot fail its neighbours.
 */

/** How long a write nobody waits on may wait for company. */
export const LAZY_FLUSH_MS = 15;
/** At most this many writes in one statement (bounded parameters and statement size). */
const MAX_BATCH = 64;

interface Pending<I> {
  item: I;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class GroupCommit<I> {
  private pending: Pending<I>[] = [];
  private immediate: NodeJS.Immediate | null = null;
  private timer: NodeJS.Timeout | null = null;

  /** `write` commits a whole batch in one statement, or throws. */
  constructor(private readonly write: (items: I[]) => Promise<void>) {}

  run(item: I, urgent = true): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (this.pending.length >= MAX_BATCH) this.flush();
      else if (urgent) this.immediate ??= setImmediate(() => this.flush());
      else this.timer ??= setTimeout(() => this.flush(), LAZY_FLUSH_MS);
    });
  }

  private flush(): void {
    if (this.immediate) clearImmediate(this.immediate);
    if (this.timer) clearTimeout(this.timer);
    this.immediate = this.timer = null;
    const batch = this.pending;
    this.pending = [];
    if (batch.length) void this.commit(batch);
  }

  private async commit(batch: Pending<I>[]): Promise<void> {
    try {
      await this.write(batch.map((p) => p.item));
      for (const p of batch) p.resolve();
      return;
    } catch (err) {
      if (batch.length === 1 || isDatabaseDown(err)) {
        for (const p of batch) p.reject(err);
        return;
      }
    }
    await Promise.all(
      batch.map((p) =>
        this.write([p.item]).then(
          () => p.resolve(),
          (err: unknown) => p.reject(err),
        ),
      ),
    );
  }
}

/** A database that cannot be reached fails every write alike: retrying each would only wait again. */
function isDatabaseDown(err: unknown): boolean {
  const code = (err as { code?: string }).code ?? '';
  // Node's network errors, and PostgreSQL's classes 08 (connection), 53 (resources), 57 (shutdown).
  return code.startsWith('E') || /^(08|53|57)/.test(code) || /timeout|terminat/i.test((err as Error).message ?? '');
}
