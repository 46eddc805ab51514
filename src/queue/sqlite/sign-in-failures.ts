/**
 * Sign-in attempts in SQLite: each step reads and writes the attempt's rows in one immediate
 * transaction, which holds the database's write lock from the first read, so attempts from
 * every process sharing the file are counted one after the other (the arithmetic is in
 * ../sign-in-failures.ts).
 */
import type Database from 'better-sqlite3';
import { admit, afterFailure, afterSuccess, type AttemptRows, type FailureRow } from '../sign-in-failures.js';
import type { SignInAdmission, SignInAttempt } from '../store.js';

const SQL = {
  one: `SELECT key, count, pending, first_at, last_at, locked_until FROM sign_in_failures WHERE key = ?`,
  put: `INSERT INTO sign_in_failures (key, count, pending, first_at, last_at, locked_until) VALUES (@key, @count, @pending, @first_at, @last_at, @locked_until)
    ON CONFLICT (key) DO UPDATE SET count = excluded.count, pending = excluded.pending, first_at = excluded.first_at, last_at = excluded.last_at, locked_until = excluded.locked_until`,
  forget: `DELETE FROM sign_in_failures WHERE key = ?`,
  trusted: `SELECT 1 FROM sign_in_trust WHERE user_key = ? AND address_key = ? AND until > ?`,
  trust: `INSERT INTO sign_in_trust (user_key, address_key, until) VALUES (?, ?, ?) ON CONFLICT (user_key, address_key) DO UPDATE SET until = excluded.until`,
  purge: `DELETE FROM sign_in_failures WHERE locked_until < ? AND last_at < ? AND first_at < ?`,
  purgeTrust: `DELETE FROM sign_in_trust WHERE until < ?`,
} as const;

export class SignInFailures {
  private readonly sql: { [K in keyof typeof SQL]: Database.Statement };

  constructor(private readonly db: Database.Database) {
    this.sql = Object.fromEntries(Object.entries(SQL).map(([k, v]) => [k, db.prepare(v)])) as never;
  }

  attempt(attempt: SignInAttempt, now: number): SignInAdmission {
    return this.db.transaction(() => {
      const { admission, write } = admit(this.rows(attempt, now), attempt, now);
      this.put(write);
      return admission;
    }).immediate();
  }

  failed(attempt: SignInAttempt, now: number): number | null {
    return this.db.transaction(() => {
      const { coolDownUntil, write } = afterFailure(this.rows(attempt, now), attempt, now);
      this.put(write);
      return coolDownUntil;
    }).immediate();
  }

  succeeded(attempt: SignInAttempt, now: number): void {
    this.db.transaction(() => {
      this.put(afterSuccess(this.rows(attempt, now)));
      this.sql.forget.run(attempt.user);
      this.sql.trust.run(attempt.user, attempt.address, now + attempt.limits.trustMs);
    }).immediate();
  }

  purge(before: number): void {
    this.sql.purge.run(before, before, before);
    this.sql.purgeTrust.run(before);
  }

  private rows(attempt: SignInAttempt, now: number): AttemptRows {
    return {
      address: this.sql.one.get(attempt.address) as FailureRow | undefined,
      user: this.sql.one.get(attempt.user) as FailureRow | undefined,
      trusted: this.sql.trusted.get(attempt.user, attempt.address, now) !== undefined,
    };
  }

  private put(rows: FailureRow[]): void {
    for (const row of rows) this.sql.put.run(row);
  }
}
