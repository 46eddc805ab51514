// grant_type=refresh_token: new tokens for a user without a new sign-in.
//
// Refresh tokens rotate: each use returns a new one and the old one stops working. One unused for
// 90 days (configurable) is dead (AADSTS700082); one older than the user's TokensValidFrom, moved
// by a password change or a revocation, is revoked (AADSTS50173). Policies are checked again, so
// a Conditional Access or MFA requirement added since the sign-in bites here (53003, 50076).
import { completeDelegated } from './delegated.js';
import { Aad } from './errors.js';
import { parseScope } from './scopes.js';
import { authenticate, refused, type TokenOutcome, type TokenRequest } from './token-request.js';

export async function refreshTokenGrant(req: TokenRequest): Promise<TokenOutcome> {
  const auth = await authenticate(req, true);
  if (!auth.ok) return refused(auth.error, { ...(req.params.client_id ? { appId: req.params.client_id } : {}) });
  const { app, credential } = auth.value;
  const { ctx } = req;
  const now = ctx.clock.now();
  if (!req.params.refresh_token) return refused(Aad.missingParameter('refresh_token'), { appId: app.appId });
  const rt = ctx.grants.findRefreshToken(req.params.refresh_token);
  if (!rt) return refused(Aad.malformedGrant(), { appId: app.appId });
  const detail = { appId: app.appId, user: rt.userId };
  if (rt.clientId.toLowerCase() !== app.appId.toLowerCase()) return refused(Aad.grantForOtherClient(), detail);
  if (rt.usedAt !== undefined) return refused(Aad.refreshTokenRedeemed(), detail);
  const inactivity = ctx.settings.refreshTokenInactivitySeconds;
  if (now - rt.issuedAt > inactivity * 1000) return refused(Aad.refreshTokenInactive(new Date(rt.issuedAt), inactivity), detail);
  const scope = parseScope(req.params.scope, req.tenant.displayName);
  if (!scope.ok) return refused(scope.error, detail);
  const done = await completeDelegated(ctx, {
    origin: req.origin,
    tenant: req.tenant,
    app,
    credential,
    signIn: rt,
    scope: scope.value,
    alwaysRefreshToken: true,
    clientInfo: req.params.client_info === '1',
  });
  if (!done.ok) return refused(done.error, detail);
  ctx.grants.markUsed(rt, now);
  return { ok: true, body: done.value.body, detail };
}
