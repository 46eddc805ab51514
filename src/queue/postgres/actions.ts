/**
 * Moves that are not delivery attempts (queue/states.ts, ACTIONS): an admin's retry, cancel
 * or delete, a held route's release, a shutdown's requeue. Each locks the message row first,
 * so it cannot cross a node's claim or finishing attempt on the same message.
 */
import type pg from 'pg';
import { ACTIONS, State, stateAfterAttempt, type Action, type RecipientState } from '../states.js';
import type { ActionOutcome } from '../store.js';
import type { MessageRow, RecipientRow } from '../sqlite/rows.js';
import { transaction } from './connection.js';
import { SQL } from './sql.js';

export function act(pool: pg.Pool, messageId: string, action: Action, now: number, note?: string): Promise<ActionOutcome> {
  const rule = ACTIONS[action];
  return transaction(pool, async (client): Promise<ActionOutcome> => {
    const row = (await client.query<MessageRow>(SQL.lockMessage, [messageId])).rows[0];
    if (!row) return { ok: false, reason: 'not-found' };
    if (!(rule.from as readonly State[]).includes(row.state)) return { ok: false, reason: 'wrong-state', state: row.state };
    if (rule.to === null) {
      await client.query(SQL.deleteMessage, [messageId]);
      return { ok: true, state: null };
    }
    const recipientRule = rule.recipients;
    const states: RecipientState[] = [];
    for (const r of (await client.query<RecipientRow>(SQL.selectRecipients, [messageId])).rows) {
      if (recipientRule.to === null || !(recipientRule.from as readonly RecipientState[]).includes(r.state)) {
        states.push(r.state);
        continue;
      }
      await client.query(SQL.moveRecipient, [recipientRule.to, note ?? null, now, messageId, r.idx]);
      states.push(recipientRule.to);
    }
    const state = action === 'requeue' ? State.queued : stateAfterAttempt(states, true);
    await client.query(SQL.setState, [state, state === State.queued ? now : null, note ?? row.last_error, now, messageId]);
    return { ok: true, state };
  });
}

/** Releases held messages (those held on `route`, when given), oldest first, at most `limit` (all when omitted). */
export async function releaseHeld(pool: pg.Pool, now: number, route?: string, limit?: number): Promise<number> {
  const max = limit ?? null; // LIMIT NULL: no limit
  const { rows } = route === undefined ? await pool.query<{ id: string }>(SQL.selectHeld, [max]) : await pool.query<{ id: string }>(SQL.selectHeldOnRoute, [route, max]);
  let released = 0;
  for (const { id } of rows) if ((await act(pool, id, 'release', now)).ok) released++;
  return released;
}
