/**
 * Token: the route gets an access token from Entra ID (a refusal explained by the transports' own
 * AADSTS classifier, with its fix), and the token's claims say what the transport needs: the
 * audience of the API it calls, the permission in `roles` (app-only) or `scp` (delegated), and the
 * configured tenant. The token itself is kept for the SMTP checks and never printed.
 */
import { decodeJwt } from 'jose';
import type { RouteConfig } from '../config/schema.js';
import { createRouteTokenProvider, type SignInStore } from '../credentials/providers.js';
import { TokenError } from '../credentials/token.js';
import { classifyTokenError, entraFacts } from '../transports/m365/classify-token.js';
import { consentSteps, type EntraFacts } from '../transports/m365/fixes-entra.js';
import type { RouteFacts } from '../transports/m365/route-facts.js';
import { failed, passed, since, type CheckResult } from './check.js';
import type { DoctorContext, RouteState } from './context.js';

type OAuthRoute = Extract<RouteConfig, { transport: 'graph' | 'smtp-oauth' }>;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What the route's token must carry. */
function needs(route: OAuthRoute): { audience: string; permission: string; claim: 'roles' | 'scp' } {
  const delegated = route.credentials.flow === 'delegated';
  if (route.transport === 'graph') return { audience: `https://${new URL(route.endpoint).hostname === 'graph.microsoft.us' ? 'graph.microsoft.us' : 'graph.microsoft.com'}`, permission: 'Mail.Send', claim: delegated ? 'scp' : 'roles' };
  return delegated ? { audience: 'https://outlook.office.com', permission: 'SMTP.Send', claim: 'scp' } : { audience: 'https://outlook.office365.com', permission: 'SMTP.SendAsApp', claim: 'roles' };
}

export async function tokenCheck(ctx: DoctorContext, state: RouteState, signIns?: SignInStore): Promise<CheckResult | null> {
  const route = state.target.config;
  if (route.transport !== 'graph' && route.transport !== 'smtp-oauth') return null;
  const title = 'token';
  const facts = state.target.facts as RouteFacts;
  const provider = createRouteTokenProvider({
    route: state.target.name,
    transport: route.transport,
    mailbox: route.mailbox,
    credentials: route.credentials,
    ca: route.ca,
    ...(route.transport === 'graph' ? { endpoint: route.endpoint } : {}),
    log: ctx.log,
    signIns,
  });
  const entra: EntraFacts = entraFacts(facts, provider);
  const start = performance.now();
  if (route.credentials.flow === 'delegated' && !signIns) {
    // No master key yet: nobody has signed in (a sign-in is sealed with it).
    provider.close();
    const o = classifyTokenError(new TokenError('no sign-in: there is no master key yet, so no sign-in was ever stored', null, 'not_signed_in', null), entra, ctx.now);
    return failed('token', title, o.diagnosis, o.fix, since(start));
  }
  try {
    const token = await withTimeout(provider.getToken(), Math.max(ctx.settings.timeout, 10_000));
    state.token = token.token;
    return judgeClaims(route, state, entra, since(start));
  } catch (err) {
    if (!(err instanceof TokenError)) return failed('token', title, `No token: ${(err as Error).message}`, `Check routes.${state.target.name}.credentials.authorityHost and that this host reaches it on port 443.`, since(start));
    const o = classifyTokenError(err, entra, ctx.now);
    return failed('token', title, o.diagnosis, o.fix, since(start));
  } finally {
    provider.close();
  }
}

function judgeClaims(route: OAuthRoute, state: RouteState, entra: EntraFacts, ms: number): CheckResult {
  const claims = decodeJwt(state.token as string) as { aud?: string; roles?: string[]; scp?: string; tid?: string; oid?: string; upn?: string };
  state.claims = { ...(claims.aud ? { aud: claims.aud } : {}), ...(claims.roles ? { roles: claims.roles } : {}), ...(claims.oid ? { oid: claims.oid } : {}), ...(claims.scp ? { scp: claims.scp } : {}), ...(claims.upn ? { upn: claims.upn } : {}) };
  const need = needs(route);
  const granted = need.claim === 'roles' ? (claims.roles ?? []) : (claims.scp ?? '').split(' ').filter(Boolean);
  // oid of an app-only token is the enterprise application's object id: what New-ServicePrincipal -ObjectId needs.
  const summary = `aud ${claims.aud ?? '?'}, ${need.claim} ${granted.join(' ') || '(none)'}, tid ${claims.tid ?? '?'}${need.claim === 'roles' && claims.oid ? `, oid ${claims.oid}` : ''}`;
  const key = `routes.${state.target.name}.credentials`;
  const problems: { text: string; fix: string }[] = [];
  if ((claims.aud ?? '').replace(/\/$/, '') !== need.audience) {
    problems.push({ text: `the token is for ${claims.aud ?? 'no audience'}, not ${need.audience}`, fix: `Remove ${key}.scopes to use the default scope (${need.audience}/.default), or correct it.` });
  }
  if (!granted.includes(need.permission)) {
    problems.push({
      text: `the token carries no ${need.permission} (${need.claim}: ${granted.join(', ') || 'none'}): the permission is not granted`,
      fix: need.claim === 'roles' ? consentSteps(entra) : `Add the delegated permission ${need.permission} to the app registration, then sign in again: relay365 auth login ${state.target.name}.`,
    });
  }
  const tenant = route.credentials.tenant;
  if (GUID.test(tenant) && claims.tid && claims.tid.toLowerCase() !== tenant.toLowerCase()) {
    problems.push({ text: `the token was issued by tenant ${claims.tid}, not ${tenant}`, fix: `Set ${key}.tenant to the Directory (tenant) ID of the tenant the mailbox lives in.` });
  }
  if (problems.length) return failed('token', 'token', `Entra ID issued a token, but ${problems.map((p) => p.text).join('; ')} (${summary}).`, problems.map((p) => p.fix).join(' '), ms);
  if (!GUID.test(tenant)) return passed('token', 'token', `${summary} (${key}.tenant is a domain, ${tenant}: the tenant id was not compared)`, ms);
  return passed('token', 'token', summary, ms);
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TokenError(`Entra ID did not answer within ${ms} ms`, null, 'network_error', null)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
