/**
 * App-only access tokens (client credentials, with a secret or a certificate) through msal-node,
 * for one route: createAppTokenProvider(route.credentials, { scopes, extraCa, log }).
 *
 * - Cached until `graceTime` (default 30 s) before it expires, then renewed on the next ask.
 * - Single flight: callers asking while a request is out wait for that one request.
 * - A failure is never cached as a token; the next ask tries again, except after a 429/5xx:
 *   msal-node itself refuses to call Entra ID again for Retry-After seconds (60 when absent,
 *   ThrottlingUtils, per client and scopes) and would answer with the old error. This provider
 *   does the same openly: until then getToken() fails at once with the original error and the
 *   seconds left, so a delivery is deferred to exactly when Entra ID may be asked again instead
 *   of burning attempts on msal-node's cached refusal.
 * - Secrets and tokens are never logged; the log shows the first three characters.
 * - With `shared` (the store, when several nodes share one, and the master key), a token one
 *   node fetched serves them all: a node whose own cache is stale takes the stored token, and
 *   only when that is stale too asks Entra ID, holding the store's lock on the token so the
 *   others wait for its answer instead of asking as well. What is stored is the token sealed
 *   with the master key (shared-access-tokens.ts); one this node cannot open is no token.
 */
import { createHash } from 'node:crypto';
import { ConfidentialClientApplication, LogLevel, type Configuration } from '@azure/msal-node';
import type { Logger } from 'pino';
import type { CredentialsConfig } from '../config/routes.js';
import { maskSecret } from '../config/secrets.js';
import { readCaCertificates } from './ca.js';
import { loadCertificateCredential, type CertificateCredential } from './certificate.js';
import { entraEndpoints, type EntraEndpoints } from './entra-endpoints.js';
import { ExpiryWatch } from './expiry.js';
import { ObservedNetworkClient } from './observed-network.js';
import { toTokenError } from './token-errors.js';
import { TokenError, type AccessToken, type TokenProvider } from './token.js';
import type { AccessTokenCache, CachedAccessToken } from '../queue/store.js';
import { SealedAccessTokens, type SharedAccessTokens, type Unreadable } from './shared-access-tokens.js';
import { metrics } from '../admin/metrics.js';

export interface AppTokenOptions {
  /** Exactly one `<resource>/.default` scope: smtpScopes() / graphScopes() in scopes.ts. */
  scopes: string[];
  /** CAs to trust for Entra ID besides Node's roots: PEM text, or paths of PEM files (routes.<route>.ca). */
  extraCa: readonly string[];
  log: Logger;
  /** The route's name, for config keys in messages ("routes.<route>.credentials…"). */
  route?: string;
  /** The clock; tests move it. */
  now?: () => number;
  /** The token cache the nodes share (the relay's store) and the master key that seals the tokens in it; without it, each provider has its own. */
  shared?: SharedAccessTokens;
}

/** How the app proves itself, as shown in logs and diagnoses (never the secret itself). */
export interface CredentialSummary {
  kind: 'secret' | 'certificate';
  /** "dem…" for a secret; the SHA-256 thumbprint for a certificate. */
  shown: string;
  certificate?: Pick<CertificateCredential, 'sha1Thumbprint' | 'sha256Thumbprint' | 'subject' | 'notAfter'>;
}

export interface AppTokenProvider extends TokenProvider {
  readonly endpoints: EntraEndpoints;
  readonly scopes: readonly string[];
  readonly credential: CredentialSummary;
  /** Closes the HTTP connections to Entra ID (at shutdown). */
  close(): void;
}

export const DEFAULT_GRACE_MS = 30_000;
/** msal-node's throttling time when Entra ID sends no Retry-After (DEFAULT_THROTTLE_TIME_SECONDS). */
const MSAL_DEFAULT_THROTTLE_S = 60;
const MSAL_MAX_THROTTLE_S = 3600;
const THROTTLE_MARGIN_MS = 500;

export function createAppTokenProvider(credentials: CredentialsConfig, options: AppTokenOptions): AppTokenProvider {
  return new AppTokens(credentials, options);
}

class AppTokens implements AppTokenProvider {
  readonly endpoints: EntraEndpoints;
  readonly scopes: readonly string[];
  readonly credential: CredentialSummary;
  private readonly network: ObservedNetworkClient;
  private readonly client: ConfidentialClientApplication | null;
  /** Why this route can never get a token as configured (an unreadable certificate…). */
  private readonly setupError: TokenError | null;
  private readonly grace: number;
  private readonly now: () => number;
  private readonly log: Logger;
  private cached: AccessToken | null = null;
  private inflight: Promise<AccessToken> | null = null;
  private throttled: { until: number; error: TokenError } | null = null;
  /** The shared cache and this route's key in it: Entra ID's endpoint, the app, its scopes and credential (hashed). */
  private readonly shared: { cache: AccessTokenCache; key: string } | null;
  /** Said once: the stored token is sealed with another key, or damaged. */
  private unreadableSaid = false;
  /** The token an upstream last refused: not taken from the shared cache again. */
  private refused: string | null = null;
  private readonly expiry: ExpiryWatch;
  private readonly routeName: string;

  constructor(credentials: CredentialsConfig, options: AppTokenOptions) {
    const key = `routes.${options.route ?? '<route>'}.credentials`;
    this.now = options.now ?? Date.now;
    this.routeName = options.route ?? '';
    this.grace = credentials.graceTime ?? DEFAULT_GRACE_MS;
    this.scopes = [...options.scopes];
    this.endpoints = entraEndpoints(credentials);
    this.log = options.log.child({ tenant: credentials.tenant, appId: credentials.clientId });
    this.network = new ObservedNetworkClient(readCaCertificates(options.extraCa));

    let auth: Configuration['auth'] | null = null;
    let setupError: TokenError | null = null;
    if (credentials.certificate) {
      const loaded = loadCertificateCredential(credentials.certificate, `${key}.certificate`);
      if (loaded.ok) {
        const c = loaded.credential;
        this.credential = { kind: 'certificate', shown: `SHA-256 ${c.sha256Thumbprint}`, certificate: { sha1Thumbprint: c.sha1Thumbprint, sha256Thumbprint: c.sha256Thumbprint, subject: c.subject, notAfter: c.notAfter } };
        auth = { clientId: credentials.clientId, clientCertificate: { thumbprintSha256: c.sha256Thumbprint, privateKey: c.privateKey, x5c: c.chainPem } };
        if (c.notAfter.getTime() < this.now()) this.log.warn({ certificate: this.credential.shown, notAfter: c.notAfter.toISOString() }, 'the app certificate has expired: Entra ID will refuse it');
      } else {
        this.credential = { kind: 'certificate', shown: credentials.certificate.cert };
        setupError = new TokenError(loaded.problem, null, 'certificate_unusable', null);
      }
    } else {
      const secret = credentials.clientSecret ?? '';
      this.credential = { kind: 'secret', shown: maskSecret(secret) };
      auth = { clientId: credentials.clientId, clientSecret: secret };
    }
    this.setupError = setupError;
    const proof = credentials.certificate ? this.credential.shown : createHash('sha256').update(credentials.clientSecret ?? '').digest('hex');
    const identity = JSON.stringify([this.endpoints.tokenEndpoint, credentials.clientId, [...this.scopes].sort(), proof]);
    this.shared = options.shared ? { cache: new SealedAccessTokens(options.shared, (why) => this.unreadable(why, options.shared!.key)), key: `app:${createHash('sha256').update(identity).digest('hex')}` } : null;
    this.client = auth
      ? new ConfidentialClientApplication({
          auth: { ...auth, authority: this.endpoints.authority, knownAuthorities: [this.endpoints.host], authorityMetadata: this.endpoints.authorityMetadata },
          system: { networkClient: this.network, loggerOptions: { piiLoggingEnabled: false, logLevel: LogLevel.Warning, loggerCallback: (_level, message) => this.log.debug({ msal: message }, 'msal-node') } },
        })
      : null;
    this.log.info({ authority: this.endpoints.authority, tokenEndpoint: this.endpoints.tokenEndpoint, scopes: this.scopes, credential: this.credential.kind, shown: this.credential.shown }, 'app-only credentials ready');
    if (setupError) this.log.error({ problem: setupError.message }, 'the route cannot get tokens as configured');
    // An expiring secret or certificate stops all mail of the route: warned 30 and 7 days before.
    this.expiry = new ExpiryWatch(options.route ?? '<route>', credentials, this.log, this.now).start();
  }

  getToken(): Promise<AccessToken> {
    const now = this.now();
    if (this.cached && this.cached.expiresAt - this.grace > now) return Promise.resolve(this.cached);
    if (this.setupError || !this.client) return Promise.reject(this.setupError);
    if (this.throttled && this.throttled.until > now) return Promise.reject(this.stillThrottled(now));
    this.inflight ??= (this.shared ? this.fromShared(this.client, this.shared) : this.request(this.client)).finally(() => {
      this.inflight = null;
    });
    return this.inflight;
  }

  invalidate(token?: string): void {
    const refused = token ?? this.cached?.token;
    if (token === undefined || this.cached?.token === token) this.cached = null;
    if (this.shared && refused) {
      this.refused = refused;
      this.shared.cache.forgetAccessToken(this.shared.key, refused).catch((err: unknown) => this.log.warn({ err }, 'could not drop a refused token from the shared token cache'));
    }
  }

  /** A token another node fetched, or one fetched here (under the store's lock) for all. */
  private async fromShared(client: ConfidentialClientApplication, shared: { cache: AccessTokenCache; key: string }): Promise<AccessToken> {
    const usable = (t: CachedAccessToken | null): t is CachedAccessToken => t !== null && t.value !== this.refused && t.expiresAt - this.grace > this.now();
    try {
      let token = await shared.cache.accessToken(shared.key);
      if (!usable(token)) {
        token = await shared.cache.refreshAccessToken(shared.key, async (current) => {
          if (usable(current)) return current; // another node fetched it while this one waited
          const fresh = await this.request(client);
          return { value: fresh.token, expiresAt: fresh.expiresAt };
        });
      }
      this.cached = { token: token.value, expiresAt: token.expiresAt };
      return this.cached;
    } catch (err) {
      if (err instanceof TokenError) throw err;
      this.log.warn({ err }, 'the shared token cache in the store failed; asking Entra ID directly');
      return this.request(client);
    }
  }

  /** A stored token this node cannot open is no token (it fetches its own); said once, because every node sharing the store needs the same key. */
  private unreadable(why: Unreadable, key: SharedAccessTokens['key']): void {
    if (this.unreadableSaid) return;
    this.unreadableSaid = true;
    if (why.reason === 'other-key') {
      this.log.warn({ storedKeyId: why.keyId, keyId: key.keyId }, `the access token in the store was sealed with another master key (key id ${why.keyId}; this node's, from ${key.source}, is ${key.keyId}): fetching one of its own. Every node sharing the store needs the same master key`);
    } else {
      this.log.info('the access token in the store is not sealed with the master key (stored by an older relay365, or damaged): fetching a new one');
    }
  }

  close(): void {
    this.expiry.stop();
    this.network.close();
  }

  private async request(client: ConfidentialClientApplication): Promise<AccessToken> {
    const started = this.now();
    this.network.forget();
    try {
      // skipCache: this provider keeps the cache (with the route's grace time); msal-node's would
      // renew on its own schedule (5 minutes before expiry) and hide when Entra ID is asked.
      const result = await client.acquireTokenByClientCredential({ scopes: [...this.scopes], skipCache: true });
      if (!result?.accessToken) throw new TokenError('Entra ID answered without an access token', null, 'no_token', null);
      const expiresAt = result.expiresOn?.getTime() ?? started + 3599_000;
      this.cached = { token: result.accessToken, expiresAt };
      this.throttled = null;
      this.log.debug({ token: maskSecret(result.accessToken), expiresAt: new Date(expiresAt).toISOString(), ms: this.now() - started }, 'access token issued');
      metrics.token(this.routeName, true);
      return this.cached;
    } catch (error) {
      const err = toTokenError(error, this.network.lastResponse(), this.endpoints.tokenEndpoint);
      metrics.token(this.routeName, false);
      if (err.status !== null && (err.status === 429 || err.status >= 500)) {
        // Counted from now, after msal-node stored its own throttle time, plus a margin: a retry
        // at `until` then finds msal-node's entry expired and really asks Entra ID.
        const seconds = Math.min(err.retryAfterSeconds ?? MSAL_DEFAULT_THROTTLE_S, MSAL_MAX_THROTTLE_S);
        this.throttled = { until: this.now() + seconds * 1000 + THROTTLE_MARGIN_MS, error: err };
        this.log.warn({ status: err.status, aadsts: err.aadsts, retryAfterSeconds: seconds }, 'Entra ID is unavailable or throttling: not asking again before Retry-After');
        throw this.stillThrottled(this.now());
      }
      this.log.warn({ aadsts: err.aadsts, error: err.error, status: err.status, message: err.message }, 'token request failed');
      throw err;
    }
  }

  private stillThrottled(now: number): TokenError {
    const { until, error } = this.throttled!;
    const left = Math.max(1, Math.ceil((until - now) / 1000));
    return new TokenError(error.message, error.aadsts, error.error, left, { cause: error.cause, status: error.status });
  }
}
