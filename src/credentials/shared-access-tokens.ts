/**
 * App-only access tokens as the nodes share them in the store: sealed with the master key
 * (AES-256-GCM, bound to the token's key in the cache), like the delegated sign-ins, so the
 * store's tables and backups never hold a token anyone could send with.
 *
 * A stored value this node cannot open counts as no token at all: sealed with another master
 * key (a node set up with a key of its own), damaged, or written in clear by a relay365 before
 * tokens were sealed. The node then fetches a token from Entra ID and stores it sealed with its
 * own key, as if nothing were stored; no migration is needed for the clear rows.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { MasterKey } from '../config/master-key.js';
import { ConfigError } from '../config/problems.js';
import type { AccessTokenCache, CachedAccessToken } from '../queue/store.js';
import { isDelegated } from './delegated-client.js';
import { signInKey } from './sign-in-store.js';

/** The store the nodes share tokens through, and the key every node seals them with. */
export interface SharedAccessTokens {
  store: AccessTokenCache;
  key: MasterKey;
}

const purpose = (key: string) => `relay365 access token ${key}`;

/** Why a stored token was not used (for one warning per provider, not one per ask). */
export type Unreadable = { reason: 'other-key'; keyId: string } | { reason: 'damaged' };

/** The AccessTokenCache an app-token provider uses: plain tokens on its side, sealed ones in the store. */
export class SealedAccessTokens implements AccessTokenCache {
  constructor(
    private readonly shared: SharedAccessTokens,
    private readonly onUnreadable: (why: Unreadable) => void = () => undefined,
  ) {}

  async accessToken(key: string): Promise<CachedAccessToken | null> {
    return this.open(key, await this.shared.store.accessToken(key));
  }

  async refreshAccessToken(key: string, refresh: (cached: CachedAccessToken | null) => Promise<CachedAccessToken>): Promise<CachedAccessToken> {
    let plain: CachedAccessToken | undefined;
    await this.shared.store.refreshAccessToken(key, async (stored) => {
      const current = this.open(key, stored);
      plain = await refresh(current);
      // Handing back what is stored when nothing changed: the store then writes nothing.
      if (stored && current && plain.value === current.value && plain.expiresAt === current.expiresAt) return stored;
      return { value: this.shared.key.box.seal(plain.value, purpose(key)), expiresAt: plain.expiresAt };
    });
    return plain as CachedAccessToken;
  }

  /** Forgets the stored token if it is still `value`: compared opened, forgotten by its sealed form. */
  async forgetAccessToken(key: string, value: string): Promise<void> {
    const stored = await this.shared.store.accessToken(key);
    if (stored && this.open(key, stored)?.value === value) await this.shared.store.forgetAccessToken(key, stored.value);
  }

  private open(key: string, stored: CachedAccessToken | null): CachedAccessToken | null {
    if (!stored) return null;
    const opened = this.shared.key.box.open(stored.value, purpose(key));
    if (opened.ok) return { value: opened.plaintext.toString('utf8'), expiresAt: stored.expiresAt };
    this.onUnreadable(opened.reason === 'other-key' ? { reason: 'other-key', keyId: opened.keyId } : { reason: 'damaged' });
    return null;
  }
}

/** Whether the config has a route that fetches app-only tokens (graph or smtp-oauth, not delegated). */
export function hasAppOnlyRoutes(config: Pick<Config, 'routes'>): boolean {
  return Object.values(config.routes).some((route) => (route.transport === 'graph' || route.transport === 'smtp-oauth') && !isDelegated(route));
}

/**
 * The shared tokens for a relay with app-only routes: its store and the master key (the one the
 * delegated sign-ins use, created when there is none). Without a key to be had, tokens are not
 * shared (each node asks Entra ID for its own), said once at start-up: never stored in clear.
 */
export function openSharedAccessTokens(config: Pick<Config, 'routes' | 'secrets'>, store: AccessTokenCache, log: Logger, key?: MasterKey, env: NodeJS.ProcessEnv = process.env): SharedAccessTokens | undefined {
  if (!hasAppOnlyRoutes(config)) return undefined;
  try {
    return { store, key: key ?? signInKey(config, env, log) };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    log.warn({ problems: err.problems }, 'no master key for sealing access tokens in the store: each node asks Entra ID for its own tokens (set RELAY365_MASTER_KEY or make secrets.keyFile writable to share them)');
    return undefined;
  }
}
