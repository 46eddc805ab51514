// Small pieces every Entra route uses: the tenant from the path, the origin, the error reply.
import { randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { describe } from '../http-route.js';
import { isTenantName } from '../tenant/accessors.js';
import type { Tenant } from '../tenant/schema.js';
import type { EntraContext } from './context.js';
import { Aad, aadErrorBody, ok, refuse, type AadError, type Outcome } from './errors.js';

/** The tenant named in the path by id or accepted domain, or AADSTS90002. */
export function tenantFromPath(ctx: EntraContext, name: string): Outcome<Tenant> {
  const tenant = ctx.tenants.current;
  return isTenantName(tenant, name) ? ok(tenant) : refuse(Aad.unknownTenant(name));
}

/** The sandbox's origin as this client reached it, so metadata and issuers match the authority it configured. */
export function originOf(request: FastifyRequest): string {
  return `https://${request.host}`;
}

/** The client's correlation id (MSAL sends `client-request-id`), echoed in errors as Entra does. */
export function correlationIdOf(request: FastifyRequest): string {
  const query = request.query as Record<string, string | undefined> | undefined;
  const header = request.headers['client-request-id'];
  return query?.['client-request-id'] ?? (typeof header === 'string' ? header : undefined) ?? randomUUID();
}

/** Field values of a form POST (or query), as strings. */
export function fieldsOf(source: unknown): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  if (source && typeof source === 'object') {
    for (const [k, v] of Object.entries(source as Record<string, unknown>)) out[k] = Array.isArray(v) ? String(v[0]) : v === undefined ? undefined : String(v);
  }
  return out;
}

/** Sends Entra's error JSON with its status, and notes the AADSTS code in the event log. */
export function sendAadError(ctx: EntraContext, request: FastifyRequest, reply: FastifyReply, err: AadError): FastifyReply {
  const body = aadErrorBody(err, ctx.clock.date(), correlationIdOf(request));
  describe(request, { outcome: 'refused', code: `AADSTS${err.code}`, message: err.text });
  return reply
    .code(err.status)
    .header('cache-control', 'no-store, no-cache')
    .header('pragma', 'no-cache')
    .header('x-ms-request-id', body.trace_id)
    .header('client-request-id', body.correlation_id)
    .type('application/json; charset=utf-8')
    .send(body);
}

/** Entra's error JSON for an injected fault that gives no body of its own. */
export function transientErrorBody(ctx: EntraContext): unknown {
  return aadErrorBody(Aad.transient(), ctx.clock.date());
}
