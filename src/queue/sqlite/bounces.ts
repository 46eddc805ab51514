/** Bounces in SQLite (store-bounces.ts): recipients found by Message-ID, marked bounced, and the readers' turns. */
import type Database from 'better-sqlite3';
import { BOUNCE, stateAfterAttempt, type RecipientState, type State } from '../states.js';
import type { Bounce, BounceOutcome, BounceReader, BounceTarget } from '../store-bounces.js';

const SQL = {
  byHeader: `SELECT r.message_id, r.idx, r.address, r.state, r.route FROM messages m INDEXED BY messages_message_id_header
      JOIN recipients r ON r.message_id = m.id WHERE m.message_id_header IS NOT NULL AND m.message_id_header = ? ORDER BY m.id, r.idx`,
  message: `SELECT state FROM messages WHERE id = ?`,
  recipient: `SELECT state FROM recipients WHERE message_id = ? AND idx = ?`,
  states: `SELECT state FROM recipients WHERE message_id = ?`,
  // reported goes back to NULL: a success DSN sent earlier does not stand in for the failure's.
  bounce: `UPDATE recipients SET state = 'bounced', verdict = 'permanent', reply_code = ?, reply_enhanced = ?, reply_text = ?, diagnosis = ?,
      bounced_at = ?, reported = NULL, warned_at = NULL, updated_at = ? WHERE message_id = ? AND idx = ? AND state = 'delivered'`,
  setMessage: `UPDATE messages SET state = ?, last_error = ?, updated_at = ? WHERE id = ?`,
  takeTurn: `INSERT INTO bounce_readers (route, node, lease_until) VALUES (?, ?, ?)
      ON CONFLICT (route) DO UPDATE SET node = excluded.node, lease_until = excluded.lease_until
      WHERE bounce_readers.node = excluded.node OR bounce_readers.lease_until < ?
      RETURNING watermark`,
  recordRead: `UPDATE bounce_readers SET watermark = coalesce(?, watermark), problem = ? WHERE route = ? AND node = ?`,
  readers: `SELECT route, node, watermark, problem FROM bounce_readers ORDER BY route`,
} as const;

type Statements = { [K in keyof typeof SQL]: Database.Statement };

export class SqliteBounces {
  private readonly sql: Statements;

  constructor(private readonly db: Database.Database) {
    this.sql = Object.fromEntries(Object.entries(SQL).map(([name, text]) => [name, db.prepare(text)])) as Statements;
  }

  recipientsByMessageIdHeader(header: string): BounceTarget[] {
    const rows = this.sql.byHeader.all(header) as { message_id: string; idx: number; address: string; state: RecipientState; route: string | null }[];
    return rows.map((r) => ({ messageId: r.message_id, idx: r.idx, address: r.address, state: r.state, route: r.route }));
  }

  bounce(b: Bounce): BounceOutcome {
    return this.db
      .transaction((): BounceOutcome => {
        const message = this.sql.message.get(b.messageId) as { state: State } | undefined;
        const recipient = this.sql.recipient.get(b.messageId, b.idx) as { state: RecipientState } | undefined;
        if (!message || !recipient) return { ok: false, reason: 'not-found' };
        if (recipient.state === 'bounced') return { ok: false, reason: 'already' };
        if (!BOUNCE.recipients.from.includes(recipient.state)) return { ok: false, reason: 'not-delivered' };
        const words = [b.reply.code, b.reply.enhanced, b.reply.text].filter((w) => w !== null && w !== '').join(' ');
        this.sql.bounce.run(b.reply.code, b.reply.enhanced, b.reply.text, b.diagnosis, b.at, b.at, b.messageId, b.idx);
        if (!BOUNCE.messages.from.includes(message.state)) return { ok: true, state: message.state };
        const states = (this.sql.states.all(b.messageId) as { state: RecipientState }[]).map((r) => r.state);
        const state = stateAfterAttempt(states, false);
        this.sql.setMessage.run(state, `bounced after delivery: ${words}`, b.at, b.messageId);
        return { ok: true, state };
      })
      .immediate();
  }

  takeBounceTurn(route: string, node: string, now: number, leaseMs: number): { watermark: string | null } | null {
    const row = this.sql.takeTurn.get(route, node, now + leaseMs, now) as { watermark: string | null } | undefined;
    return row ? { watermark: row.watermark } : null;
  }

  recordBounceRead(route: string, node: string, read: { watermark?: string; problem: string | null }): void {
    this.sql.recordRead.run(read.watermark ?? null, read.problem, route, node);
  }

  bounceReaders(): BounceReader[] {
    return this.sql.readers.all() as BounceReader[];
  }
}
