/**
 * The read side of the SQLite store for the CLI and the console: filtered lists paged by id,
 * one message in detail, counts by state, and the activity chart.
 */
import type Database from 'better-sqlite3';
import { activityBuckets } from '../activity.js';
import { firstIdAt } from '../ids.js';
import { State } from '../states.js';
import type { ActivityBucket, ListQuery, MessageDetail, MessageSummary } from '../store.js';
import { toDetail, toSummary, type AttemptRow, type MessageRow, type NoticeRow, type RecipientRow } from './rows.js';
import { SQL } from './sql.js';

export class SqliteQueries {
  private readonly selectMessage: Database.Statement;
  private readonly selectRecipients: Database.Statement;
  private readonly selectAttempts: Database.Statement;
  private readonly selectNotices: Database.Statement;
  private readonly countStates: Database.Statement;

  constructor(private readonly db: Database.Database) {
    this.selectMessage = db.prepare(SQL.selectMessage);
    this.selectRecipients = db.prepare(SQL.selectRecipients);
    this.selectAttempts = db.prepare(SQL.selectAttempts);
    this.selectNotices = db.prepare(SQL.selectNotices);
    this.countStates = db.prepare(SQL.countByState);
  }

  async activity(since: number, bucketMs: number): Promise<ActivityBucket[]> {
    const received = this.db
      .prepare(`SELECT (received_at / ?) * ? AS at, count(*) AS n FROM messages WHERE id >= ? GROUP BY at`)
      .all(bucketMs, bucketMs, firstIdAt(since)) as { at: number; n: number }[];
    const done = this.db
      .prepare(`SELECT state, (updated_at / ?) * ? AS at, count(*) AS n FROM messages INDEXED BY messages_final
        WHERE state IN ('delivered', 'failed', 'bounced', 'cancelled') AND updated_at >= ? GROUP BY state, at`)
      .all(bucketMs, bucketMs, since) as { state: State; at: number; n: number }[];
    return activityBuckets(received, done);
  }

  async list(query: ListQuery): Promise<MessageSummary[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (query.states?.length) {
      where.push(`m.state IN (${query.states.map(() => '?').join(', ')})`);
      args.push(...query.states);
    }
    const add = (clause: string, value: unknown) => {
      where.push(clause);
      args.push(value);
    };
    if (query.app) add('m.app = ?', query.app);
    if (query.kind) add('m.kind = ?', query.kind);
    if (query.sender) add("m.mail_from LIKE ? ESCAPE '\\'", `%${likeEscape(query.sender)}%`);
    if (query.recipient) {
      add("EXISTS (SELECT 1 FROM recipients r WHERE r.message_id = m.id AND r.address LIKE ? ESCAPE '\\')", `%${likeEscape(query.recipient)}%`);
    }
    if (query.route) add('EXISTS (SELECT 1 FROM recipients r INDEXED BY recipients_route WHERE r.route = ? AND r.message_id = m.id)', query.route);
    if (query.since !== undefined) add('m.id >= ?', firstIdAt(query.since));
    if (query.until !== undefined) add('m.id < ?', firstIdAt(query.until));
    if (query.before) add('m.id < ?', query.before);
    const text = `SELECT m.*, (SELECT group_concat(address, char(10)) FROM recipients r WHERE r.message_id = m.id) AS rcpts
      FROM messages m ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY m.id DESC LIMIT ?`;
    const rows = this.db.prepare(text).all(...args, query.limit) as (MessageRow & { rcpts: string | null })[];
    return rows.map((row) => toSummary(row, row.rcpts ? row.rcpts.split('\n') : []));
  }

  async get(messageId: string): Promise<MessageDetail | null> {
    const row = this.selectMessage.get(messageId) as MessageRow | undefined;
    if (!row) return null;
    const recipients = this.selectRecipients.all(messageId) as RecipientRow[];
    const attempts = this.selectAttempts.all(messageId) as AttemptRow[];
    return toDetail(row, recipients, attempts, this.selectNotices.all(messageId) as NoticeRow[]);
  }

  async countByState(): Promise<Record<State, number>> {
    const counts = Object.fromEntries(Object.values(State).map((s) => [s, 0])) as Record<State, number>;
    for (const row of this.countStates.all() as { state: State; n: number }[]) counts[row.state] = row.n;
    return counts;
  }
}

const likeEscape = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);
