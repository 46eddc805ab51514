/**
 * Idempotency keys of the HTTP submission API in PostgreSQL: the key's primary key decides
 * which of several nodes taking the same retried request claims it; the others find its row.
 */
import type pg from 'pg';
import { claimFromRow, type IdempotencyRow } from '../sqlite/idempotency.js';
import type { IdempotencyClaim, IdempotencyRequest, IdempotentAnswer } from '../store.js';

const SQL = {
  expire: `DELETE FROM idempotency_keys WHERE expires_at <= $1`,
  claim: `INSERT INTO idempotency_keys (key, fingerprint, message_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (key) DO NOTHING RETURNING key`,
  get: `SELECT fingerprint, message_id, status, body, created_at FROM idempotency_keys WHERE key = $1`,
  settle: `UPDATE idempotency_keys SET status = $1, body = $2 WHERE key = $3`,
  release: `DELETE FROM idempotency_keys WHERE key = $1 AND status IS NULL`,
} as const;

export class PostgresIdempotency {
  constructor(private readonly pool: pg.Pool) {}

  async claim(request: IdempotencyRequest): Promise<IdempotencyClaim> {
    await this.pool.query(SQL.expire, [request.now]);
    // A row released between our insert and our read is claimed again on the next round.
    for (;;) {
      const inserted = await this.pool.query(SQL.claim, [request.key, request.fingerprint, request.messageId, request.now, request.expiresAt]);
      if (inserted.rowCount) return { claimed: true };
      const { rows } = await this.pool.query<IdempotencyRow>(SQL.get, [request.key]);
      if (rows[0]) return claimFromRow(rows[0]);
    }
  }

  async settle(key: string, answer: IdempotentAnswer): Promise<void> {
    await this.pool.query(SQL.settle, [answer.status, answer.body, key]);
  }

  async release(key: string): Promise<void> {
    await this.pool.query(SQL.release, [key]);
  }
}
