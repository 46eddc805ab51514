// Who is calling the token endpoint: the app, and how it proved it (secret, certificate, or nothing).
//
// The checks run in Entra's order, so each mistake gets its own AADSTS code: unknown app
// (700016), a wrong secret or the secret's ID instead of its value (7000215), an expired secret
// (7000222), no credential where one is needed (7000218), and for certificate credentials the
// assertion's thumbprint, signature, lifetime, issuer and audience (700027, 700024, 700021, 700023).
import { decodeProtectedHeader, importX509, jwtVerify, type JWTPayload } from 'jose';
import { thumbprintsOf } from '../pki/certificates.js';
import { findApp } from '../tenant/accessors.js';
import type { AppRegistration, Tenant } from '../tenant/schema.js';
import { Aad, ok, refuse, type Outcome } from './errors.js';

export const JWT_BEARER_ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** How the client authenticated; becomes the token's `appidacr` (0 none, 1 secret, 2 certificate). */
export type ClientCredential = 'none' | 'secret' | 'certificate';

export interface AuthenticatedClient {
  readonly app: AppRegistration;
  readonly credential: ClientCredential;
}

export interface ClientAuthInput {
  /** The form fields of the token request. */
  params: Record<string, string | undefined>;
  /** The Authorization header, for client_secret_basic. */
  authorization?: string;
  tenant: Tenant;
  now: Date;
  /** Whether this grant lets a public client (no credential) through: delegated grants do, client_credentials does not. */
  publicClientAllowed: boolean;
  /** Token endpoint URLs a client assertion's `aud` may name (tenant id and every accepted domain). */
  assertionAudiences: readonly string[];
}

export async function authenticateClient(input: ClientAuthInput): Promise<Outcome<AuthenticatedClient>> {
  const basic = parseBasic(input.authorization);
  const clientId = input.params.client_id ?? basic?.clientId;
  if (!clientId) return refuse(Aad.missingParameter('client_id'));
  const app = findApp(input.tenant, clientId);
  if (!app) return refuse(Aad.unknownApp(clientId, input.tenant.displayName));
  const secret = input.params.client_secret ?? basic?.secret;
  if (secret !== undefined) return checkSecret(app, secret, input.now);
  const assertion = input.params.client_assertion;
  if (assertion !== undefined) {
    if (input.params.client_assertion_type !== JWT_BEARER_ASSERTION) return refuse(Aad.assertionMalformed());
    return checkAssertion(app, assertion, input);
  }
  if (input.publicClientAllowed && app.publicClient) return ok({ app, credential: 'none' });
  return refuse(Aad.noClientCredential());
}

function checkSecret(app: AppRegistration, secret: string, now: Date): Outcome<AuthenticatedClient> {
  const match = app.secrets.find((s) => s.value === secret);
  if (!match) return refuse(Aad.invalidSecret(app.appId));
  if (Date.parse(match.expires) <= now.getTime()) return refuse(Aad.expiredSecret(app.appId));
  return ok({ app, credential: 'secret' });
}

async function checkAssertion(app: AppRegistration, assertion: string, input: ClientAuthInput): Promise<Outcome<AuthenticatedClient>> {
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(assertion);
  } catch {
    return refuse(Aad.assertionMalformed());
  }
  const sha256 = typeof header['x5t#S256'] === 'string' ? hexOf(header['x5t#S256']) : undefined;
  const sha1 = typeof header.x5t === 'string' ? hexOf(header.x5t) : undefined;
  const presented = sha256 ?? sha1 ?? '';
  const cert = app.certificates.find((c) => {
    if (c.pem === undefined) return false;
    const t = thumbprintsOf(c.pem);
    return (sha256 !== undefined && t.sha256Thumbprint === sha256) || (sha256 === undefined && sha1 !== undefined && t.sha1Thumbprint === sha1);
  });
  if (!cert?.pem) return refuse(Aad.assertionKeyNotFound(presented, app.appId));
  const alg = header.alg;
  if (alg !== 'RS256' && alg !== 'PS256') return refuse(Aad.assertionMalformed());
  let payload: JWTPayload;
  try {
    const key = await importX509(cert.pem, alg);
    payload = (await jwtVerify(assertion, key, { algorithms: [alg], currentDate: input.now, clockTolerance: 300, requiredClaims: ['exp'] })).payload;
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED') return refuse(Aad.assertionBadSignature(presented));
    if (code === 'ERR_JWT_EXPIRED' || (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED' && (e as { claim?: string }).claim === 'nbf')) return refuse(Aad.assertionTimeRange(input.now));
    return refuse(Aad.assertionMalformed());
  }
  if (payload.iss?.toLowerCase() !== app.appId.toLowerCase() || payload.sub?.toLowerCase() !== app.appId.toLowerCase()) return refuse(Aad.assertionIssuer());
  const audiences = (Array.isArray(payload.aud) ? payload.aud : [payload.aud ?? '']).map(normalizeUrl);
  if (!audiences.some((a) => input.assertionAudiences.map(normalizeUrl).includes(a))) return refuse(Aad.assertionAudience());
  return ok({ app, credential: 'certificate' });
}

function parseBasic(header: string | undefined): { clientId: string; secret: string } | undefined {
  const m = /^Basic\s+(\S+)$/i.exec(header ?? '');
  if (!m?.[1]) return undefined;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { clientId: decodeURIComponent(decoded.slice(0, colon)), secret: decodeURIComponent(decoded.slice(colon + 1)) };
}

function hexOf(b64url: string): string {
  return Buffer.from(b64url, 'base64url').toString('hex').toUpperCase();
}

function normalizeUrl(u: string): string {
  return u.split('?')[0]!.replace(/\/+$/, '').toLowerCase();
}
