// grant_type=client_credentials: app-only tokens, e.g. for SMTP.SendAsApp or Graph Mail.Send.
//
// The scope must be exactly `<resource>/.default` (AADSTS70011 otherwise); the app needs an
// admin's consent (AADSTS65001); the token's `roles` are the application permissions granted on
// that resource. Never a refresh token.
import { grantedRoles } from '../tenant/accessors.js';
import { Aad } from './errors.js';
import { parseScope } from './scopes.js';
import { authenticate, refused, type TokenOutcome, type TokenRequest } from './token-request.js';
import { issueAppToken } from './tokens.js';

export async function clientCredentialsGrant(req: TokenRequest): Promise<TokenOutcome> {
  const auth = await authenticate(req, false);
  if (!auth.ok) return refused(auth.error, { ...(req.params.client_id ? { appId: req.params.client_id } : {}) });
  const { app, credential } = auth.value;
  const detail = { appId: app.appId };
  const scope = parseScope(req.params.scope, req.tenant.displayName);
  if (!scope.ok) return refused(scope.error, detail);
  const s = scope.value;
  if (!s.resource || !s.audience || s.permissions.length !== 1 || s.permissions[0] !== '.default' || s.openid || s.offlineAccess) {
    const offending = s.raw.split(/\s+/).find((w) => !w.endsWith('/.default')) ?? s.raw;
    return refused(Aad.invalidScope(offending), detail);
  }
  if (!app.adminConsent) return refused(Aad.consentMissing(app.appId, app.displayName), detail);
  const body = await issueAppToken(req.ctx, { origin: req.origin, tenant: req.tenant, app, audience: s.audience, roles: grantedRoles(app, s.resource), credential });
  return { ok: true, body, detail };
}
