/**
 * Group commit: writes asked for close together go into a single transaction, so twenty
 * clients finishing DATA at once cost one fsync, not twenty. A write that someone waits
 * on (a client waiting for its 250) is flushed at the next turn of the event loop; one
 * that nobody waits on (recording a finished attempt) may wait a few milliseconds and
 * usually rides along with the next urgent flush. Each caller still learns its own
 * outcome: if the shared transaction fails for a reason other than a locked or full
 * database, the writes are retried one by one, so one bad write cannot fail its neighbours.
 */
import type Database from 'better-sqlite3';

interface Pending {
  run: () => unknown;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/** How long a write nobody waits on may wait for company. */
export const LAZY_FLUSH_MS = 15;

export class GroupCommit {
  private pending: Pending[] = [];
  private immediate: NodeJS.Immediate | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly db: Database.Database) {}

  /** `urgent`: someone is waiting for this commit (flush at once); otherwise it may wait LAZY_FLUSH_MS. */
  run<T>(write: () => T, urgent = true): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ run: write, resolve: resolve as (value: unknown) => void, reject });
      if (urgent) this.immediate ??= setImmediate(() => this.flush());
      else this.timer ??= setTimeout(() => this.flush(), LAZY_FLUSH_MS);
    });
  }

  private flush(): void {
    if (this.immediate) clearImmediate(this.immediate);
    if (this.timer) clearTimeout(this.timer);
    this.immediate = this.timer = null;
    const batch = this.pending;
    this.pending = [];
    if (!batch.length) return;
    const results: unknown[] = [];
    try {
      this.db.transaction(() => {
        for (const item of batch) results.push(item.run());
      }).immediate();
      batch.forEach((item, i) => item.resolve(results[i]));
      return;
    } catch (err) {
      // A locked or full database fails every write alike: retrying each would only wait again.
      if (batch.length === 1 || isLockedOrFull(err)) {
        for (const item of batch) item.reject(err);
        return;
      }
    }
    for (const item of batch) {
      try {
        item.resolve(this.db.transaction(item.run).immediate());
      } catch (err) {
        item.reject(err);
      }
    }
  }
}

function isLockedOrFull(err: unknown): boolean {
  const code = (err as { code?: string }).code ?? '';
  return code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED') || code.startsWith('SQLITE_FULL') || code.startsWith('SQLITE_IOERR');
}
