/**
 * The connections each mailbox has open, as slots in the store: a node takes a free slot
 * before it opens a connection and gives it back when it closes it, so every node sharing
 * the store counts against the same "3 connections per mailbox". A slot held by a node
 * whose heartbeat stopped is free again, like the leases of its messages.
 */
import type Database from 'better-sqlite3';
import { freeSlot, toConnection, type ConnectionRow } from '../connection-slots.js';
import type { ConnectionInUse } from '../store.js';

/** A slot counts while its node is running: not stopped, and heard from since `aliveSince`. */
const HOLDER_ALIVE = `EXISTS (SELECT 1 FROM nodes n WHERE n.name = c.node AND n.stopped_at IS NULL AND n.heartbeat_at >= @aliveSince)`;

const SQL = {
  inUse: `SELECT node, slot, taken_at FROM mailbox_connections c WHERE key = @key AND ${HOLDER_ALIVE} ORDER BY slot`,
  take: `INSERT INTO mailbox_connections (key, slot, node, taken_at) VALUES (@key, @slot, @node, @now)
    ON CONFLICT (key, slot) DO UPDATE SET node = excluded.node, taken_at = excluded.taken_at`,
  release: `DELETE FROM mailbox_connections WHERE key = ? AND slot = ? AND node = ?`,
  releaseNode: `DELETE FROM mailbox_connections WHERE node = ?`,
  want: `INSERT INTO mailbox_waits (key, node, at) VALUES (?, ?, ?) ON CONFLICT (key, node) DO UPDATE SET at = excluded.at`,
  wanted: `SELECT count(*) AS n FROM mailbox_waits WHERE key = ? AND node <> ? AND at >= ?`,
  /** Slots of nodes gone from the nodes table (they count for nobody already), and old wishes. */
  purge: `DELETE FROM mailbox_connections WHERE node NOT IN (SELECT name FROM nodes)`,
  purgeWaits: `DELETE FROM mailbox_waits WHERE at < ?`,
} as const;

export class ConnectionSlots {
  private readonly sql: { [K in keyof typeof SQL]: Database.Statement };

  constructor(private readonly db: Database.Database) {
    this.sql = Object.fromEntries(Object.entries(SQL).map(([k, v]) => [k, db.prepare(v)])) as never;
  }

  take(key: string, node: string, limit: number, now: number, aliveSince: number): number | null {
    return this.db.transaction(() => {
      const slot = freeSlot(this.sql.inUse.all({ key, aliveSince }) as ConnectionRow[], limit);
      if (slot !== null) this.sql.take.run({ key, slot, node, now });
      return slot;
    }).immediate();
  }

  release(key: string, slot: number, node: string): void {
    this.sql.release.run(key, slot, node);
  }

  releaseNode(node: string): void {
    this.sql.releaseNode.run(node);
  }

  want(key: string, node: string, now: number): void {
    this.sql.want.run(key, node, now);
  }

  wanted(key: string, node: string, since: number): number {
    return (this.sql.wanted.get(key, node, since) as { n: number }).n;
  }

  purge(before: number): void {
    this.sql.purge.run();
    this.sql.purgeWaits.run(before);
  }

  inUse(key: string, aliveSince: number): ConnectionInUse[] {
    return (this.sql.inUse.all({ key, aliveSince }) as ConnectionRow[]).map(toConnection);
  }
}
