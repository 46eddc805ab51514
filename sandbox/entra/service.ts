// Entra as the rest of the sandbox sees it: verify a token, revoke a user's grants.
import { findUser } from '../tenant/accessors.js';
import type { EntraContext, EntraSettings } from './context.js';
import { verifyAccessToken, type AccessTokenCheck, type VerifyOptions } from './verify.js';

export type RevokeResult = { ok: true; user: string; tokensValidFrom: string } | { ok: false; error: { code: 'unknown_user'; message: string } };

export class EntraService {
  constructor(readonly context: EntraContext) {}

  get settings(): EntraSettings {
    return this.context.settings;
  }

  /** Verifies a bearer token against the sandbox's signing key, the current tenant and sandbox time. */
  verifyAccessToken(token: string, options: VerifyOptions): Promise<AccessTokenCheck> {
    const { keys, tenants, clock } = this.context;
    return verifyAccessToken(token, options, { keys, tenant: tenants.current, now: clock.date() });
  }

  /**
   * Revokes every refresh token and code-derived grant of a user, as a password change or
   * Revoke-MgUserSignInSession does: their next refresh fails with AADSTS50173.
   */
  revokeUserGrants(user: string): RevokeResult {
    const found = findUser(this.context.tenants.current, user);
    if (!found) return { ok: false, error: { code: 'unknown_user', message: `no user mailbox ${user} in the tenant` } };
    const now = this.context.clock.now();
    this.context.grants.revokeUser(found.id, now);
    return { ok: true, user: found.address, tokensValidFrom: new Date(now).toISOString() };
  }
}
