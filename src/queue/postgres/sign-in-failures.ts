/**
 * Sign-in attempts in PostgreSQL, counted for every node: each step makes sure the attempt's two
 * rows exist, locks them (FOR UPDATE, in key order so two steps never wait on each other),
 * and reads, decides and writes in the same transaction — so attempts racing on several nodes
 * are counted one after the other (the arithmetic is in ../sign-in-failures.ts).
 */
import type pg from 'pg';
import { admit, afterFailure, afterSuccess, type AttemptRows, type FailureRow } from '../sign-in-failures.js';
import type { SignInAdmission, SignInAttempt } from '../store.js';
import { transaction } from './connection.js';

const SQL = {
  ensure: `INSERT INTO sign_in_failures (key, count, pending, first_at, last_at, locked_until) SELECT k, 0, 0, $2, $2, 0 FROM unnest($1::text[]) AS k ORDER BY k ON CONFLICT (key) DO NOTHING`,
  lock: `SELECT key, count, pending, first_at, last_at, locked_until FROM sign_in_failures WHERE key = ANY($1) ORDER BY key FOR UPDATE`,
  put: `UPDATE sign_in_failures SET count = $2, pending = $3, first_at = $4, last_at = $5, locked_until = $6 WHERE key = $1`,
  forget: `DELETE FROM sign_in_failures WHERE key = $1`,
  trusted: `SELECT 1 FROM sign_in_trust WHERE user_key = $1 AND address_key = $2 AND until > $3`,
  trust: `INSERT INTO sign_in_trust (user_key, address_key, until) VALUES ($1, $2, $3) ON CONFLICT (user_key, address_key) DO UPDATE SET until = excluded.until`,
} as const;

export class PostgresSignInFailures {
  constructor(private readonly pool: pg.Pool) {}

  attempt(attempt: SignInAttempt, now: number): Promise<SignInAdmission> {
    return transaction(this.pool, async (client) => {
      const { admission, write } = admit(await rows(client, attempt, now), attempt, now);
      await put(client, write);
      return admission;
    });
  }

  failed(attempt: SignInAttempt, now: number): Promise<number | null> {
    return transaction(this.pool, async (client) => {
      const { coolDownUntil, write } = afterFailure(await rows(client, attempt, now), attempt, now);
      await put(client, write);
      return coolDownUntil;
    });
  }

  async succeeded(attempt: SignInAttempt, now: number): Promise<void> {
    await transaction(this.pool, async (client) => {
      await put(client, afterSuccess(await rows(client, attempt, now)));
      await client.query(SQL.forget, [attempt.user]);
      await client.query(SQL.trust, [attempt.user, attempt.address, now + attempt.limits.trustMs]);
    });
  }
}

async function rows(client: pg.PoolClient, attempt: SignInAttempt, now: number): Promise<AttemptRows> {
  const keys = [attempt.address, attempt.user];
  await client.query(SQL.ensure, [keys, now]);
  const { rows: locked } = await client.query<FailureRow>(SQL.lock, [keys]);
  const trusted = await client.query(SQL.trusted, [attempt.user, attempt.address, now]);
  return { address: locked.find((r) => r.key === attempt.address), user: locked.find((r) => r.key === attempt.user), trusted: (trusted.rowCount ?? 0) > 0 };
}

async function put(client: pg.PoolClient, write: FailureRow[]): Promise<void> {
  for (const row of write) await client.query(SQL.put, [row.key, row.count, row.pending, row.first_at, row.last_at, row.locked_until]);
}
