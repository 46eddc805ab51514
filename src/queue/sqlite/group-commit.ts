/**
 * Group commit: every write asked for during one turn of the event loop goes into a
 * single transaction, so twenty clients finishing DATA at once cost one fsync, not twenty.
 * Each caller still learns its own outcome: if the shared transaction fails, the writes are
 * retried one by one, so one bad write cannot fail its neighbours.
 */
import type Database from 'better-sqlite3';

interface Pending {
  run: () => unknown;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

export class GroupCommit {
  private pending: Pending[] = [];
  private scheduled = false;

  constructor(private readonly db: Database.Database) {}

  run<T>(write: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ run: write, resolve: resolve as (value: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    const batch = this.pending;
    this.pending = [];
    this.scheduled = false;
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
