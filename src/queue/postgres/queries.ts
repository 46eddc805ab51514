/**
 * Reading the queue for admins (relay365 queue list|show, the console): lists with filters
 * and paging, one message with its recipients and attempts, counts by state. The rows have
 * SQLite's columns and, with bigint read as numbers (connection.ts), its types, so they map
 * to the store's types the same way (sqlite/rows.ts).
 */
import type pg from 'pg';
import { State } from '../states.js';
import type { ActivityBucket, ListQuery, MessageDetail, MessageSummary } from '../store.js';
import { activityBuckets } from '../activity.js';
import { toDetail, toSummary, type AttemptRow, type MessageRow, type NoticeRow, type RecipientRow } from '../sqlite/rows.js';
import { SQL } from './sql.js';
import { firstIdAt } from '../ids.js';

const likeEscape = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

export class PostgresQueries {
  constructor(private readonly pool: pg.Pool) {}

  async list(query: ListQuery): Promise<MessageSummary[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    const add = (clause: (n: string) => string, value: unknown) => {
      args.push(value);
      where.push(clause(`$${args.length}`));
    };
    if (query.states?.length) add((n) => `m.state = ANY(${n}::text[])`, query.states);
    if (query.app) add((n) => `m.app = ${n}`, query.app);
    if (query.kind) add((n) => `m.kind = ${n}`, query.kind);
    if (query.sender) add((n) => `m.mail_from LIKE ${n} ESCAPE '\\'`, `%${likeEscape(query.sender)}%`);
    if (query.recipient) {
      add((n) => `EXISTS (SELECT 1 FROM recipients r WHERE r.message_id = m.id AND r.address LIKE ${n} ESCAPE '\\')`, `%${likeEscape(query.recipient)}%`);
    }
    if (query.route) add((n) => `EXISTS (SELECT 1 FROM recipients r WHERE r.route = ${n} AND r.message_id = m.id)`, query.route);
    if (query.since !== undefined) add((n) => `m.id >= ${n}`, firstIdAt(query.since));
    if (query.until !== undefined) add((n) => `m.id < ${n}`, firstIdAt(query.until));
    if (query.before) add((n) => `m.id < ${n}`, query.before);
    args.push(query.limit);
    const text = `SELECT m.*, (SELECT string_agg(address, E'\\n' ORDER BY idx) FROM recipients r WHERE r.message_id = m.id) AS rcpts
      FROM messages m ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY m.id DESC LIMIT $${args.length}`;
    const { rows } = await this.pool.query<MessageRow & { rcpts: string | null }>(text, args);
    return rows.map((row) => toSummary(row, row.rcpts ? row.rcpts.split('\n') : []));
  }

  async activity(since: number, bucketMs: number): Promise<ActivityBucket[]> {
    const [received, done] = await Promise.all([
      this.pool.query<{ at: number; n: number }>(`SELECT (received_at / $1) * $1 AS at, count(*)::int AS n FROM messages WHERE id >= $2 GROUP BY 1`, [bucketMs, firstIdAt(since)]),
      this.pool.query<{ state: State; at: number; n: number }>(
        `SELECT state, (updated_at / $1) * $1 AS at, count(*)::int AS n FROM messages
          WHERE state IN ('delivered', 'failed', 'bounced', 'cancelled') AND updated_at >= $2 GROUP BY 1, 2`,
        [bucketMs, since],
      ),
    ]);
    return activityBuckets(received.rows, done.rows);
  }

  async get(messageId: string): Promise<MessageDetail | null> {
    const [message, recipients, attempts, notices] = await Promise.all([
      this.pool.query<MessageRow>(SQL.selectMessage, [messageId]),
      this.pool.query<RecipientRow>(SQL.selectRecipients, [messageId]),
      this.pool.query<AttemptRow>(SQL.selectAttempts, [messageId]),
      this.pool.query<NoticeRow>(SQL.selectNotices, [messageId]),
    ]);
    const row = message.rows[0];
    return row ? toDetail(row, recipients.rows, attempts.rows, notices.rows) : null;
  }

  async countByState(): Promise<Record<State, number>> {
    const counts = Object.fromEntries(Object.values(State).map((s) => [s, 0])) as Record<State, number>;
    for (const row of (await this.pool.query<{ state: State; n: number }>(SQL.countByState)).rows) counts[row.state] = row.n;
    return counts;
  }
}
