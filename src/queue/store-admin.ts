/**
 * The store's part for the admin server (src/admin/: console sessions, API tokens) and the
 * edges around the queue (the HTTP API's Idempotency-Keys, the admin notifications' slots),
 * kept in the store so that every node of a cluster sees the same.
 */

/**
 * A signed-in console user's session. The store keeps only the SHA-256 of the cookie's value,
 * so any node of a cluster accepts the cookie and a copy of the database does not sign anyone in.
 */
export interface AdminSession {
  /** SHA-256 (hex) of the session cookie's value. */
  id: string;
  user: string;
  /** The CSRF token every state-changing request of the session must carry (a synchronizer token). */
  csrf: string;
  createdAt: number;
  expiresAt: number;
}

/** An API token for automation (`Authorization: Bearer`); the store keeps its SHA-256, never the token. */
export interface ApiToken {
  id: string;
  name: string;
  /**
   * Who made it: a console user (it works only while that user is in admin.users, and never
   * above that user's role), or `cli:<os user>` for `relay365 admin token create` without --owner.
   */
  owner: string;
  /** `admin` or `read-only` (config/admin.ts ROLES). */
  role: string;
  createdAt: number;
  /** Refused from this time on. */
  expiresAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

export type NewApiToken = Omit<ApiToken, 'lastUsedAt' | 'revokedAt'> & { hash: string };

export interface AdminStore {
  /** Console sessions (admin/auth.ts): created at login, looked up by the hash of the cookie. */
  createAdminSession(session: AdminSession, now: number): Promise<void>;
  /** The session, if it exists and has not expired at `now`. */
  adminSession(id: string, now: number): Promise<AdminSession | null>;
  deleteAdminSession(id: string): Promise<void>;
  /** API tokens: `hash` is the SHA-256 (hex) of the token, the only form the store ever sees. */
  createApiToken(token: NewApiToken): Promise<void>;
  apiTokens(): Promise<ApiToken[]>;
  /**
   * The unrevoked token with this hash, or null. Its last use is noted only while it has not
   * expired at `now`; an expired one is still returned, so that the caller can say so.
   */
  useApiToken(hash: string, now: number): Promise<ApiToken | null>;
  /** Revokes by id or name; false when there is no such unrevoked token. */
  revokeApiToken(idOrName: string, now: number): Promise<boolean>;

  /**
   * Idempotency-Key of the HTTP submission API (ingress/http/idempotency.ts): the first request
   * with a key claims it, naming the message id it will commit under; a retry finds the claim
   * (with the first answer once settled) instead of creating a second message. Expired keys
   * are forgotten here too.
   */
  claimIdempotencyKey(request: IdempotencyRequest): Promise<IdempotencyClaim>;
  /** The answer the claimant gave, for every retry until the key expires. */
  settleIdempotencyKey(key: string, answer: IdempotentAnswer): Promise<void>;
  /** Forgets an unsettled claim whose request committed nothing, so that a retry may try again. */
  releaseIdempotencyKey(key: string): Promise<void>;

  /**
   * Takes the slot of an admin notification (notify/admin-notifications.ts): true, and `now`
   * recorded, when no node has taken `key` within `intervalMs` before `now`; false otherwise.
   * One statement, so two nodes asking at once cannot both get it.
   */
  takeNotificationSlot(key: string, now: number, intervalMs: number): Promise<boolean>;
}

export interface IdempotencyRequest {
  key: string;
  /** What the request asked for (a digest): a retry with the same key must ask the same. */
  fingerprint: string;
  /** The id the message will be committed under, so a claim left by a crash can be checked. */
  messageId: string;
  now: number;
  expiresAt: number;
}

export interface IdempotentAnswer {
  status: number;
  body: string;
}

export type IdempotencyClaim =
  | { claimed: true }
  | { claimed: false; fingerprint: string; messageId: string; since: number; answer: IdempotentAnswer | null };
