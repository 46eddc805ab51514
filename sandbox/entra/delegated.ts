// The rules every delegated grant applies before it issues tokens for a user.
//
// A code, a device code and a refresh token all end here: which delegated permissions the app may
// get on the resource, whether the user (or an admin) consented, and the user's policies at the
// moment of issuance: revoked grants (50173), Conditional Access (53003), MFA (50076). Checking
// at issuance is what makes a refresh fail after an admin changes a policy, as on Microsoft.
import { delegatedScopes, findUser } from '../tenant/accessors.js';
import { MICROSOFT_GRAPH, type Resource } from '../tenant/resources.js';
import type { AppRegistration, Mailbox, Tenant } from '../tenant/schema.js';
import type { ClientCredential } from './client-auth.js';
import type { EntraContext } from './context.js';
import { Aad, ok, refuse, type Outcome } from './errors.js';
import type { SignIn } from './grants.js';
import type { ScopeRequest } from './scopes.js';
import { issueDelegatedTokens, type DelegatedTokenResponse } from './tokens.js';

export interface DelegatedTarget {
  resource: Resource;
  audience: string;
  scopes: string[];
}

/** The permissions a delegated token gets: those asked (or all, for .default) that the app registration lists. */
export function delegatedTarget(app: AppRegistration, scope: ScopeRequest): Outcome<DelegatedTarget> {
  if (!scope.resource || !scope.audience) {
    // Only OpenID scopes: Entra issues a Graph token for the signed-in user's profile.
    return ok({ resource: MICROSOFT_GRAPH, audience: MICROSOFT_GRAPH.identifierUris[0]!, scopes: ['User.Read'] });
  }
  const allowed = delegatedScopes(app, scope.resource);
  if (scope.permissions.includes('.default')) {
    if (allowed.length === 0) return refuse(Aad.consentMissing(app.appId, app.displayName));
    return ok({ resource: scope.resource, audience: scope.audience, scopes: allowed });
  }
  for (const p of scope.permissions) {
    const known = scope.resource.delegatedScopes.some((s) => s.toLowerCase() === p.toLowerCase());
    if (!known || !allowed.some((s) => s.toLowerCase() === p.toLowerCase())) return refuse(Aad.invalidScope(`${scope.audience}/${p}`));
  }
  return ok({ resource: scope.resource, audience: scope.audience, scopes: scope.permissions });
}

/** Consent: an admin's for the whole tenant, or the user's own (given on the consent page) when users may consent. */
export function checkConsent(ctx: EntraContext, tenant: Tenant, app: AppRegistration, user: Mailbox): Outcome<true> {
  if (app.adminConsent) return ok(true);
  if (tenant.organization.userConsentAllowed && ctx.grants.hasConsent(user.id, app.appId)) return ok(true);
  return refuse(Aad.consentMissing(app.appId, app.displayName));
}

/** The user's standing at issuance time: still there, not revoked, not blocked, MFA done where required. */
export function checkUser(ctx: EntraContext, tenant: Tenant, signIn: SignIn, resource: Resource): Outcome<Mailbox> {
  const user = findUser(tenant, signIn.userId);
  if (!user) return refuse(Aad.userNotFound(signIn.userId, tenant.displayName));
  const validFrom = ctx.grants.tokensValidFrom(user.id);
  if (validFrom !== undefined && signIn.authTime < validFrom) return refuse(Aad.grantRevoked(new Date(signIn.authTime), new Date(validFrom)));
  if (user.conditionalAccessBlocked) return refuse(Aad.blockedByConditionalAccess());
  if (user.mfaRequired && !signIn.mfa) return refuse(Aad.mfaRequired(resource.appId));
  return ok(user);
}

export interface DelegatedCompletion {
  origin: string;
  tenant: Tenant;
  app: AppRegistration;
  credential: ClientCredential;
  signIn: SignIn;
  scope: ScopeRequest;
  /** Issue a refresh token even without offline_access (the refresh grant always rotates). */
  alwaysRefreshToken?: boolean;
  nonce?: string;
  clientInfo: boolean;
}

/** Runs the checks and issues the tokens; the user comes back too, for the event log. */
export async function completeDelegated(ctx: EntraContext, c: DelegatedCompletion): Promise<Outcome<{ body: DelegatedTokenResponse; user: Mailbox }>> {
  const target = delegatedTarget(c.app, c.scope);
  if (!target.ok) return target;
  const user = checkUser(ctx, c.tenant, c.signIn, target.value.resource);
  if (!user.ok) return user;
  const consent = checkConsent(ctx, c.tenant, c.app, user.value);
  if (!consent.ok) return consent;
  const wantsRefresh = c.scope.offlineAccess || c.alwaysRefreshToken === true;
  const refreshToken = wantsRefresh ? ctx.grants.issueRefreshToken(c.app.appId, c.signIn, ctx.clock.now()).token : undefined;
  const body = await issueDelegatedTokens(ctx, {
    origin: c.origin,
    tenant: c.tenant,
    app: c.app,
    user: user.value,
    signIn: c.signIn,
    audience: target.value.audience,
    scopes: target.value.scopes,
    credential: c.credential,
    openid: c.scope.openid,
    ...(refreshToken ? { refreshToken } : {}),
    ...(c.nonce ? { nonce: c.nonce } : {}),
    clientInfo: c.clientInfo,
  });
  return ok({ body, user: user.value });
}
