// What a grant handler receives and returns.
import type { Tenant } from '../tenant/schema.js';
import { authenticateClient, type AuthenticatedClient } from './client-auth.js';
import type { EntraContext } from './context.js';
import type { AadError, Outcome } from './errors.js';

export interface TokenRequest {
  readonly ctx: EntraContext;
  readonly tenant: Tenant;
  /** The sandbox's origin as the client reached it, e.g. https://localhost:9443. */
  readonly origin: string;
  /** Form fields of the POST. */
  readonly params: Record<string, string | undefined>;
  readonly authorization?: string;
}

/** Who the request was about, for the event log. */
export interface TokenDetail {
  appId?: string;
  user?: string;
}

export type TokenOutcome = ({ ok: true; body: object } | { ok: false; error: AadError }) & { detail: TokenDetail };

/** The token endpoint URLs a client assertion may name as `aud`: one per tenant name (id and domains). */
export function tokenEndpointUrls(origin: string, tenant: Tenant): string[] {
  return [tenant.tenantId, ...tenant.domains].map((name) => `${origin}/${name}/oauth2/v2.0/token`);
}

export function authenticate(req: TokenRequest, publicClientAllowed: boolean): Promise<Outcome<AuthenticatedClient>> {
  return authenticateClient({
    params: req.params,
    ...(req.authorization ? { authorization: req.authorization } : {}),
    tenant: req.tenant,
    now: req.ctx.clock.date(),
    publicClientAllowed,
    assertionAudiences: tokenEndpointUrls(req.origin, req.tenant),
  });
}

export const refused = (error: AadError, detail: TokenDetail = {}): TokenOutcome => ({ ok: false, error, detail });
