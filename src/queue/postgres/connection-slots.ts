/**
 * The connections each mailbox has open, as slots in PostgreSQL shared by every node: a
 * node takes a free slot under a transaction advisory lock on the mailbox (two nodes can
 * never both take the last one) before it opens a connection, and gives it back when it
 * closes it. A slot held by a node whose heartbeat stopped is free again.
 */
import type pg from 'pg';
import type { ConnectionInUse } from '../store.js';
import { freeSlot, toConnection, type ConnectionRow } from '../connection-slots.js';
import { LOCKS, transaction } from './connection.js';

const SQL = {
  lock: `SELECT pg_advisory_xact_lock($1, hashtext('connections:' || $2))`,
  inUse: `SELECT node, slot, taken_at FROM mailbox_connections c
    WHERE key = $1 AND EXISTS (SELECT 1 FROM nodes n WHERE n.name = c.node AND n.stopped_at IS NULL AND n.heartbeat_at >= $2) ORDER BY slot`,
  take: `INSERT INTO mailbox_connections (key, slot, node, taken_at) VALUES ($1, $2, $3, $4)
    ON CONFLICT (key, slot) DO UPDATE SET node = EXCLUDED.node, taken_at = EXCLUDED.taken_at`,
  release: `DELETE FROM mailbox_connections WHERE key = $1 AND slot = $2 AND node = $3`,
  releaseNode: `DELETE FROM mailbox_connections WHERE node = $1`,
  want: `INSERT INTO mailbox_waits (key, node, at) VALUES ($1, $2, $3) ON CONFLICT (key, node) DO UPDATE SET at = EXCLUDED.at`,
  wanted: `SELECT count(*)::int AS n FROM mailbox_waits WHERE key = $1 AND node <> $2 AND at >= $3`,
} as const;

export class PostgresConnectionSlots {
  constructor(private readonly pool: pg.Pool) {}

  take(key: string, node: string, limit: number, now: number, aliveSince: number): Promise<number | null> {
    return transaction(this.pool, async (client) => {
      await client.query({ name: 'lock-connections', text: SQL.lock, values: [LOCKS.class, key] });
      const { rows } = await client.query<ConnectionRow>({ name: 'connections-in-use', text: SQL.inUse, values: [key, aliveSince] });
      const slot = freeSlot(rows, limit);
      if (slot !== null) await client.query({ name: 'take-connection', text: SQL.take, values: [key, slot, node, now] });
      return slot;
    });
  }

  async release(key: string, slot: number, node: string): Promise<void> {
    await this.pool.query({ name: 'release-connection', text: SQL.release, values: [key, slot, node] });
  }

  async releaseNode(node: string): Promise<void> {
    await this.pool.query(SQL.releaseNode, [node]);
  }

  async want(key: string, node: string, now: number): Promise<void> {
    await this.pool.query({ name: 'want-connection', text: SQL.want, values: [key, node, now] });
  }

  async wanted(key: string, node: string, since: number): Promise<number> {
    const { rows } = await this.pool.query<{ n: number }>({ name: 'connection-wanted', text: SQL.wanted, values: [key, node, since] });
    return rows[0]?.n ?? 0;
  }

  async inUse(key: string, aliveSince: number): Promise<ConnectionInUse[]> {
    const { rows } = await this.pool.query<ConnectionRow>({ name: 'connections-in-use', text: SQL.inUse, values: [key, aliveSince] });
    return rows.map(toConnection);
  }
}
