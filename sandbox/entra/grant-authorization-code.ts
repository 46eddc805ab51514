// grant_type=authorization_code: redeeming the code the consent page gave the app.
//
// The code is single-use (AADSTS54005), short-lived (70008), bound to its client and redirect
// URI, and to the PKCE challenge sent to /authorize: the verifier must hash (S256) or equal
// (plain) to it, or AADSTS501481.
import { createHash } from 'node:crypto';
import { completeDelegated } from './delegated.js';
import { Aad } from './errors.js';
import { parseScope } from './scopes.js';
import { authenticate, refused, type TokenOutcome, type TokenRequest } from './token-request.js';

export async function authorizationCodeGrant(req: TokenRequest): Promise<TokenOutcome> {
  const auth = await authenticate(req, true);
  if (!auth.ok) return refused(auth.error, { ...(req.params.client_id ? { appId: req.params.client_id } : {}) });
  const { app, credential } = auth.value;
  const now = req.ctx.clock.now();
  const codeValue = req.params.code;
  if (!codeValue) return refused(Aad.missingParameter('code'), { appId: app.appId });
  const code = req.ctx.grants.codes.get(codeValue);
  if (!code) return refused(Aad.malformedGrant(), { appId: app.appId });
  const detail = { appId: app.appId, user: code.userId };
  if (code.clientId.toLowerCase() !== app.appId.toLowerCase()) return refused(Aad.grantForOtherClient(), detail);
  if (code.redeemed) return refused(Aad.codeRedeemed(), detail);
  if (code.expiresAt <= now) return refused(Aad.codeExpired(), detail);
  if ((req.params.redirect_uri ?? '') !== code.redirectUri) return refused(Aad.redirectMismatch(req.params.redirect_uri ?? '', app.appId), detail);
  if (code.codeChallenge !== undefined && !pkceMatches(code.codeChallenge, code.codeChallengeMethod ?? 'plain', req.params.code_verifier)) {
    return refused(Aad.pkceMismatch(), detail);
  }
  code.redeemed = true;
  const scope = parseScope(req.params.scope ?? code.scope, req.tenant.displayName);
  if (!scope.ok) return refused(scope.error, detail);
  const done = await completeDelegated(req.ctx, {
    origin: req.origin,
    tenant: req.tenant,
    app,
    credential,
    signIn: code,
    scope: scope.value,
    ...(code.nonce ? { nonce: code.nonce } : {}),
    clientInfo: req.params.client_info === '1',
  });
  return done.ok ? { ok: true, body: done.value.body, detail } : refused(done.error, detail);
}

function pkceMatches(challenge: string, method: 'S256' | 'plain', verifier: string | undefined): boolean {
  if (verifier === undefined || verifier === '') return false;
  const computed = method === 'S256' ? createHash('sha256').update(verifier).digest('base64url') : verifier;
  return computed === challenge;
}
