/**
 * Where a route's tokens come from: the authority msal-node is given and the token endpoint
 * it posts to. The tenant is an id or a verified domain; the host is login.microsoftonline.com,
 * a national cloud's (login.microsoftonline.us, login.chinacloudapi.cn) or a stand-in such as the
 * sandbox. A token endpoint given as a template (`https://host/{tenant}/oauth2/v2.0/token`, or
 * enaio's `#TenantID#`) wins over the host.
 *
 * msal-node is handed the endpoints as `authorityMetadata`, so it never fetches the OpenID
 * document first: one request per token, and an unknown tenant is answered by the token
 * endpoint itself (AADSTS90002) rather than reported as an unusable authority. The host goes
 * into `knownAuthorities`, which lets msal-node use a host it has no built-in metadata for.
 */
import type { CredentialsConfig } from '../config/routes.js';

export interface EntraEndpoints {
  /** `https://host/<tenant>`: msal-node's authority. */
  readonly authority: string;
  /** `https://host`, e.g. https://login.microsoftonline.com. */
  readonly origin: string;
  /** `host[:port]` for knownAuthorities. */
  readonly host: string;
  readonly tokenEndpoint: string;
  /** The OpenID metadata msal-node would otherwise fetch, as the JSON text it takes. */
  readonly authorityMetadata: string;
  /** Where an admin grants tenant-wide consent to the app. */
  readonly adminConsentUrl: string;
}

const TENANT_PLACEHOLDER = /\{tenant(?:id)?\}|#TenantID#/gi;

export function entraEndpoints(c: Pick<CredentialsConfig, 'tenant' | 'clientId' | 'authorityHost' | 'tokenEndpoint'>): EntraEndpoints {
  const tenant = encodeURIComponent(c.tenant.trim());
  const tokenEndpoint = c.tokenEndpoint ? c.tokenEndpoint.replace(TENANT_PLACEHOLDER, tenant) : `${new URL(c.authorityHost).origin}/${tenant}/oauth2/v2.0/token`;
  const url = new URL(tokenEndpoint);
  const authority = `${url.origin}/${tenant}`;
  const metadata = {
    token_endpoint: tokenEndpoint,
    authorization_endpoint: `${authority}/oauth2/v2.0/authorize`,
    device_authorization_endpoint: `${authority}/oauth2/v2.0/devicecode`,
    end_session_endpoint: `${authority}/oauth2/v2.0/logout`,
    jwks_uri: `${authority}/discovery/v2.0/keys`,
    issuer: `${authority}/v2.0`,
    token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
  };
  return {
    authority,
    origin: url.origin,
    host: url.host,
    tokenEndpoint,
    authorityMetadata: JSON.stringify(metadata),
    adminConsentUrl: `${authority}/adminconsent?client_id=${encodeURIComponent(c.clientId)}`,
  };
}
