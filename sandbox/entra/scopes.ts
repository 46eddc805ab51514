// Reading the `scope` parameter: which resource the token is for, and what it may do there.
//
// Entra issues a token for one resource at a time. `https://outlook.office365.com/.default` asks
// for everything the app was granted on Exchange; `https://outlook.office.com/SMTP.Send` asks for
// one delegated permission; a bare `Mail.Send` means Microsoft Graph. The OpenID scopes (openid,
// profile, email, offline_access) ride along and decide id_token and refresh_token.
import { findResource, MICROSOFT_GRAPH, type Resource } from '../tenant/resources.js';
import { Aad, ok, refuse, type Outcome } from './errors.js';

export const OIDC_SCOPES = ['openid', 'profile', 'email', 'offline_access'] as const;

export interface ScopeRequest {
  /** The resource the access token is for; undefined when only OpenID scopes were asked. */
  resource?: Resource;
  /** The resource as the client named it (URI or app id, no trailing slash): the token's `aud`. */
  audience?: string;
  /** Permission names asked on the resource; '.default' stands for "all granted". */
  permissions: string[];
  openid: boolean;
  offlineAccess: boolean;
  /** The parameter as sent, for error texts. */
  raw: string;
}

export function parseScope(scope: string | undefined, tenantName: string): Outcome<ScopeRequest> {
  const raw = (scope ?? '').trim();
  if (raw === '') return refuse(Aad.missingParameter('scope'));
  const words = raw.split(/\s+/);
  const oidc = new Set(words.filter((w) => (OIDC_SCOPES as readonly string[]).includes(w.toLowerCase())).map((w) => w.toLowerCase()));
  const asked = words.filter((w) => !(OIDC_SCOPES as readonly string[]).includes(w.toLowerCase()));
  let resource: Resource | undefined;
  let audience: string | undefined;
  const permissions: string[] = [];
  for (const word of asked) {
    const slash = word.lastIndexOf('/');
    const resourceName = slash > 0 ? word.slice(0, slash) : MICROSOFT_GRAPH.identifierUris[0]!;
    const permission = slash > 0 ? word.slice(slash + 1) : word;
    const found = findResource(resourceName);
    if (!found) return refuse(Aad.unknownResource(resourceName, tenantName));
    if (resource !== undefined && found !== resource) return refuse(Aad.multipleResources(raw));
    resource = found;
    audience ??= resourceName.replace(/\/+$/, '');
    if (permission === '') return refuse(Aad.invalidScope(word));
    permissions.push(permission);
  }
  return ok({
    ...(resource ? { resource } : {}),
    ...(audience ? { audience } : {}),
    permissions,
    openid: oidc.has('openid'),
    offlineAccess: oidc.has('offline_access'),
    raw,
  });
}
