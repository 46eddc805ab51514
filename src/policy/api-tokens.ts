/**
 * API tokens of the HTTP submission API: `r365_` and 32 random bytes (base64url), kept in the
 * config only as their SHA-256 (`sha256$…`). A token carries 256 bits of chance, so a fast
 * hash is enough to make the config useless for sending, and a request costs one digest
 * instead of an scrypt run; a token is shown once, when `relay365 app token` makes it.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { AppDirectory, App } from './apps.js';

export const API_TOKEN_PREFIX = 'r365_';
export const API_TOKEN_HASH = /^sha256\$[A-Za-z0-9_-]{43}$/;

export function newApiToken(): { token: string; hash: string } {
  const token = `${API_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
  return { token, hash: hashApiToken(token) };
}

export function hashApiToken(token: string): string {
  return `sha256$${createHash('sha256').update(token, 'utf8').digest('base64url')}`;
}

/** Which app a presented token belongs to, by its hash. */
export class ApiTokens {
  private readonly byHash = new Map<string, App>();

  constructor(apps: AppDirectory) {
    for (const app of apps.list()) for (const hash of app.config.apiTokens) this.byHash.set(hash, app);
  }

  appOf(token: string): App | undefined {
    if (!token.startsWith(API_TOKEN_PREFIX)) return undefined;
    return this.byHash.get(hashApiToken(token));
  }
}
