/**
 * API tokens for automation, made the same way by `relay365 admin token create` and POST
 * /api/tokens: each has an owner, a role no higher than its owner's, and an expiry no later
 * than admin.tokenMaxLifetime allows. Refusals are values with the words to show, so the CLI
 * and the API say the same.
 */
import type { AdminConfig } from '../config/admin.js';
import type { ApiToken, Store } from '../queue/store.js';
import { covers, isRole, lower, roleOfOwner, type Role } from './roles.js';
import { newApiToken, randomToken, sha256 } from './secrets.js';

export interface TokenRequest {
  name: string;
  owner: string;
  /** Default: the owner's role. */
  role?: string;
  /** Milliseconds from now; default admin.tokenLifetime. */
  expiresIn?: number;
}

export interface CreatedToken {
  id: string;
  name: string;
  owner: string;
  role: Role;
  expiresAt: number;
  /** Shown once, here; the store keeps its SHA-256. */
  token: string;
}

export type TokenRefusal = { refused: 'bad-request' | 'forbidden' | 'exists'; detail: string };

export async function createApiToken(store: Store, admin: AdminConfig, request: TokenRequest, now = Date.now()): Promise<CreatedToken | TokenRefusal> {
  const ownerRole = roleOfOwner(request.owner, admin.users);
  if (!ownerRole) return { refused: 'bad-request', detail: `"${request.owner}" is not a user in admin.users; a token's owner must be one (or leave the owner out on the CLI)` };
  const role = request.role ?? ownerRole;
  if (!isRole(role)) return { refused: 'bad-request', detail: `role must be admin or read-only, got "${role}"` };
  if (!covers(ownerRole, role)) return { refused: 'forbidden', detail: `${request.owner} is ${ownerRole}: a token may not have a higher role than its owner; make it read-only` };
  const expiresIn = request.expiresIn ?? admin.tokenLifetime;
  if (expiresIn <= 0 || expiresIn > admin.tokenMaxLifetime) {
    return { refused: 'bad-request', detail: `a token lasts from 1 second to admin.tokenMaxLifetime (${days(admin.tokenMaxLifetime)}), not ${days(expiresIn)}` };
  }
  if ((await store.apiTokens()).some((t) => t.name === request.name && t.revokedAt === null)) {
    return { refused: 'exists', detail: `an API token named "${request.name}" exists; revoke it first or choose another name` };
  }
  const token = newApiToken();
  const created = { id: randomToken(6), name: request.name, owner: request.owner, role, createdAt: now, expiresAt: now + expiresIn };
  await store.createApiToken({ ...created, hash: sha256(token) });
  return { id: created.id, name: created.name, owner: created.owner, role, expiresAt: created.expiresAt, token };
}

export const isRefusal = (value: CreatedToken | TokenRefusal): value is TokenRefusal => 'refused' in value;

export type TokenState = 'active' | 'expired' | 'revoked' | 'owner removed';

/** Whether a token works now, and with which role (the lower of its own and its owner's). */
export function tokenStanding(token: ApiToken, admin: AdminConfig, now: number): { state: TokenState; role: Role | null } {
  if (token.revokedAt !== null) return { state: 'revoked', role: null };
  const ownerRole = roleOfOwner(token.owner, admin.users);
  if (!ownerRole) return { state: 'owner removed', role: null };
  if (token.expiresAt <= now) return { state: 'expired', role: null };
  return { state: 'active', role: lower(isRole(token.role) ? token.role : 'read-only', ownerRole) };
}

/** A token as lists show it: never its value or hash, with its state now. */
export const describeToken = (token: ApiToken, admin: AdminConfig, now: number) => ({ ...token, state: tokenStanding(token, admin, now).state });

const days = (ms: number) => (ms % 86_400_000 === 0 ? `${ms / 86_400_000}d` : `${Math.round(ms / 1000)}s`);
