/**
 * msal-node's token cache for one route, kept in relay365's store (msal-node's ICachePlugin):
 * every node sharing the store signs in with the same refresh token, and the refresh token
 * Entra ID rotates on each use is written back at once.
 *
 * - Sealed: the cache (accounts, refresh and access tokens) is encrypted with the master key
 *   (AES-256-GCM, bound to the route's name) before the store sees it.
 * - No lost tokens: the store's version is read before msal-node uses the cache and checked when
 *   the cache is written (compare-and-set). When another node wrote first, its cache is newer —
 *   it holds the refresh token Entra ID issued last — and this write is dropped, not forced.
 * - A sign-in starts from an empty cache and replaces whatever was stored: the new account wins.
 */
import type { ICachePlugin, TokenCacheContext } from '@azure/msal-node';
import type { Logger } from 'pino';
import type { MasterKey } from '../config/master-key.js';
import type { Store, StoredTokenCache } from '../queue/store.js';
import { TokenError } from './token.js';

/** What of the store the token caches need (the PostgreSQL store implements the same). */
export type TokenCacheStore = Pick<Store, 'loadTokenCache' | 'saveTokenCache' | 'deleteTokenCache'>;

export type SignInFlow = 'browser' | 'device-code';

/** What is sealed: msal-node's serialized cache and what relay365 knows about the sign-in. */
export interface SignInRecord {
  v: 1;
  /** msal-node's cache as it serializes it (JSON text). */
  msal: string;
  signedInAt: number;
  flow: SignInFlow;
}

const EMPTY_MSAL_CACHE = JSON.stringify({ Account: {}, IdToken: {}, AccessToken: {}, RefreshToken: {}, AppMetadata: {} });
const purpose = (route: string) => `relay365 token cache of route ${route}`;

export function sealSignIn(key: MasterKey, route: string, record: SignInRecord): string {
  return key.box.seal(JSON.stringify(record), purpose(route));
}

/** The sign-in in a stored row, or why it cannot be read (a TokenError the route's diagnosis explains). */
export function openSignIn(key: MasterKey, row: StoredTokenCache): SignInRecord {
  const opened = key.box.open(row.data, purpose(row.route));
  if (opened.ok) {
    try {
      const record = JSON.parse(opened.plaintext.toString('utf8')) as SignInRecord;
      if (record.v === 1 && typeof record.msal === 'string') return record;
    } catch {
      // Falls through to "damaged": it authenticated but is not ours to read.
    }
  }
  const why =
    !opened.ok && opened.reason === 'other-key'
      ? `the route's sign-in in the store was sealed with another master key (key id ${opened.keyId}); this node's key, from ${key.source}, has key id ${key.keyId}. Every node sharing the store needs the same master key`
      : `the route's sign-in in the store cannot be read with the master key from ${key.source} (key id ${key.keyId}): it is damaged`;
  throw new TokenError(why, null, 'token_cache_unreadable', null);
}

export interface RouteTokenCacheOptions {
  route: string;
  store: TokenCacheStore;
  key: MasterKey;
  log: Logger;
  now: () => number;
  /** A sign-in: start empty and replace what is stored, whatever its version. */
  signIn?: { flow: SignInFlow };
}

export class RouteTokenCache implements ICachePlugin {
  /** The store version the in-memory cache matches; null when nothing is stored, -1 when unknown. */
  private version: number | null = -1;
  private record: Omit<SignInRecord, 'msal'> | null = null;

  constructor(private readonly options: RouteTokenCacheOptions) {}

  /** The version last read or written (for "did another node write since?"). */
  get seenVersion(): number | null {
    return this.version;
  }

  /** The version in the store now (null: none), without reading the cache itself. */
  async storedVersion(): Promise<number | null> {
    return (await this.options.store.loadTokenCache(this.options.route))?.version ?? null;
  }

  /** Makes the next cache access read the store again. */
  forget(): void {
    this.version = -1;
  }

  async beforeCacheAccess(context: TokenCacheContext): Promise<void> {
    if (this.options.signIn) return;
    const row = await this.options.store.loadTokenCache(this.options.route);
    if (!row) {
      context.tokenCache.deserialize(EMPTY_MSAL_CACHE);
      this.version = null;
      this.record = null;
      return;
    }
    // Always handed over, even when the version is the one msal-node last saw: msal-node rebuilds
    // its memory from the last text it was given (overwriteCache) before every silent lookup.
    const { msal, ...rest } = openSignIn(this.options.key, row);
    context.tokenCache.deserialize(msal);
    this.version = row.version;
    this.record = rest;
  }

  async afterCacheAccess(context: TokenCacheContext): Promise<void> {
    if (!context.cacheHasChanged) return;
    const { route, store, key, log, now, signIn } = this.options;
    const at = now();
    const meta = signIn ? { v: 1 as const, signedInAt: at, flow: signIn.flow } : (this.record ?? { v: 1 as const, signedInAt: at, flow: 'browser' as const });
    const data = sealSignIn(key, route, { ...meta, msal: context.tokenCache.serialize() });
    if (signIn) {
      this.version = await replace(store, route, data, at);
      this.record = meta;
      log.info({ route, version: this.version }, 'sign-in stored (sealed) in the store');
      return;
    }
    const written = await store.saveTokenCache(route, data, this.version, at);
    if (written === null) {
      // Another node refreshed (or someone signed in) since this cache was read: what is stored is
      // newer than what this write would put there. Keep it; the next access reads it.
      this.version = -1;
      log.info({ route }, 'another node stored newer tokens for the route first: keeping them');
      return;
    }
    this.version = written;
    log.debug({ route, version: written }, 'rotated tokens stored (sealed) in the store');
  }
}

/** Writes a new sign-in over whatever is stored (compare-and-set against the version just read). */
async function replace(store: TokenCacheStore, route: string, data: string, at: number): Promise<number> {
  for (let tries = 0; tries < 10; tries++) {
    const current = await store.loadTokenCache(route);
    const written = await store.saveTokenCache(route, data, current?.version ?? null, at);
    if (written !== null) return written;
  }
  throw new TokenError('the sign-in could not be stored: the route\'s tokens kept changing in the store (other nodes refreshing)', null, 'token_cache_busy', null);
}
