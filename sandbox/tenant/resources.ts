// The Microsoft resources an app can ask tokens for, as Entra ID knows them.
//
// A scope names its resource by identifier URI (`https://outlook.office365.com/.default`) or by
// application id (`00000002-0000-0ff1-ce00-000000000000/.default`); the tenant file names it by
// display name ("Office 365 Exchange Online"), by URI or by a short key. All of them resolve here,
// so the token endpoint and the tenant file agree on what "Exchange" and "Graph" mean.

export interface Resource {
  /** Short name used in code and accepted in tenant files. */
  readonly key: 'exchange' | 'graph';
  /** The name the Entra portal shows under "API permissions". */
  readonly displayName: string;
  /** The resource's well-known application id. */
  readonly appId: string;
  /** Identifier URIs; a token's `aud` is the URI the client asked for. */
  readonly identifierUris: readonly string[];
  /** Application permissions (app roles) the resource offers. */
  readonly appRoles: readonly string[];
  /** Delegated permissions (OAuth2 scopes) the resource offers. */
  readonly delegatedScopes: readonly string[];
}

export const EXCHANGE_ONLINE: Resource = {
  key: 'exchange',
  displayName: 'Office 365 Exchange Online',
  appId: '00000002-0000-0ff1-ce00-000000000000',
  identifierUris: ['https://outlook.office365.com', 'https://outlook.office.com'],
  appRoles: ['SMTP.SendAsApp', 'full_access_as_app', 'IMAP.AccessAsApp', 'POP.AccessAsApp', 'Mail.Send', 'Mail.ReadWrite'],
  delegatedScopes: ['SMTP.Send', 'IMAP.AccessAsUser.All', 'POP.AccessAsUser.All', 'EWS.AccessAsUser.All', 'Mail.Send'],
};

export const MICROSOFT_GRAPH: Resource = {
  key: 'graph',
  displayName: 'Microsoft Graph',
  appId: '00000003-0000-0000-c000-000000000000',
  identifierUris: ['https://graph.microsoft.com'],
  appRoles: ['Mail.Send', 'Mail.ReadWrite', 'Mail.Read', 'Mail.ReadBasic', 'User.Read.All'],
  delegatedScopes: ['Mail.Send', 'Mail.ReadWrite', 'Mail.Read', 'Mail.ReadBasic', 'User.Read', 'SMTP.Send'],
};

export const RESOURCES: readonly Resource[] = [EXCHANGE_ONLINE, MICROSOFT_GRAPH];

/** Finds a resource by key, display name, application id or identifier URI (trailing slash ignored). */
export function findResource(name: string): Resource | undefined {
  const wanted = name.trim().replace(/\/+$/, '').toLowerCase();
  return RESOURCES.find(
    (r) =>
      r.key === wanted ||
      r.displayName.toLowerCase() === wanted ||
      r.appId === wanted ||
      r.identifierUris.some((uri) => uri.toLowerCase() === wanted),
  );
}
