/**
 * Delegated access tokens for one route: the user who signed in (`relay365 auth login`) sends,
 * through msal-node's silent flow with the refresh token kept in the store (token-cache.ts).
 *
 * - Cached until `graceTime` before expiry, single flight, Entra ID's Retry-After kept — as the
 *   app-only provider does (app-token.ts).
 * - Two nodes refreshing at once: Entra ID may refuse the second use of a refresh token another
 *   node has just redeemed (strict rotation, invalid_grant). Before such a refusal counts, the
 *   store is read again for a while; when another node has stored newer tokens meanwhile, they
 *   are used and nothing is wrong.
 * - No sign-in, an expired or revoked refresh token, Conditional Access or MFA: TokenErrors that
 *   classify-token.ts turns into a held route with "sign in again" and the command.
 */
import type { AccountInfo, AuthenticationResult } from '@azure/msal-node';
import type { Logger } from 'pino';
import { maskSecret } from '../config/secrets.js';
import { metrics } from '../admin/metrics.js';
import { DEFAULT_GRACE_MS } from './app-token.js';
import { delegatedClient, signInCommand, type DelegatedClient, type DelegatedCredential, type DelegatedDeps, type DelegatedRoute } from './delegated-client.js';
import { entraEndpoints, type EntraEndpoints } from './entra-endpoints.js';
import { ExpiryWatch } from './expiry.js';
import { delegatedScopes } from './scopes.js';
import { RouteTokenCache } from './token-cache.js';
import { toTokenError } from './token-errors.js';
import { TokenError, type AccessToken, type TokenProvider } from './token.js';

export interface DelegatedTokenProvider extends TokenProvider {
  readonly flow: 'delegated';
  readonly endpoints: EntraEndpoints;
  readonly scopes: readonly string[];
  readonly credential: DelegatedCredential;
  close(): void;
}

/** How long a refused refresh waits for another node's newer tokens to appear in the store. */
const NEWER_TOKENS_WAIT_MS = 3000;
const NEWER_TOKENS_POLL_MS = 100;
const MSAL_DEFAULT_THROTTLE_S = 60;
const THROTTLE_MARGIN_MS = 500;

export function createDelegatedTokenProvider(route: DelegatedRoute, deps: DelegatedDeps): DelegatedTokenProvider {
  return new DelegatedTokens(route, deps);
}

class DelegatedTokens implements DelegatedTokenProvider {
  readonly flow = 'delegated' as const;
  readonly endpoints: EntraEndpoints;
  readonly scopes: readonly string[];
  readonly credential: DelegatedCredential;
  private readonly client: DelegatedClient | null;
  private readonly setupError: TokenError | null;
  private readonly cache: RouteTokenCache;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly grace: number;
  private cached: AccessToken | null = null;
  private inflight: Promise<AccessToken> | null = null;
  private forceRefresh = false;
  private throttled: { until: number; error: TokenError } | null = null;
  private readonly expiry: ExpiryWatch;

  constructor(
    private readonly route: DelegatedRoute,
    deps: DelegatedDeps,
  ) {
    this.now = deps.now ?? Date.now;
    this.grace = route.credentials.graceTime ?? DEFAULT_GRACE_MS;
    this.log = deps.log.child({ tenant: route.credentials.tenant, appId: route.credentials.clientId, flow: 'delegated' });
    this.cache = new RouteTokenCache({ route: route.name, store: deps.store, key: deps.key, log: this.log, now: this.now });
    let client: DelegatedClient | null = null;
    let setupError: TokenError | null = null;
    try {
      client = delegatedClient(route, this.cache, this.log);
    } catch (e) {
      setupError = e instanceof TokenError ? e : new TokenError(String((e as Error).message), null, 'client_error', null);
    }
    this.client = client;
    this.setupError = setupError;
    // Without a client (an unusable certificate) the route still reports its endpoints, for the fix.
    this.endpoints = client?.endpoints ?? entraEndpoints(route.credentials);
    this.scopes = client?.scopes ?? delegatedScopes(route.transport, route.credentials, route.endpoint);
    this.credential = client?.credential ?? { kind: 'certificate', shown: route.credentials.certificate?.cert ?? '' };
    if (client) this.log.info({ authority: client.endpoints.authority, scopes: this.scopes, credential: this.credential.kind, shown: this.credential.shown }, 'delegated credentials ready: tokens of the signed-in user, kept in the store');
    else this.log.error({ problem: setupError?.message }, 'the route cannot get tokens as configured');
    this.expiry = new ExpiryWatch(route.name, route.credentials, this.log, this.now).start();
  }

  getToken(): Promise<AccessToken> {
    const now = this.now();
    if (!this.forceRefresh && this.cached && this.cached.expiresAt - this.grace > now) return Promise.resolve(this.cached);
    if (!this.client) return Promise.reject(this.setupError);
    if (this.throttled && this.throttled.until > now) return Promise.reject(this.stillThrottled(now));
    this.inflight ??= this.request(this.client).finally(() => {
      this.inflight = null;
    });
    return this.inflight;
  }

  invalidate(token?: string): void {
    if (token !== undefined && this.cached?.token !== token) return;
    this.cached = null;
    // msal-node would hand the same token back from its cache: the upstream refused it, so renew it.
    this.forceRefresh = true;
  }

  close(): void {
    this.expiry.stop();
    this.client?.network.close();
  }

  private async request(client: DelegatedClient): Promise<AccessToken> {
    const started = this.now();
    client.network.forget();
    const force = this.forceRefresh;
    try {
      let result: AuthenticationResult;
      try {
        result = await this.silent(client, force);
      } catch (error) {
        if (!(await this.newerTokensStored(error))) throw error;
        this.log.info({ route: this.route.name }, 'another node refreshed the route\'s tokens at the same time: using the ones it stored');
        result = await this.silent(client, false);
      }
      const expiresAt = result.expiresOn?.getTime() ?? started + 3599_000;
      this.cached = { token: result.accessToken, expiresAt };
      this.forceRefresh = false;
      this.throttled = null;
      this.log.debug({ token: maskSecret(result.accessToken), account: result.account?.username, expiresAt: new Date(expiresAt).toISOString(), fromCache: result.fromCache, ms: this.now() - started }, 'delegated access token ready');
      if (!result.fromCache) metrics.token(this.route.name, true);
      return this.cached;
    } catch (error) {
      const err = toTokenError(error, client.network.lastResponse(), client.endpoints.tokenEndpoint);
      metrics.token(this.route.name, false);
      if (err.status !== null && (err.status === 429 || err.status >= 500)) {
        const seconds = Math.min(err.retryAfterSeconds ?? MSAL_DEFAULT_THROTTLE_S, 3600);
        this.throttled = { until: this.now() + seconds * 1000 + THROTTLE_MARGIN_MS, error: err };
        this.log.warn({ status: err.status, aadsts: err.aadsts, retryAfterSeconds: seconds }, 'Entra ID is unavailable or throttling: not asking again before Retry-After');
        throw this.stillThrottled(this.now());
      }
      this.log.warn({ aadsts: err.aadsts, error: err.error, status: err.status, message: err.message }, 'delegated token request failed');
      throw err;
    }
  }

  /** The signed-in account's token: from the shared cache, or refreshed with its refresh token. */
  private async silent(client: DelegatedClient, forceRefresh: boolean): Promise<AuthenticationResult> {
    const account = await this.account(client);
    const result = await client.msal.acquireTokenSilent({ account, scopes: [...client.scopes], forceRefresh });
    if (!result?.accessToken) throw new TokenError('Entra ID answered without an access token', null, 'no_token', null);
    return result;
  }

  private async account(client: DelegatedClient): Promise<AccountInfo> {
    const accounts = await client.msal.getTokenCache().getAllAccounts();
    const account = accounts[0];
    if (!account) {
      throw new TokenError(`Nobody has signed in for the route "${this.route.name}" yet (flow: delegated needs a user's sign-in: ${signInCommand(this.route.name)})`, null, 'not_signed_in', null);
    }
    return account;
  }

  /**
   * After a refused refresh: did another node store newer tokens meanwhile? A refresh token that
   * was "already used" (AADSTS70000) most likely was, by another node a moment ago: its tokens
   * may still be on their way into the store, so they are waited for a little.
   */
  private async newerTokensStored(error: unknown): Promise<boolean> {
    if (error instanceof TokenError) return false;
    const e = error as { errorCode?: string; errorNo?: string | number; errorMessage?: string };
    if (e.errorCode !== 'invalid_grant' && e.errorCode !== 'no_tokens_found') return false;
    const alreadyUsed = String(e.errorNo ?? '') === '70000' || /AADSTS70000\b/.test(e.errorMessage ?? '');
    const seen = this.cache.seenVersion;
    const deadline = this.now() + (alreadyUsed ? NEWER_TOKENS_WAIT_MS : 0);
    for (;;) {
      const stored = await this.cache.storedVersion().catch(() => seen);
      if (stored !== seen) {
        this.cache.forget();
        return true;
      }
      if (this.now() >= deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, NEWER_TOKENS_POLL_MS));
    }
  }

  private stillThrottled(now: number): TokenError {
    const { until, error } = this.throttled!;
    const left = Math.max(1, Math.ceil((until - now) / 1000));
    return new TokenError(error.message, error.aadsts, error.error, left, { cause: error.cause, status: error.status });
  }
}
