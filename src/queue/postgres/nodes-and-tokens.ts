/**
 * What the nodes share besides the queue: who they are (a heartbeat row each, so any node
 * shows the whole cluster), the app-only access tokens one node fetches for all, and the
 * delegated sign-ins' sealed token caches. An access token is refreshed under a row lock:
 * the first node to find it stale asks Entra ID while the others wait on the lock, then
 * find the new token and use it.
 */
import type pg from 'pg';
import type { CachedAccessToken, NodeInfo, NodeStatus, StoredTokenCache } from '../store.js';
import { toNodeStatus, type NodeRow } from '../sqlite/nodes-and-tokens.js';
import { transaction } from './connection.js';
import { SQL } from './sql.js';

export class PostgresNodes {
  constructor(private readonly pool: pg.Pool) {}

  async heartbeat(node: NodeInfo, now: number): Promise<void> {
    await this.pool.query({ name: 'heartbeat', text: SQL.heartbeat, values: [node.name, node.host, node.pid, node.version, node.startedAt, now] });
  }

  async stopped(name: string, now: number): Promise<void> {
    await this.pool.query(SQL.nodeStopped, [name, now]);
  }

  async list(): Promise<NodeStatus[]> {
    return (await this.pool.query<NodeRow>(SQL.nodes)).rows.map(toNodeStatus);
  }
}

type TokenRow = { value: string | null; expires_at: number | null };
const toToken = (row: TokenRow | undefined): CachedAccessToken | null =>
  row?.value != null && row.expires_at != null ? { value: row.value, expiresAt: row.expires_at } : null;

export class PostgresTokens {
  constructor(private readonly pool: pg.Pool) {}

  async accessToken(key: string): Promise<CachedAccessToken | null> {
    return toToken((await this.pool.query<TokenRow>(SQL.accessToken, [key])).rows[0]);
  }

  refreshAccessToken(key: string, refresh: (cached: CachedAccessToken | null) => Promise<CachedAccessToken>): Promise<CachedAccessToken> {
    return transaction(this.pool, async (client) => {
      // The row must exist to be locked; the first node ever to ask creates it.
      await client.query(SQL.ensureAccessToken, [key, Date.now()]);
      const cached = toToken((await client.query<TokenRow>(SQL.lockAccessToken, [key])).rows[0]);
      const fresh = await refresh(cached);
      if (fresh.value !== cached?.value || fresh.expiresAt !== cached?.expiresAt) {
        await client.query(SQL.putAccessToken, [key, fresh.value, fresh.expiresAt, Date.now()]);
      }
      return fresh;
    });
  }

  async forgetAccessToken(key: string, value: string): Promise<void> {
    await this.pool.query(SQL.forgetAccessToken, [key, value]);
  }

  async loadTokenCache(route: string): Promise<StoredTokenCache | null> {
    const { rows } = await this.pool.query<{ route: string; data: string; version: number; updated_at: number }>(SQL.loadTokenCache, [route]);
    const row = rows[0];
    return row ? { route: row.route, data: row.data, version: row.version, updatedAt: row.updated_at } : null;
  }

  async saveTokenCache(route: string, data: string, expectedVersion: number | null, now: number): Promise<number | null> {
    const { rows } =
      expectedVersion === null
        ? await this.pool.query<{ version: number }>(SQL.insertTokenCache, [route, data, now])
        : await this.pool.query<{ version: number }>(SQL.updateTokenCache, [data, now, route, expectedVersion]);
    return rows[0]?.version ?? null;
  }

  async deleteTokenCache(route: string): Promise<void> {
    await this.pool.query(SQL.deleteTokenCache, [route]);
  }
}
