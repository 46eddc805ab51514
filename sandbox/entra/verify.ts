// Checking an access token the way Exchange and Graph do, for the sandbox's SMTP and Graph servers.
//
// The answer is the decoded claims, or a typed reason a server turns into its own refusal (for
// SMTP, every reason is `535 5.7.3 Authentication unsuccessful`; the reason goes to the event log
// so the admin can see *why*). Like Microsoft's resources, 5 minutes of clock skew are tolerated.
import { jwtVerify, type JWTPayload } from 'jose';
import type { Tenant } from '../tenant/schema.js';
import type { SigningKeys } from './signing.js';

export interface AccessTokenClaims extends JWTPayload {
  aud: string;
  tid: string;
  appid: string;
  oid: string;
  /** 'app' for app-only tokens, 'user' for delegated ones. */
  idtyp: 'app' | 'user';
  ver: string;
  /** Application permissions (app-only). */
  roles?: string[];
  /** Delegated permissions, space-separated (delegated). */
  scp?: string;
  upn?: string;
  unique_name?: string;
  app_displayname?: string;
}

export type AccessTokenRejection = 'malformed' | 'bad_signature' | 'expired' | 'not_yet_valid' | 'wrong_audience' | 'unknown_tenant';

export type AccessTokenCheck = { ok: true; claims: AccessTokenClaims } | { ok: false; reason: AccessTokenRejection; message: string };

export interface VerifyOptions {
  /** Audiences the resource answers to, e.g. ['https://outlook.office365.com', 'https://outlook.office.com']. */
  audience: string | readonly string[];
}

export const CLOCK_SKEW_SECONDS = 300;

export async function verifyAccessToken(token: string, options: VerifyOptions, deps: { keys: SigningKeys; tenant: Tenant; now: Date }): Promise<AccessTokenCheck> {
  let claims: AccessTokenClaims;
  try {
    const result = await jwtVerify(token, deps.keys.publicKey, { algorithms: ['RS256'], currentDate: deps.now, clockTolerance: CLOCK_SKEW_SECONDS, requiredClaims: ['exp', 'aud', 'tid'] });
    claims = result.payload as AccessTokenClaims;
  } catch (e) {
    const code = (e as { code?: string }).code;
    const claim = (e as { claim?: string }).claim;
    if (code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED') return { ok: false, reason: 'bad_signature', message: 'the token signature does not verify with the sandbox signing key' };
    if (code === 'ERR_JWT_EXPIRED') return { ok: false, reason: 'expired', message: `the token expired at ${expiry(token)}` };
    if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED' && claim === 'nbf') return { ok: false, reason: 'not_yet_valid', message: 'the token is not valid yet (nbf)' };
    return { ok: false, reason: 'malformed', message: `not a token this sandbox issued: ${(e as Error).message}` };
  }
  if (claims.tid?.toLowerCase() !== deps.tenant.tenantId) {
    return { ok: false, reason: 'unknown_tenant', message: `the token is for tenant ${claims.tid}, the sandbox serves ${deps.tenant.tenantId}` };
  }
  const wanted = (typeof options.audience === 'string' ? [options.audience] : options.audience).map(normalize);
  const audiences = (Array.isArray(claims.aud) ? claims.aud : [claims.aud]).map((a) => normalize(String(a)));
  if (!audiences.some((a) => wanted.includes(a))) {
    return { ok: false, reason: 'wrong_audience', message: `the token's audience is ${audiences.join(', ')}, expected ${wanted.join(' or ')}` };
  }
  return { ok: true, claims };
}

function normalize(audience: string): string {
  return audience.replace(/\/+$/, '').toLowerCase();
}

function expiry(token: string): string {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { exp?: number };
    return payload.exp ? new Date(payload.exp * 1000).toISOString() : 'an unknown time';
  } catch {
    return 'an unknown time';
  }
}
