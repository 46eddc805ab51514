/**
 * Nodes and shared access tokens in SQLite. An embedded store has one relay process, so
 * the nodes table holds one row (the nodes view looks the same for both stores) and the
 * token lock is a promise chain per database file and key in this process: one refresh at
 * a time, the ones that waited find the fresh token.
 */
import type Database from 'better-sqlite3';
import type { CachedAccessToken, NodeInfo, NodeStatus } from '../store.js';

const SQL = {
  heartbeat: `INSERT INTO nodes (name, host, pid, version, started_at, heartbeat_at, stopped_at) VALUES (?, ?, ?, ?, ?, ?, NULL)
    ON CONFLICT (name) DO UPDATE SET host = excluded.host, pid = excluded.pid, version = excluded.version,
      started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, stopped_at = NULL`,
  stopped: `UPDATE nodes SET heartbeat_at = ?, stopped_at = ? WHERE name = ?`,
  list: `SELECT n.*, (SELECT count(*) FROM messages m WHERE m.state = 'sending' AND m.lease_owner = n.name) AS delivering FROM nodes n ORDER BY n.name`,
  purgeNodes: `DELETE FROM nodes WHERE heartbeat_at < ?`,
  token: `SELECT value, expires_at FROM access_tokens WHERE key = ? AND value IS NOT NULL`,
  putToken: `INSERT INTO access_tokens (key, value, expires_at, updated_at) VALUES (?, ?, ?, ?)
    ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at, updated_at = excluded.updated_at`,
  forgetToken: `UPDATE access_tokens SET value = NULL, expires_at = NULL WHERE key = ? AND value = ?`,
  purgeTokens: `DELETE FROM access_tokens WHERE coalesce(expires_at, updated_at) < ?`,
} as const;

const HEARTBEAT_WAIT_MS = 100;

/** Token refreshes in progress, by database file and key (shared by every store on that file in this process). */
const refreshing = new Map<string, Promise<unknown>>();

/** A row of the nodes table with its lease count (the same in both stores). */
export interface NodeRow {
  name: string;
  host: string;
  pid: number;
  version: string;
  started_at: number;
  heartbeat_at: number;
  stopped_at: number | null;
  delivering: number;
}

export const toNodeStatus = (r: NodeRow): NodeStatus => ({
  name: r.name,
  host: r.host,
  pid: r.pid,
  version: r.version,
  startedAt: r.started_at,
  heartbeatAt: r.heartbeat_at,
  stoppedAt: r.stopped_at,
  delivering: r.delivering,
});

export class NodesAndTokens {
  private readonly sql: { [K in keyof typeof SQL]: Database.Statement };
  constructor(private readonly db: Database.Database) {
    this.sql = Object.fromEntries(Object.entries(SQL).map(([k, v]) => [k, db.prepare(v)])) as never;
  }

  /**
   * A heartbeat waits at most HEARTBEAT_WAIT_MS for a database another process has locked (then
   * fails, and the next one comes soon): SQLite waits synchronously, and the relay's event loop
   * must not stall for the store's usual 5 s on something this unimportant.
   */
  heartbeat(node: NodeInfo, now: number): void {
    const timeout = this.db.pragma('busy_timeout', { simple: true }) as number;
    this.db.pragma(`busy_timeout = ${HEARTBEAT_WAIT_MS}`);
    try {
      this.sql.heartbeat.run(node.name, node.host, node.pid, node.version, node.startedAt, now);
    } finally {
      this.db.pragma(`busy_timeout = ${timeout}`);
    }
  }

  stopped(name: string, now: number): void {
    this.sql.stopped.run(now, now, name);
  }

  nodes(): NodeStatus[] {
    return (this.sql.list.all() as NodeRow[]).map(toNodeStatus);
  }

  token(key: string): CachedAccessToken | null {
    const row = this.sql.token.get(key) as { value: string; expires_at: number } | undefined;
    return row ? { value: row.value, expiresAt: row.expires_at } : null;
  }

  refreshToken(key: string, refresh: (cached: CachedAccessToken | null) => Promise<CachedAccessToken>): Promise<CachedAccessToken> {
    const run = async () => {
      const cached = this.token(key);
      const fresh = await refresh(cached);
      if (fresh.value !== cached?.value || fresh.expiresAt !== cached?.expiresAt) this.sql.putToken.run(key, fresh.value, fresh.expiresAt, Date.now());
      return fresh;
    };
    const lock = `${this.db.name}\0${key}`;
    const previous = refreshing.get(lock) ?? Promise.resolve();
    const result = previous.then(run, run);
    const settled = result.catch(() => undefined);
    refreshing.set(lock, settled);
    void settled.then(() => {
      if (refreshing.get(lock) === settled) refreshing.delete(lock);
    });
    return result;
  }

  forgetToken(key: string, value: string): void {
    this.sql.forgetToken.run(key, value);
  }

  purge(before: number): void {
    this.sql.purgeNodes.run(before);
    this.sql.purgeTokens.run(before);
  }
}
