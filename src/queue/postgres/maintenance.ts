/**
 * Maintenance on a shared database: expiring messages that outlived their lifetime and
 * purging old finished ones. Every node's scheduler asks for it now and then; one node at a
 * time does it, holding a transaction advisory lock the others try and skip, so the work is
 * never done twice at once nor fought over. Large backlogs go in batches, each its own
 * transaction, so no node holds locks on thousands of rows for long.
 */
import type pg from 'pg';
import { LOCKS, transaction } from './connection.js';
import { SQL } from './sql.js';

const BATCH = 500;
/** A body upload whose message never came (the node died mid-DATA) is removed after this long. */
export const ABANDONED_UPLOAD_MS = 86_400_000;

/** Runs `work` under the maintenance lock; null when another node holds it. */
async function asMaintainer<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T | null> {
  return transaction(pool, async (client) => {
    const { rows } = await client.query<{ locked: boolean }>(SQL.tryMaintenanceLock, [LOCKS.class, LOCKS.maintenance]);
    return rows[0]?.locked ? work(client) : null;
  });
}

export async function expire(pool: pg.Pool, now: number, reason: (lastError: string | null) => string): Promise<string[]> {
  const expired: string[] = [];
  for (;;) {
    const batch = await asMaintainer(pool, async (client) => {
      const { rows } = await client.query<{ id: string; last_error: string | null }>(SQL.selectExpired, [now, BATCH]);
      if (!rows.length) return [];
      const ids = rows.map((r) => r.id);
      const reasons = rows.map((r) => reason(r.last_error));
      await client.query(SQL.expireRecipients, [now, ids, reasons]);
      await client.query(SQL.expireMessages, [now, ids, reasons]);
      return ids;
    });
    if (!batch) return expired;
    expired.push(...batch);
    if (batch.length < BATCH) return expired;
  }
}

export async function purge(pool: pg.Pool, before: number, now: number): Promise<number> {
  let purged = 0;
  for (;;) {
    const count = await asMaintainer(pool, async (client) => {
      const { rows } = await client.query<{ n: number }>(SQL.purgeMessages, [before, BATCH]);
      const n = rows[0]?.n ?? 0;
      if (n < BATCH) {
        // The rest of the housekeeping, once the messages are done.
        await client.query(SQL.purgeSends, [before]);
        await client.query(SQL.purgeNodes, [before]);
        await client.query(SQL.purgeConnections);
        await client.query(SQL.purgeWaits, [before]);
        await client.query(SQL.purgeSignInFailures, [before]);
        await client.query(SQL.purgeSignInTrust, [before]);
        await client.query(SQL.purgeAccessTokens, [before]);
        await client.query(SQL.purgeUploads, [now - ABANDONED_UPLOAD_MS]);
      }
      return n;
    });
    if (count === null) return purged;
    purged += count;
    if (count < BATCH) return purged;
  }
}
