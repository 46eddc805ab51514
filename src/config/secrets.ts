/**
 * Which names hold secrets (config keys, log fields, HTTP headers), and how a secret is shown:
 * a long one (16 characters or more) by its first three characters and an ellipsis, enough to
 * tell two secrets apart and not enough to use one; a shorter one as the ellipsis alone,
 * because three characters of a short password are a real part of it; a URL (a webhook's,
 * whose path is the credential) by its scheme and host. The value of any of
 * these config keys may be a reference (env:NAME, file:/path, enc:v1:…) that the loader
 * resolves (secret-refs.ts); a new secret-bearing key only needs to be listed here (or to end
 * like one). The same names are censored in every log line, at any depth (log.ts).
 */
export const SECRET_KEYS: readonly string[] = ['pass', 'password', 'secret', 'clientSecret', 'token', 'accessToken', 'refreshToken', 'authorization', 'cookie', 'setCookie', 'apiKey', 'masterKey', 'webhook'];

/**
 * Endings that make any name a secret's, however it is spelt: smtpPassword, refresh_token,
 * CLIENT-SECRET, X-Api-Key, Proxy-Authorization, Set-Cookie. The config has no key with these
 * endings that is not a secret (passwordHash, apiTokens, tokenEndpoint and setupTokenFile end
 * otherwise), and a log field named so is censored even where nobody thought of it.
 */
const SECRET_ENDINGS = ['password', 'passwd', 'passphrase', 'secret', 'token', 'apikey', 'authorization', 'cookie'];

/** A name as compared: lower case, without separators (client_secret, clientSecret and CLIENT-SECRET are one). */
const fold = (key: string) => key.toLowerCase().replace(/[^a-z0-9]/g, '');
const EXACT = new Set(SECRET_KEYS.map(fold));

export const isSecretKey = (key: string): boolean => {
  const folded = fold(key);
  return EXACT.has(folded) || SECRET_ENDINGS.some((ending) => folded.endsWith(ending));
};

/** Below this length a secret shows nothing of itself. */
export const SHOWN_FROM_LENGTH = 16;

export function maskSecret(value: unknown): string {
  const text = String(value);
  const url = /^https?:\/\/[^/?#\s]+/i.exec(text) && URL.canParse(text) ? new URL(text) : null;
  if (url) return `${url.origin}/…`;
  return text.length < SHOWN_FROM_LENGTH ? '…' : `${text.slice(0, 3)}…`;
}

/** A deep copy with every secret masked. */
export function maskSecrets<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => maskSecrets(v)) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, isSecretKey(k) && v !== undefined && typeof v !== 'object' ? maskSecret(v) : maskSecrets(v)]),
    ) as T;
  }
  return value;
}
