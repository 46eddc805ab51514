/** Bounces in PostgreSQL (store-bounces.ts): as in SQLite, with the message row locked first, as admin actions do. */
import type pg from 'pg';
import { BOUNCE, stateAfterAttempt, type RecipientState } from '../states.js';
import type { Bounce, BounceOutcome, BounceReader, BounceTarget } from '../store-bounces.js';
import type { MessageRow } from '../sqlite/rows.js';
import { transaction } from './connection.js';
import { SQL as MAIN } from './sql.js';

const SQL = {
  byHeader: `SELECT r.message_id, r.idx, r.address, r.state, r.route FROM messages m
      JOIN recipients r ON r.message_id = m.id WHERE m.message_id_header IS NOT NULL AND m.message_id_header = $1 ORDER BY m.id, r.idx`,
  recipient: `SELECT state FROM recipients WHERE message_id = $1 AND idx = $2`,
  states: `SELECT state FROM recipients WHERE message_id = $1`,
  // reported goes back to NULL: a success DSN sent earlier does not stand in for the failure's.
  bounce: `UPDATE recipients SET state = 'bounced', verdict = 'permanent', reply_code = $1, reply_enhanced = $2, reply_text = $3, diagnosis = $4,
      bounced_at = $5, reported = NULL, warned_at = NULL, updated_at = $5 WHERE message_id = $6 AND idx = $7 AND state = 'delivered'`,
  setMessage: `UPDATE messages SET state = $1, last_error = $2, updated_at = $3 WHERE id = $4`,
  takeTurn: `INSERT INTO bounce_readers (route, node, lease_until) VALUES ($1, $2, $3)
      ON CONFLICT (route) DO UPDATE SET node = EXCLUDED.node, lease_until = EXCLUDED.lease_until
      WHERE bounce_readers.node = EXCLUDED.node OR bounce_readers.lease_until < $4
      RETURNING watermark`,
  recordRead: `UPDATE bounce_readers SET watermark = coalesce($1, watermark), problem = $2 WHERE route = $3 AND node = $4`,
  readers: `SELECT route, node, watermark, problem FROM bounce_readers ORDER BY route`,
} as const;

export class PostgresBounces {
  constructor(private readonly pool: pg.Pool) {}

  async recipientsByMessageIdHeader(header: string): Promise<BounceTarget[]> {
    const { rows } = await this.pool.query<{ message_id: string; idx: number; address: string; state: RecipientState; route: string | null }>(SQL.byHeader, [header]);
    return rows.map((r) => ({ messageId: r.message_id, idx: r.idx, address: r.address, state: r.state, route: r.route }));
  }

  bounce(b: Bounce): Promise<BounceOutcome> {
    return transaction(this.pool, async (client): Promise<BounceOutcome> => {
      const message = (await client.query<MessageRow>(MAIN.lockMessage, [b.messageId])).rows[0];
      const recipient = (await client.query<{ state: RecipientState }>(SQL.recipient, [b.messageId, b.idx])).rows[0];
      if (!message || !recipient) return { ok: false, reason: 'not-found' };
      if (recipient.state === 'bounced') return { ok: false, reason: 'already' };
      if (!BOUNCE.recipients.from.includes(recipient.state)) return { ok: false, reason: 'not-delivered' };
      const words = [b.reply.code, b.reply.enhanced, b.reply.text].filter((w) => w !== null && w !== '').join(' ');
      await client.query(SQL.bounce, [b.reply.code, b.reply.enhanced, b.reply.text, b.diagnosis, b.at, b.messageId, b.idx]);
      if (!BOUNCE.messages.from.includes(message.state)) return { ok: true, state: message.state };
      const states = (await client.query<{ state: RecipientState }>(SQL.states, [b.messageId])).rows.map((r) => r.state);
      const state = stateAfterAttempt(states, false);
      await client.query(SQL.setMessage, [state, `bounced after delivery: ${words}`, b.at, b.messageId]);
      return { ok: true, state };
    });
  }

  async takeBounceTurn(route: string, node: string, now: number, leaseMs: number): Promise<{ watermark: string | null } | null> {
    const { rows } = await this.pool.query<{ watermark: string | null }>(SQL.takeTurn, [route, node, now + leaseMs, now]);
    return rows[0] ? { watermark: rows[0].watermark } : null;
  }

  async recordBounceRead(route: string, node: string, read: { watermark?: string; problem: string | null }): Promise<void> {
    await this.pool.query(SQL.recordRead, [read.watermark ?? null, read.problem, route, node]);
  }

  async bounceReaders(): Promise<BounceReader[]> {
    return (await this.pool.query<BounceReader>(SQL.readers)).rows;
  }
}
