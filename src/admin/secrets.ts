/**
 * The console's own secrets: session cookies, CSRF tokens, API tokens and the setup token are
 * random and shown once; the store keeps only their SHA-256, which is enough for random values
 * of 256 bits (no salt or slow hash needed: nothing to guess).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const randomToken = (bytes = 32) => randomBytes(bytes).toString('base64url');
export const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Admin API tokens start with a prefix so a leaked one is recognisable as relay365's — and as an
 * admin's, apart from the apps' submission tokens (policy/api-tokens.ts, r365_).
 */
export const API_TOKEN_PREFIX = 'r365adm_';
export const newApiToken = () => `${API_TOKEN_PREFIX}${randomToken()}`;
