// grant_type=urn:ietf:params:oauth:grant-type:device_code: the polling half of the device flow.
//
// Until the user acts on the device login page the answer is authorization_pending; then the
// tokens, or authorization_declined; an unknown code is bad_verification_code and a code past its
// 15 minutes is expired_token (RFC 8628 names, AADSTS texts).
import { completeDelegated } from './delegated.js';
import { Aad } from './errors.js';
import { parseScope } from './scopes.js';
import { authenticate, refused, type TokenOutcome, type TokenRequest } from './token-request.js';

export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

export async function deviceCodeGrant(req: TokenRequest): Promise<TokenOutcome> {
  const auth = await authenticate(req, true);
  if (!auth.ok) return refused(auth.error, { ...(req.params.client_id ? { appId: req.params.client_id } : {}) });
  const { app, credential } = auth.value;
  const { ctx } = req;
  const value = req.params.device_code;
  if (!value) return refused(Aad.missingParameter('device_code'), { appId: app.appId });
  const dc = ctx.grants.deviceCodes.get(value);
  if (!dc || dc.clientId.toLowerCase() !== app.appId.toLowerCase()) return refused(Aad.badVerificationCode(), { appId: app.appId });
  const detail = { appId: app.appId, ...(dc.signIn ? { user: dc.signIn.userId } : {}) };
  if (dc.expiresAt <= ctx.clock.now()) return refused(Aad.deviceCodeExpired(), detail);
  if (dc.status === 'pending') return refused(Aad.authorizationPending(), detail);
  if (dc.status === 'declined' || !dc.signIn) return refused(Aad.authorizationDeclined(), detail);
  ctx.grants.deviceCodes.delete(value);
  const scope = parseScope(req.params.scope ?? dc.scope, req.tenant.displayName);
  if (!scope.ok) return refused(scope.error, detail);
  const done = await completeDelegated(ctx, {
    origin: req.origin,
    tenant: req.tenant,
    app,
    credential,
    signIn: dc.signIn,
    scope: scope.value,
    clientInfo: req.params.client_info === '1',
  });
  return done.ok ? { ok: true, body: done.value.body, detail } : refused(done.error, detail);
}
