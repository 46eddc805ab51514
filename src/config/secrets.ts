/**
 * Which config keys hold secrets, and how a secret is shown: its first three characters
 * and an ellipsis, enough to tell two secrets apart and not enough to use one. The value of
 * any of these keys may be a reference (env:NAME, file:/path, enc:v1:…) that the loader
 * resolves (secret-refs.ts); a new secret-bearing key only needs to be listed here.
 */
export const SECRET_KEYS: readonly string[] = ['pass', 'password', 'secret', 'clientSecret', 'token', 'accessToken', 'refreshToken', 'authorization', 'masterKey'];

export const isSecretKey = (key: string) => SECRET_KEYS.includes(key);

export function maskSecret(value: unknown): string {
  const text = String(value);
  return `${text.slice(0, 3)}…`;
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
