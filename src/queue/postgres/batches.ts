/**
 * The two writes on the hot path, as batches for GroupCommit: accepting messages (message,
 * recipients and the last chunk of each body) and recording finished attempts. Each batch
 * is one statement over arrays (sql.ts), so it commits whole or not at all.
 */
import type pg from 'pg';
import { State } from '../states.js';
import type { AttemptReport, Lease, NewMessage } from '../store.js';
import type { ChunkedBody } from './bodies.js';
import { ACCEPT_PARAMS, acceptWithBodies, SQL } from './sql.js';

export interface AcceptItem {
  message: NewMessage;
  body: ChunkedBody;
  lease?: Lease;
}

/** A pool, or one connection inside a transaction (a notice commits with its recipients' marks). */
export type Queryable = Pick<pg.PoolClient, 'query'>;

export async function writeAccepts(pool: Queryable, items: AcceptItem[]): Promise<void> {
  const columns: unknown[][] = Array.from({ length: ACCEPT_PARAMS }, () => []);
  const push = (offset: number, values: unknown[]) => values.forEach((v, i) => (columns[offset + i] as unknown[]).push(v));
  const tails: unknown[] = [];
  for (const { message: m, body, lease } of items) {
    push(0, [
      m.id,
      m.receivedAt,
      m.listener,
      m.clientAddress,
      m.clientHelo,
      m.tls,
      m.app,
      m.mailFrom,
      JSON.stringify(m.mailParams),
      body.size,
      body.sha256,
      m.receivedHeader,
      lease ? State.sending : State.queued,
      m.receivedAt,
      m.expiresAt,
      lease?.node ?? null,
      lease?.until ?? null,
      m.receivedAt,
      m.messageIdHeader ?? null,
    ]);
    push(25, [m.subject ?? null]);
    m.recipients.forEach((r, idx) => push(19, [m.id, idx, r.address, JSON.stringify(r.params), State.queued, m.receivedAt]));
    if (body.tail.length) tails.push(m.id, body.tailSeq, body.tail);
  }
  const count = tails.length / 3;
  const { rows } = await pool.query<{ n: number }>({
    // Named: each connection plans each shape (number of body tails) once.
    name: `accept-${count}`,
    text: acceptWithBodies(count),
    values: [...columns, ...tails],
  });
  if (rows[0]?.n !== items.length) throw new Error(`the store committed ${rows[0]?.n ?? 0} of ${items.length} messages`);
}

export async function writeFinishes(pool: pg.Pool, reports: AttemptReport[]): Promise<void> {
  const columns: unknown[][] = Array.from({ length: 31 }, () => []);
  const push = (offset: number, values: unknown[]) => values.forEach((v, i) => (columns[offset + i] as unknown[]).push(v));
  // In id order, so that two batches touching the same messages lock them in the same order.
  for (const report of [...reports].sort((a, b) => (a.messageId < b.messageId ? -1 : a.messageId > b.messageId ? 1 : 0))) {
    const finishedAt = report.startedAt + report.durationMs;
    const attempted = report.results.some((r) => r.attempted) ? 1 : 0;
    push(0, [report.messageId, report.state, report.nextAttemptAt, report.lastError, attempted, finishedAt]);
    for (const r of report.results) {
      const reply = [r.reply?.code ?? null, r.reply?.enhanced ?? null, r.reply?.text ?? null];
      push(6, [report.messageId, r.idx, r.state, r.route, r.retryAt, ...reply, r.verdict, r.diagnosis, finishedAt]);
      if (r.attempted) {
        push(17, [report.messageId, report.attempt, r.idx, report.startedAt, report.durationMs, report.node, r.route, r.transport, r.verdict, ...reply, r.diagnosis, r.fix]);
      }
    }
  }
  // A message an admin deleted while it was being delivered has nothing left to update: fewer rows is fine.
  await pool.query({ name: 'finish', text: SQL.finish, values: columns });
}
