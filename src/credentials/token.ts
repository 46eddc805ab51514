/**
 * Access tokens as the transports see them. How a token is obtained (client credentials
 * with a secret or a certificate now; delegated sign-in later) stays behind TokenProvider.
 */

export interface AccessToken {
  /** The bearer token (a JWT); never logged — mask with maskSecret(). */
  token: string;
  /** When Entra ID says it expires (ms since the epoch). */
  expiresAt: number;
}

export interface TokenProvider {
  /**
   * A token with more than the grace time left: from the cache, or from Entra ID when the
   * cached one is about to expire. Callers asking at the same time share one request.
   * Rejects with a TokenError when Entra ID refuses (AADSTS…) or cannot be reached.
   */
  getToken(): Promise<AccessToken>;
  /**
   * Forgets the cached token, e.g. after the upstream refused it (535 5.7.3, 401). With `token`,
   * only if that is still the cached one: several deliveries refused with the same old token then
   * throw away one token, not also the fresh one the first of them already fetched.
   */
  invalidate(token?: string): void;
}

/** Entra ID refused to issue a token, or could not be asked. */
export class TokenError extends Error {
  /** The HTTP status of Entra ID's answer (400, 401, 429, 503…); null when it did not answer. */
  readonly status: number | null;

  constructor(
    message: string,
    /** The AADSTS number ("7000215") when Entra ID answered with one; null for network failures. */
    readonly aadsts: string | null,
    /** The OAuth error ("invalid_client"), or msal-node's error code for failures before Entra ID answered. */
    readonly error: string,
    /** Seconds Entra ID asked us to wait (429/503 Retry-After), if any. */
    readonly retryAfterSeconds: number | null,
    options?: { cause?: unknown; status?: number | null },
  ) {
    super(message, options);
    this.name = 'TokenError';
    this.status = options?.status ?? null;
  }
}
