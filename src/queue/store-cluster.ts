/**
 * The store's part for what the nodes of a cluster share besides the queue: tokens (app-only
 * access tokens, delegated sign-ins), the nodes themselves with their heartbeats, and the
 * count of sign-in attempts (SMTP AUTH, the console) that keeps a guesser to the same few tries on every node.
 */

/**
 * How sign-ins (SMTP AUTH, the console) are limited, for all nodes together.
 * - Per client address: `max` attempts that did not succeed within `windowMs` of the first
 *   cool the address down for `coolDownMs` — whatever user it tries.
 * - Per user name: from the `max`-th attempt that did not succeed on, one attempt per
 *   `slowDownMs` — a guesser spread over many addresses gets one try a minute, and nobody can
 *   lock the user out: the slow-down does not apply at an address where the user signed in
 *   within `trustMs`. The count is forgotten after `windowMs` without attempts.
 */
export interface SignInLimits {
  address: { max: number; windowMs: number; coolDownMs: number };
  user: { max: number; windowMs: number; slowDownMs: number };
  trustMs: number;
}

/** One sign-in attempt: the keys it counts against (its client address's, its user name's), and the limits. */
export interface SignInAttempt {
  address: string;
  user: string;
  limits: SignInLimits;
}

/**
 * Whether an attempt may have its password checked. `in-progress`: the address's attempts still
 * being checked already fill its `max`; nothing is locked, it may try again in a moment.
 */
export type SignInAdmission =
  | { admitted: true }
  | { admitted: false; refusal: 'cooling-down' | 'slowed-down'; until: number }
  | { admitted: false; refusal: 'in-progress' };

/**
 * A route's delegated sign-in as the store keeps it: msal-node's token cache (accounts, refresh
 * and access tokens), sealed with the master key by src/credentials before it gets here — the
 * store never sees a token. `version` goes up by one on every write; writers say which version
 * they read, so two nodes refreshing at once cannot overwrite the newer refresh token with an
 * older one (optimistic concurrency, compare-and-set).
 */
export interface StoredTokenCache {
  route: string;
  /** Opaque sealed text (key id + AES-256-GCM); never logged. */
  data: string;
  version: number;
  /** When it was last written: the last sign-in or token refresh. */
  updatedAt: number;
}

/** A relay365 process using the store; several share one PostgreSQL database. */
export interface NodeInfo {
  /** node.name: unique among the nodes sharing a store (leases are held in its name). */
  name: string;
  /** The machine it runs on, and its process id there. */
  host: string;
  pid: number;
  version: string;
  startedAt: number;
}

export interface NodeStatus extends NodeInfo {
  /** Its last heartbeat (queue/heartbeat.ts): a node that stopped beating has died. */
  heartbeatAt: number;
  /** When it shut down cleanly; null while it runs (or if it died). */
  stoppedAt: number | null;
  /** Messages it holds leases on now. */
  delivering: number;
}

/** An app-only access token as the nodes share it: the value is opaque here (credentials/shared-access-tokens.ts seals it with the master key before it gets here). */
export interface CachedAccessToken {
  value: string;
  expiresAt: number;
}

/**
 * App-only access tokens shared by the nodes (credentials/app-token.ts consults it after its
 * own memory): one node asks Entra ID for a token, the others take it from the store. The
 * store never logs a value.
 */
export interface AccessTokenCache {
  /** The token stored under `key`, whatever its expiry; null when there is none. */
  accessToken(key: string): Promise<CachedAccessToken | null>;
  /**
   * Runs `refresh` with `key` locked against every other node and the token stored now, and
   * stores what it returns. A node that waited for the lock finds the token the first one
   * fetched, and `refresh` returns it unchanged instead of asking Entra ID again.
   */
  refreshAccessToken(key: string, refresh: (cached: CachedAccessToken | null) => Promise<CachedAccessToken>): Promise<CachedAccessToken>;
  /** Forgets the token if it is still `value` (the upstream refused it). */
  forgetAccessToken(key: string, value: string): Promise<void>;
}

export interface ClusterStore extends AccessTokenCache {
  /** The route's sealed token cache, or null when nobody signed in for it (or after signing out). */
  loadTokenCache(route: string): Promise<StoredTokenCache | null>;
  /**
   * Writes the route's sealed token cache if the stored version is still `expectedVersion` (null:
   * only if there is none yet), as one atomic compare-and-set. Returns the new version, or null
   * when another writer got there first: the caller then keeps what is stored, which is newer.
   */
  saveTokenCache(route: string, data: string, expectedVersion: number | null, now: number): Promise<number | null>;
  /** Forgets the route's sign-in (`relay365 auth logout`). */
  deleteTokenCache(route: string): Promise<void>;

  /**
   * Nodes: every running relay beats into the store every few seconds (queue/heartbeat.ts),
   * so any node and the CLI can show the whole cluster, and a node can refuse to start under
   * the name of one that is alive (it would take that node's leases for its own).
   */
  heartbeat(node: NodeInfo, now: number): Promise<void>;
  /** The node shut down cleanly. */
  nodeStopped(name: string, now: number): Promise<void>;
  /** Every node that used the store within store.retention, by name. */
  nodes(): Promise<NodeStatus[]>;

  /**
   * Counts a sign-in attempt BEFORE its password is checked, in one transaction with the checks
   * of the address's cool-down and the user's slow-down: attempts racing each other (on one
   * node or several) can never get more checks than the limits allow. A refused attempt
   * counts nothing. Every admitted attempt ends in signInFailed or signInSucceeded.
   */
  signInAttempt(attempt: SignInAttempt, now: number): Promise<SignInAdmission>;
  /** The admitted attempt's password was wrong: its count stays; when it starts the address's cool-down (or one runs), until when. */
  signInFailed(attempt: SignInAttempt, now: number): Promise<number | null>;
  /**
   * The password was right: the user's count is forgotten, the address gets back the one this
   * attempt took (its other failures stay: one app's password does not buy guesses at
   * another's), and the address is trusted for the user for `limits.trustMs`.
   */
  signInSucceeded(attempt: SignInAttempt, now: number): Promise<void>;
}
