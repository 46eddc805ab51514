/**
 * Delegated sign-ins in SQLite: one sealed msal-node token cache per route, with a version
 * that every write checks and bumps in one statement (compare-and-set). A node that refreshed
 * with an older refresh token than the one stored finds its write refused and keeps the stored,
 * newer one; nothing is ever overwritten blindly.
 */
import type Database from 'better-sqlite3';
import type { StoredTokenCache } from '../store.js';

const SQL = {
  load: `SELECT route, data, version, updated_at FROM token_caches WHERE route = ?`,
  insert: `INSERT INTO token_caches (route, data, version, updated_at) VALUES (?, ?, 1, ?) ON CONFLICT (route) DO NOTHING`,
  update: `UPDATE token_caches SET data = ?, version = version + 1, updated_at = ? WHERE route = ? AND version = ? RETURNING version`,
  remove: `DELETE FROM token_caches WHERE route = ?`,
} as const;

export class TokenCaches {
  private readonly sql: { [K in keyof typeof SQL]: Database.Statement };

  constructor(db: Database.Database) {
    this.sql = Object.fromEntries(Object.entries(SQL).map(([k, v]) => [k, db.prepare(v)])) as never;
  }

  load(route: string): StoredTokenCache | null {
    const row = this.sql.load.get(route) as { route: string; data: string; version: number; updated_at: number } | undefined;
    return row ? { route: row.route, data: row.data, version: row.version, updatedAt: row.updated_at } : null;
  }

  save(route: string, data: string, expectedVersion: number | null, now: number): number | null {
    if (expectedVersion === null) return this.sql.insert.run(route, data, now).changes > 0 ? 1 : null;
    const row = this.sql.update.get(data, now, route, expectedVersion) as { version: number } | undefined;
    return row?.version ?? null;
  }

  remove(route: string): void {
    this.sql.remove.run(route);
  }
}
