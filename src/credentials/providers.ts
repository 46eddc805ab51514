/**
 * The token provider of an OAuth route (graph, smtp-oauth), by its credentials.flow: app-only
 * (client credentials, app-token.ts) or delegated (the signed-in user, delegated-token.ts, whose
 * sign-in lives sealed in the store). The transports ask here and never care which it is.
 */
import type { Logger } from 'pino';
import type { MasterKey } from '../config/master-key.js';
import type { CredentialsConfig } from '../config/routes.js';
import { createAppTokenProvider, type AppTokenProvider } from './app-token.js';
import type { DelegatedCredential } from './delegated-client.js';
import { createDelegatedTokenProvider, type DelegatedTokenProvider } from './delegated-token.js';
import { entraEndpoints } from './entra-endpoints.js';
import { delegatedScopes, graphScopes, smtpScopes } from './scopes.js';
import type { TokenCacheStore } from './token-cache.js';
import type { SharedAccessTokens } from './shared-access-tokens.js';
import { TokenError } from './token.js';

export type RouteTokenProvider = (AppTokenProvider & { readonly flow?: 'app-only' }) | DelegatedTokenProvider;

/** Where delegated sign-ins are kept: relay365's store, sealed with the master key. */
export interface SignInStore {
  store: TokenCacheStore;
  key: MasterKey;
}

export interface RouteTokenOptions {
  route: string;
  transport: 'smtp-oauth' | 'graph';
  mailbox: string;
  credentials: CredentialsConfig;
  ca: readonly string[];
  /** A graph route's endpoint (its cloud decides the scopes). */
  endpoint?: string;
  log: Logger;
  /** Needed by delegated routes; the relay passes its store and master key. */
  signIns?: SignInStore | undefined;
  /** App-only routes: the token cache the nodes share (the relay's store) and the master key that seals it. */
  sharedTokens?: SharedAccessTokens | undefined;
}

export function createRouteTokenProvider(o: RouteTokenOptions): RouteTokenProvider {
  if (o.credentials.flow !== 'delegated') {
    const scopes = o.transport === 'graph' ? graphScopes(o.credentials, o.endpoint ?? 'https://graph.microsoft.com') : smtpScopes(o.credentials);
    return createAppTokenProvider(o.credentials, { scopes, extraCa: [...o.ca], log: o.log, route: o.route, ...(o.sharedTokens ? { shared: o.sharedTokens } : {}) });
  }
  const route = { name: o.route, transport: o.transport, mailbox: o.mailbox, credentials: o.credentials, ca: o.ca, ...(o.endpoint ? { endpoint: o.endpoint } : {}) };
  if (!o.signIns) return withoutStore(route.name, o);
  return createDelegatedTokenProvider(route, { store: o.signIns.store, key: o.signIns.key, log: o.log });
}

/** A delegated route outside a running relay (no store to keep the sign-in in): it says so. */
function withoutStore(route: string, o: RouteTokenOptions): DelegatedTokenProvider {
  const credential: DelegatedCredential = { kind: o.credentials.clientSecret ? 'secret' : o.credentials.certificate ? 'certificate' : 'none', shown: '' };
  const error = new TokenError(`the delegated route "${route}" has no store to keep its sign-in in (relay365 passes its store and master key to its routes)`, null, 'no_token_store', null);
  return {
    flow: 'delegated',
    endpoints: entraEndpoints(o.credentials),
    scopes: delegatedScopes(o.transport, o.credentials, o.endpoint),
    credential,
    getToken: () => Promise.reject(error),
    invalidate: () => undefined,
    close: () => undefined,
  };
}
