/** Failed sign-ins in SQLite (the arithmetic is in ../sign-in-failures.ts). */
import type Database from 'better-sqlite3';
import { afterFailure, lockedUntil, type FailureRow } from '../sign-in-failures.js';
import type { SignInPolicy } from '../store.js';

const SQL = {
  one: `SELECT key, count, first_at, locked_until FROM sign_in_failures WHERE key = ?`,
  put: `INSERT INTO sign_in_failures (key, count, first_at, locked_until) VALUES (@key, @count, @first_at, @locked_until)
    ON CONFLICT (key) DO UPDATE SET count = excluded.count, first_at = excluded.first_at, locked_until = excluded.locked_until`,
  forget: `DELETE FROM sign_in_failures WHERE key = ?`,
  purge: `DELETE FROM sign_in_failures WHERE locked_until < ? AND first_at < ?`,
} as const;

export class SignInFailures {
  private readonly sql: { [K in keyof typeof SQL]: Database.Statement };

  constructor(private readonly db: Database.Database) {
    this.sql = Object.fromEntries(Object.entries(SQL).map(([k, v]) => [k, db.prepare(v)])) as never;
  }

  lockedUntil(keys: string[], now: number): number | null {
    return lockedUntil(keys.flatMap((key) => (this.sql.one.get(key) as FailureRow | undefined) ?? []), now);
  }

  failed(keys: string[], now: number, policy: SignInPolicy): number | null {
    return this.db.transaction(() => {
      const rows = keys.map((key) => afterFailure(key, this.sql.one.get(key) as FailureRow | undefined, now, policy));
      for (const row of rows) this.sql.put.run(row);
      return lockedUntil(rows, now);
    }).immediate();
  }

  succeeded(keys: string[]): void {
    for (const key of keys) this.sql.forget.run(key);
  }

  purge(before: number): void {
    this.sql.purge.run(before, before);
  }
}
