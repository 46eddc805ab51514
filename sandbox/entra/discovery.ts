// The documents MSAL reads before it asks for a token: OpenID metadata, instance discovery, JWKS.
//
// MSAL accepts the sandbox as an authority when its host is in `knownAuthorities`; it then reads
// `<authority>/v2.0/.well-known/openid-configuration` and checks that the `issuer` there has the
// authority's host. Every URL is built from the host the client used, so that check holds
// whether it says localhost or 127.0.0.1.
import type { FastifyInstance } from 'fastify';
import type { EntraContext } from './context.js';
import { originOf, sendAadError, tenantFromPath, transientErrorBody } from './http-helpers.js';
import { jwksDocument } from './signing.js';
import { v2Issuer } from './tokens.js';

export function openIdConfiguration(origin: string, tenantId: string): Record<string, unknown> {
  const base = `${origin}/${tenantId}`;
  return {
    token_endpoint: `${base}/oauth2/v2.0/token`,
    token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
    jwks_uri: `${base}/discovery/v2.0/keys`,
    response_modes_supported: ['query', 'fragment', 'form_post'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
    issuer: v2Issuer(origin, tenantId),
    request_uri_parameter_supported: false,
    userinfo_endpoint: `${origin}/graph/oidc/userinfo`,
    authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
    device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
    http_logout_supported: true,
    frontchannel_logout_supported: true,
    end_session_endpoint: `${base}/oauth2/v2.0/logout`,
    claims_supported: ['sub', 'iss', 'cloud_instance_name', 'cloud_instance_host_name', 'cloud_graph_host_name', 'msgraph_host', 'aud', 'exp', 'iat', 'auth_time', 'acr', 'nonce', 'preferred_username', 'name', 'tid', 'ver', 'at_hash', 'c_hash', 'email'],
    kerberos_endpoint: `${base}/kerberos`,
    tenant_region_scope: 'EU',
    cloud_instance_name: 'microsoftonline.com',
    cloud_graph_host_name: 'graph.windows.net',
    msgraph_host: 'graph.microsoft.com',
    rbac_url: 'https://pas.windows.net',
  };
}

export async function discoveryRoutes(app: FastifyInstance, ctx: EntraContext): Promise<void> {
  const config = { endpoint: 'discovery', faultBody: () => transientErrorBody(ctx) };

  app.get<{ Params: { tenant: string } }>('/:tenant/v2.0/.well-known/openid-configuration', { config }, async (request, reply) => {
    const tenant = tenantFromPath(ctx, request.params.tenant);
    if (!tenant.ok) return sendAadError(ctx, request, reply, tenant.error);
    return reply.send(openIdConfiguration(originOf(request), tenant.value.tenantId));
  });

  const keysFor = (origin: string) => jwksDocument(ctx.keys, v2Issuer(origin, ctx.tenants.current.tenantId));
  app.get<{ Params: { tenant: string } }>('/:tenant/discovery/v2.0/keys', { config }, async (request, reply) => {
    const tenant = tenantFromPath(ctx, request.params.tenant);
    if (!tenant.ok) return sendAadError(ctx, request, reply, tenant.error);
    return reply.send(keysFor(originOf(request)));
  });
  app.get('/common/discovery/v2.0/keys', { config }, async (request) => keysFor(originOf(request)));

  // MSAL skips this for hosts in knownAuthorities; answered anyway, in Microsoft's shape.
  app.get<{ Querystring: { authorization_endpoint?: string } }>('/common/discovery/instance', { config }, async (request) => {
    const host = request.host;
    const tenant = /^https:\/\/[^/]+\/([^/]+)\//.exec(request.query.authorization_endpoint ?? '')?.[1] ?? '{tenant}';
    return {
      tenant_discovery_endpoint: `https://${host}/${tenant}/v2.0/.well-known/openid-configuration`,
      'api-version': '1.1',
      metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
    };
  });
}
