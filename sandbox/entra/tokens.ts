// Minting tokens and the token endpoint's success JSON.
//
// Access tokens carry the claims resources check: `aud` (the resource as the client named it),
// `roles` (app-only) or `scp` (delegated), `tid`, `appid`, `oid` (the enterprise application's
// object id for app-only, the user's id for delegated), `upn`/`unique_name` for users; they are
// v1.0 tokens like the ones Exchange and Graph receive, `iat`/`nbf` five minutes back as Entra does.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { AppRegistration, Mailbox, Tenant } from '../tenant/schema.js';
import type { ClientCredential } from './client-auth.js';
import type { EntraContext } from './context.js';
import type { SignIn } from './grants.js';
import { signJwt } from './signing.js';

/** Success JSON for client_credentials, field for field as Microsoft sends it. */
export interface AppTokenResponse {
  token_type: 'Bearer';
  expires_in: number;
  ext_expires_in: number;
  access_token: string;
}

/** Success JSON for delegated grants. */
export interface DelegatedTokenResponse extends AppTokenResponse {
  scope: string;
  refresh_token?: string;
  id_token?: string;
  client_info?: string;
}

const CLOCK_SKEW_SECONDS = 300;
const appidacr: Record<ClientCredential, string> = { none: '0', secret: '1', certificate: '2' };

/** The access token issuer, v1 style: `https://sts.windows.net/{tid}/` on Microsoft, the sandbox's origin here. */
export const accessTokenIssuer = (origin: string, tenantId: string) => `${origin}/${tenantId}/`;
/** The v2.0 issuer of id tokens and of the OpenID metadata. */
export const v2Issuer = (origin: string, tenantId: string) => `${origin}/${tenantId}/v2.0`;

export async function issueAppToken(
  ctx: EntraContext,
  args: { origin: string; tenant: Tenant; app: AppRegistration; audience: string; roles: string[]; credential: ClientCredential },
): Promise<AppTokenResponse> {
  const { origin, tenant, app } = args;
  const lifetime = ctx.settings.accessTokenLifetimeSeconds ?? 3599;
  const now = ctx.clock.nowSeconds();
  const access = await signJwt(ctx.keys, {
    aud: args.audience,
    iss: accessTokenIssuer(origin, tenant.tenantId),
    iat: now - CLOCK_SKEW_SECONDS,
    nbf: now - CLOCK_SKEW_SECONDS,
    exp: now + lifetime,
    aio: opaque(),
    app_displayname: app.displayName,
    appid: app.appId,
    appidacr: appidacr[args.credential],
    idp: accessTokenIssuer(origin, tenant.tenantId),
    idtyp: 'app',
    oid: app.servicePrincipalObjectId,
    rh: opaque(),
    ...(args.roles.length > 0 ? { roles: args.roles } : {}),
    sub: app.servicePrincipalObjectId,
    tid: tenant.tenantId,
    uti: randomBytes(16).toString('base64url'),
    ver: '1.0',
  });
  return { token_type: 'Bearer', expires_in: lifetime, ext_expires_in: lifetime, access_token: access };
}

export interface DelegatedIssue {
  origin: string;
  tenant: Tenant;
  app: AppRegistration;
  user: Mailbox;
  signIn: SignIn;
  audience: string;
  /** Granted delegated permissions (`scp`), names without the resource. */
  scopes: string[];
  credential: ClientCredential;
  openid: boolean;
  /** The refresh token to return, already issued by the caller (offline_access), if any. */
  refreshToken?: string;
  nonce?: string;
  clientInfo: boolean;
}

export async function issueDelegatedTokens(ctx: EntraContext, d: DelegatedIssue): Promise<DelegatedTokenResponse> {
  const lifetime = ctx.settings.accessTokenLifetimeSeconds ?? 3600 + Math.floor(Math.random() * 1800);
  const now = ctx.clock.nowSeconds();
  const name = d.user.displayName ?? d.user.address;
  const access = await signJwt(ctx.keys, {
    aud: d.audience,
    iss: accessTokenIssuer(d.origin, d.tenant.tenantId),
    iat: now - CLOCK_SKEW_SECONDS,
    nbf: now - CLOCK_SKEW_SECONDS,
    exp: now + lifetime,
    acr: '1',
    aio: opaque(),
    amr: d.signIn.mfa ? ['pwd', 'mfa'] : ['pwd'],
    app_displayname: d.app.displayName,
    appid: d.app.appId,
    appidacr: appidacr[d.credential],
    idtyp: 'user',
    name,
    oid: d.user.id,
    rh: opaque(),
    scp: d.scopes.join(' '),
    sid: d.signIn.sessionId,
    sub: pairwiseSubject(d.user.id, d.app.appId),
    tid: d.tenant.tenantId,
    unique_name: d.user.address,
    upn: d.user.address,
    uti: randomBytes(16).toString('base64url'),
    ver: '1.0',
  });
  const response: DelegatedTokenResponse = {
    token_type: 'Bearer',
    scope: d.scopes.map((s) => `${d.audience}/${s}`).join(' '),
    expires_in: lifetime,
    ext_expires_in: lifetime,
    access_token: access,
  };
  if (d.refreshToken) response.refresh_token = d.refreshToken;
  if (d.openid) response.id_token = await idToken(ctx, d, name, now);
  if (d.clientInfo) response.client_info = Buffer.from(JSON.stringify({ uid: d.user.id, utid: d.tenant.tenantId })).toString('base64url');
  return response;
}

function idToken(ctx: EntraContext, d: DelegatedIssue, name: string, now: number): Promise<string> {
  return signJwt(ctx.keys, {
    aud: d.app.appId,
    iss: v2Issuer(d.origin, d.tenant.tenantId),
    iat: now - CLOCK_SKEW_SECONDS,
    nbf: now - CLOCK_SKEW_SECONDS,
    exp: now + ctx.settings.idTokenLifetimeSeconds,
    name,
    ...(d.nonce ? { nonce: d.nonce } : {}),
    oid: d.user.id,
    preferred_username: d.user.address,
    rh: opaque(),
    sid: d.signIn.sessionId,
    sub: pairwiseSubject(d.user.id, d.app.appId),
    tid: d.tenant.tenantId,
    uti: randomBytes(16).toString('base64url'),
    ver: '2.0',
  });
}

/** Entra's `sub` is pairwise: the same user has a different subject in each app. */
function pairwiseSubject(userId: string, appId: string): string {
  return createHash('sha256').update(`${userId}|${appId.toLowerCase()}`).digest('base64url').slice(0, 43);
}

/** Opaque internal claims (aio, rh) that Microsoft fills with its own data. */
function opaque(): string {
  return `0.${randomBytes(24).toString('base64url')}`;
}

export const newSessionId = (): string => randomUUID();
