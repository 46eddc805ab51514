/**
 * The console's sessions and API tokens in SQLite. Only hashes are stored (of the session
 * cookie, of the token): whoever reads the database cannot sign in with what is in it.
 */
import type Database from 'better-sqlite3';
import type { AdminSession, ApiToken, NewApiToken } from '../store.js';

export const TOKEN_COLUMNS = 'id, name, owner, role, created_at, expires_at, last_used_at, revoked_at';

const SQL = {
  purgeSessions: `DELETE FROM admin_sessions WHERE expires_at <= ?`,
  insertSession: `INSERT INTO admin_sessions (id, user, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
  session: `SELECT id, user, csrf, created_at, expires_at FROM admin_sessions WHERE id = ? AND expires_at > ?`,
  deleteSession: `DELETE FROM admin_sessions WHERE id = ?`,
  insertToken: `INSERT INTO api_tokens (id, name, hash, owner, role, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
  tokens: `SELECT ${TOKEN_COLUMNS} FROM api_tokens ORDER BY created_at, id`,
  useToken: `UPDATE api_tokens SET last_used_at = CASE WHEN expires_at > ? THEN ? ELSE last_used_at END WHERE hash = ? AND revoked_at IS NULL
    RETURNING ${TOKEN_COLUMNS}`,
  revokeToken: `UPDATE api_tokens SET revoked_at = ? WHERE (id = ? OR name = ?) AND revoked_at IS NULL`,
} as const;

export interface SessionRow {
  id: string;
  user: string;
  csrf: string;
  created_at: number;
  expires_at: number;
}
export interface TokenRow {
  id: string;
  name: string;
  owner: string;
  role: string;
  created_at: number;
  expires_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

export const toSession = (r: SessionRow): AdminSession => ({ id: r.id, user: r.user, csrf: r.csrf, createdAt: r.created_at, expiresAt: r.expires_at });
export const toToken = (r: TokenRow): ApiToken => ({
  id: r.id,
  name: r.name,
  owner: r.owner,
  role: r.role,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  lastUsedAt: r.last_used_at,
  revokedAt: r.revoked_at,
});

export class AdminAuthRows {
  private readonly sql: { [K in keyof typeof SQL]: Database.Statement };

  constructor(private readonly db: Database.Database) {
    this.sql = Object.fromEntries(Object.entries(SQL).map(([k, v]) => [k, db.prepare(v)])) as never;
  }

  createSession(s: AdminSession, now: number): void {
    this.db.transaction(() => {
      this.sql.purgeSessions.run(now);
      this.sql.insertSession.run(s.id, s.user, s.csrf, s.createdAt, s.expiresAt);
    })();
  }

  session(id: string, now: number): AdminSession | null {
    const row = this.sql.session.get(id, now) as SessionRow | undefined;
    return row ? toSession(row) : null;
  }

  deleteSession(id: string): void {
    this.sql.deleteSession.run(id);
  }

  createToken(t: NewApiToken): void {
    this.sql.insertToken.run(t.id, t.name, t.hash, t.owner, t.role, t.createdAt, t.expiresAt);
  }

  tokens(): ApiToken[] {
    return (this.sql.tokens.all() as TokenRow[]).map(toToken);
  }

  useToken(hash: string, now: number): ApiToken | null {
    const row = this.sql.useToken.get(now, now, hash) as TokenRow | undefined;
    return row ? toToken(row) : null;
  }

  revokeToken(idOrName: string, now: number): boolean {
    return this.sql.revokeToken.run(now, idOrName, idOrName).changes > 0;
  }
}
