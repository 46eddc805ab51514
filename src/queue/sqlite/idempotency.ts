/**
 * Idempotency keys of the HTTP submission API in SQLite: one row per key, claimed before the
 * message is taken in and settled with the answer after the commit; expired rows go when
 * the next key is claimed.
 */
import type Database from 'better-sqlite3';
import type { IdempotencyClaim, IdempotencyRequest, IdempotentAnswer } from '../store.js';

const SQL = {
  expire: `DELETE FROM idempotency_keys WHERE expires_at <= ?`,
  claim: `INSERT INTO idempotency_keys (key, fingerprint, message_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING`,
  get: `SELECT fingerprint, message_id, status, body, created_at FROM idempotency_keys WHERE key = ?`,
  settle: `UPDATE idempotency_keys SET status = ?, body = ? WHERE key = ?`,
  release: `DELETE FROM idempotency_keys WHERE key = ? AND status IS NULL`,
} as const;

export interface IdempotencyRow {
  fingerprint: string;
  message_id: string;
  status: number | null;
  body: string | null;
  created_at: number;
}

export function claimFromRow(row: IdempotencyRow): IdempotencyClaim {
  const answer: IdempotentAnswer | null = row.status === null ? null : { status: row.status, body: row.body ?? '' };
  return { claimed: false, fingerprint: row.fingerprint, messageId: row.message_id, since: Number(row.created_at), answer };
}

export class IdempotencyKeys {
  private readonly sql: { [K in keyof typeof SQL]: Database.Statement };

  constructor(private readonly db: Database.Database) {
    this.sql = Object.fromEntries(Object.entries(SQL).map(([k, v]) => [k, db.prepare(v)])) as never;
  }

  claim(request: IdempotencyRequest): IdempotencyClaim {
    return this.db
      .transaction((): IdempotencyClaim => {
        this.sql.expire.run(request.now);
        if (this.sql.claim.run(request.key, request.fingerprint, request.messageId, request.now, request.expiresAt).changes > 0) return { claimed: true };
        return claimFromRow(this.sql.get.get(request.key) as IdempotencyRow);
      })
      .immediate();
  }

  settle(key: string, answer: IdempotentAnswer): void {
    this.sql.settle.run(answer.status, answer.body, key);
  }

  release(key: string): void {
    this.sql.release.run(key);
  }
}
