/**
 * The console's sessions and API tokens in PostgreSQL, shared by every node: a cookie one node
 * issued is accepted by the others. Only hashes are stored, as in SQLite (sqlite/admin-auth.ts).
 */
import type pg from 'pg';
import type { AdminSession, ApiToken, NewApiToken } from '../store.js';
import { TOKEN_COLUMNS, toSession, toToken, type SessionRow, type TokenRow } from '../sqlite/admin-auth.js';

const SQL = {
  purgeSessions: `DELETE FROM admin_sessions WHERE expires_at <= $1`,
  insertSession: `INSERT INTO admin_sessions (id, "user", csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
  session: `SELECT id, "user", csrf, created_at, expires_at FROM admin_sessions WHERE id = $1 AND expires_at > $2`,
  deleteSession: `DELETE FROM admin_sessions WHERE id = $1`,
  insertToken: `INSERT INTO api_tokens (id, name, hash, owner, role, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
  tokens: `SELECT ${TOKEN_COLUMNS} FROM api_tokens ORDER BY created_at, id`,
  useToken: `UPDATE api_tokens SET last_used_at = CASE WHEN expires_at > $1 THEN $1 ELSE last_used_at END WHERE hash = $2 AND revoked_at IS NULL
    RETURNING ${TOKEN_COLUMNS}`,
  revokeToken: `UPDATE api_tokens SET revoked_at = $1 WHERE (id = $2 OR name = $2) AND revoked_at IS NULL`,
} as const;

export class PostgresAdminAuth {
  constructor(private readonly pool: pg.Pool) {}

  async createSession(s: AdminSession, now: number): Promise<void> {
    await this.pool.query(SQL.purgeSessions, [now]);
    await this.pool.query(SQL.insertSession, [s.id, s.user, s.csrf, s.createdAt, s.expiresAt]);
  }

  async session(id: string, now: number): Promise<AdminSession | null> {
    const row = (await this.pool.query<SessionRow>(SQL.session, [id, now])).rows[0];
    return row ? toSession(row) : null;
  }

  async deleteSession(id: string): Promise<void> {
    await this.pool.query(SQL.deleteSession, [id]);
  }

  async createToken(t: NewApiToken): Promise<void> {
    await this.pool.query(SQL.insertToken, [t.id, t.name, t.hash, t.owner, t.role, t.createdAt, t.expiresAt]);
  }

  async tokens(): Promise<ApiToken[]> {
    return (await this.pool.query<TokenRow>(SQL.tokens)).rows.map(toToken);
  }

  async useToken(hash: string, now: number): Promise<ApiToken | null> {
    const row = (await this.pool.query<TokenRow>(SQL.useToken, [now, hash])).rows[0];
    return row ? toToken(row) : null;
  }

  async revokeToken(idOrName: string, now: number): Promise<boolean> {
    return ((await this.pool.query(SQL.revokeToken, [now, idOrName])).rowCount ?? 0) > 0;
  }
}
