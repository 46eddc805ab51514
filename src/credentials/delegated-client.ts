/**
 * The msal-node application of a delegated route: a public client (no secret: the app
 * registration allows public client flows) or, with clientSecret or a certificate, a
 * confidential one — pointed at the route's Entra ID, trusting the route's extra CAs, with the
 * route's token cache in relay365's store. The token provider (delegated-token.ts) and the
 * sign-in (sign-in.ts) both build theirs here, so both talk to Entra ID exactly alike.
 */
import { ConfidentialClientApplication, LogLevel, PublicClientApplication, type Configuration } from '@azure/msal-node';
import type { Logger } from 'pino';
import type { MasterKey } from '../config/master-key.js';
import type { CredentialsConfig } from '../config/routes.js';
import { maskSecret } from '../config/secrets.js';
import { readCaCertificates } from './ca.js';
import { loadCertificateCredential } from './certificate.js';
import { entraEndpoints, type EntraEndpoints } from './entra-endpoints.js';
import { ObservedNetworkClient } from './observed-network.js';
import { delegatedScopes } from './scopes.js';
import type { RouteTokenCache, TokenCacheStore } from './token-cache.js';
import { TokenError } from './token.js';

/** Where the browser comes back when the route does not say (the AEVO guide's registration). */
export const DEFAULT_REDIRECT_URI = 'http://localhost:3017/';

/** A delegated route as the credentials code needs it. */
export interface DelegatedRoute {
  name: string;
  transport: 'smtp-oauth' | 'graph';
  /** The mailbox the route sends as: the account to sign in as (or one with FullAccess / SendAs on it). */
  mailbox: string;
  credentials: CredentialsConfig;
  /** Extra CAs for Entra ID (routes.<route>.ca). */
  ca: readonly string[];
  /** The Graph endpoint of a graph route (its national cloud decides the scope's resource). */
  endpoint?: string;
}

/** What a delegated route needs besides its config: the store its sign-in lives in and the key that seals it. */
export interface DelegatedDeps {
  store: TokenCacheStore;
  key: MasterKey;
  log: Logger;
  now?: () => number;
}

/** How the app proves itself besides the user's sign-in, as shown (never the secret). */
export interface DelegatedCredential {
  kind: 'none' | 'secret' | 'certificate';
  shown: string;
}

export interface DelegatedClient {
  readonly msal: PublicClientApplication | ConfidentialClientApplication;
  readonly network: ObservedNetworkClient;
  readonly endpoints: EntraEndpoints;
  readonly scopes: readonly string[];
  readonly redirectUri: string;
  readonly credential: DelegatedCredential;
}

export function isDelegated(route: { transport: string; credentials?: CredentialsConfig }): boolean {
  return (route.transport === 'smtp-oauth' || route.transport === 'graph') && route.credentials?.flow === 'delegated';
}

/** Builds the route's msal-node application; a certificate that cannot be used is a TokenError. */
export function delegatedClient(route: DelegatedRoute, cache: RouteTokenCache, log: Logger): DelegatedClient {
  const c = route.credentials;
  const endpoints = entraEndpoints(c);
  const network = new ObservedNetworkClient(readCaCertificates(route.ca));
  let auth: Configuration['auth'] = { clientId: c.clientId, authority: endpoints.authority, knownAuthorities: [endpoints.host], authorityMetadata: endpoints.authorityMetadata };
  let credential: DelegatedCredential = { kind: 'none', shown: 'public client' };
  if (c.certificate) {
    const loaded = loadCertificateCredential(c.certificate, `routes.${route.name}.credentials.certificate`);
    if (!loaded.ok) {
      network.close();
      throw new TokenError(loaded.problem, null, 'certificate_unusable', null);
    }
    const cert = loaded.credential;
    auth = { ...auth, clientCertificate: { thumbprintSha256: cert.sha256Thumbprint, privateKey: cert.privateKey, x5c: cert.chainPem } };
    credential = { kind: 'certificate', shown: `SHA-256 ${cert.sha256Thumbprint}` };
  } else if (c.clientSecret) {
    auth = { ...auth, clientSecret: c.clientSecret };
    credential = { kind: 'secret', shown: maskSecret(c.clientSecret) };
  }
  const configuration: Configuration = {
    auth,
    cache: { cachePlugin: cache },
    system: {
      networkClient: network,
      // PII off: msal-node then logs neither tokens nor user names; its warnings go to the debug log.
      loggerOptions: { piiLoggingEnabled: false, logLevel: LogLevel.Warning, loggerCallback: (_level, message) => log.debug({ msal: message }, 'msal-node') },
    },
  };
  const msal = credential.kind === 'none' ? new PublicClientApplication(configuration) : new ConfidentialClientApplication(configuration);
  return {
    msal,
    network,
    endpoints,
    scopes: delegatedScopes(route.transport, c, route.endpoint),
    redirectUri: c.redirectUri ?? DEFAULT_REDIRECT_URI,
    credential,
  };
}

/** The command that signs the route's user in again, as fixes and `auth status` print it. */
export function signInCommand(route: string): string {
  return `relay365 auth login ${route}`;
}
