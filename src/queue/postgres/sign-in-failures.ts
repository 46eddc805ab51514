/**
 * Failed sign-ins in PostgreSQL, counted for every node: a failure reads and writes its rows
 * under row locks, so failures on two nodes at once both count (the arithmetic is in
 * ../sign-in-failures.ts).
 */
import type pg from 'pg';
import { afterFailure, lockedUntil, type FailureRow } from '../sign-in-failures.js';
import type { SignInPolicy } from '../store.js';
import { transaction } from './connection.js';

const SQL = {
  locked: `SELECT locked_until FROM sign_in_failures WHERE key = ANY($1)`,
  ensure: `INSERT INTO sign_in_failures (key, count, first_at, locked_until) SELECT k, 0, $2, 0 FROM unnest($1::text[]) AS k ON CONFLICT (key) DO NOTHING`,
  lock: `SELECT key, count, first_at, locked_until FROM sign_in_failures WHERE key = ANY($1) ORDER BY key FOR UPDATE`,
  put: `UPDATE sign_in_failures SET count = $2, first_at = $3, locked_until = $4 WHERE key = $1`,
  forget: `DELETE FROM sign_in_failures WHERE key = ANY($1)`,
} as const;

export class PostgresSignInFailures {
  constructor(private readonly pool: pg.Pool) {}

  async lockedUntil(keys: string[], now: number): Promise<number | null> {
    const { rows } = await this.pool.query<{ locked_until: string }>({ name: 'sign-in-locked', text: SQL.locked, values: [keys] });
    return lockedUntil(rows.map((r) => ({ locked_until: Number(r.locked_until) })), now);
  }

  failed(keys: string[], now: number, policy: SignInPolicy): Promise<number | null> {
    return transaction(this.pool, async (client) => {
      await client.query(SQL.ensure, [keys, now]);
      const { rows } = await client.query<FailureRow>(SQL.lock, [keys]);
      const next = rows.map((row) => afterFailure(row.key, row, now, policy));
      for (const row of next) await client.query(SQL.put, [row.key, row.count, row.first_at, row.locked_until]);
      return lockedUntil(next, now);
    });
  }

  async succeeded(keys: string[]): Promise<void> {
    await this.pool.query({ name: 'sign-in-forget', text: SQL.forget, values: [keys] });
  }
}
