/**
 * How each OAuth route signs in, as `relay365 auth status` (and later the console and metrics)
 * shows it: app-only or delegated; for delegated routes the signed-in account, its scopes, when
 * the access token expires and when the tokens were last refreshed; for every route the expiry
 * of its secret or certificate, whether it is held, and what needs doing — never a token.
 */
import type { MasterKey } from '../config/master-key.js';
import { maskSecret } from '../config/secrets.js';
import type { Config, RouteConfig } from '../config/schema.js';
import type { RouteState, Store } from '../queue/store.js';
import { signInCommand } from './delegated-client.js';
import { expiryOf, type CredentialExpiry } from './expiry.js';
import { delegatedScopes } from './scopes.js';
import { openSignIn, type SignInFlow } from './token-cache.js';
import { TokenError } from './token.js';

export interface RouteAuthStatus {
  route: string;
  transport: 'graph' | 'smtp-oauth';
  flow: 'app-only' | 'delegated';
  mailbox: string;
  clientId: string;
  /** How the app proves itself: "secret dem…", "certificate SHA-256 …", "public client". */
  credential: string;
  /** Delegated: who signed in, how and when; null when nobody has. */
  account: string | null;
  signInFlow: SignInFlow | null;
  signedInAt: number | null;
  /** Delegated: the scopes the stored tokens carry (or are asked for before a sign-in). */
  scopes: string[];
  accessTokenExpiresAt: number | null;
  /** Delegated: when the stored tokens last changed (sign-in or refresh). */
  lastRefreshAt: number | null;
  hasRefreshToken: boolean;
  routeState: RouteState;
  expiry: CredentialExpiry | null;
  /** What is wrong or about to be, in plain words. */
  problems: string[];
  /** The command that fixes the sign-in, when it needs one. */
  fix: string | null;
}

type OAuthRoute = Extract<RouteConfig, { transport: 'graph' | 'smtp-oauth' }>;
const DAY = 86_400_000;
/** Entra ID drops a refresh token unused for 90 days; warn from 60. */
const IDLE_WARNING_DAYS = 60;

interface MsalCacheJson {
  Account?: Record<string, { username?: string }>;
  AccessToken?: Record<string, { target?: string; expires_on?: string }>;
  RefreshToken?: Record<string, unknown>;
}

export async function authStatus(config: Pick<Config, 'routes'>, store: Pick<Store, 'loadTokenCache' | 'routeStatus'>, key: MasterKey | null, now: number = Date.now()): Promise<RouteAuthStatus[]> {
  const routes = Object.entries(config.routes).filter((entry): entry is [string, OAuthRoute] => entry[1].transport === 'graph' || entry[1].transport === 'smtp-oauth');
  return Promise.all(routes.map(([name, route]) => routeAuthStatus(name, route, store, key, now)));
}

async function routeAuthStatus(name: string, route: OAuthRoute, store: Pick<Store, 'loadTokenCache' | 'routeStatus'>, key: MasterKey | null, now: number): Promise<RouteAuthStatus> {
  const c = route.credentials;
  const delegated = c.flow === 'delegated';
  const expiry = expiryOf(name, c, now);
  const state = await store.routeStatus(name);
  const status: RouteAuthStatus = {
    route: name,
    transport: route.transport,
    flow: delegated ? 'delegated' : 'app-only',
    mailbox: route.mailbox,
    clientId: c.clientId,
    credential: c.certificate ? `certificate ${c.certificate.cert}` : c.clientSecret ? `secret ${maskSecret(c.clientSecret)}` : 'public client',
    account: null,
    signInFlow: null,
    signedInAt: null,
    scopes: delegated ? delegatedScopes(route.transport, c, route.transport === 'graph' ? route.endpoint : undefined) : [],
    accessTokenExpiresAt: null,
    lastRefreshAt: null,
    hasRefreshToken: false,
    routeState: state.state,
    expiry,
    problems: [],
    fix: null,
  };
  if (expiry?.warning) status.problems.push(expiry.warning);
  if (state.state === 'held') status.problems.push(`the route is held: ${state.reason ?? 'it failed in a way retrying cannot fix'}`);
  if (delegated) await describeSignIn(status, store, key, now);
  // A held route's own fix says what holds it (the sign-in command when that is the reason).
  if (state.state === 'held' && state.fix) status.fix = state.fix;
  return status;
}

async function describeSignIn(status: RouteAuthStatus, store: Pick<Store, 'loadTokenCache'>, key: MasterKey | null, now: number): Promise<void> {
  const again = signInCommand(status.route);
  const row = await store.loadTokenCache(status.route);
  if (!row) {
    status.problems.push('nobody has signed in for this route yet');
    status.fix = again;
    return;
  }
  status.lastRefreshAt = row.updatedAt;
  if (!key) {
    status.problems.push('the sign-in is stored, but this host has no master key to read it (RELAY365_MASTER_KEY or secrets.keyFile)');
    return;
  }
  let cache: MsalCacheJson;
  try {
    const record = openSignIn(key, row);
    status.signedInAt = record.signedInAt;
    status.signInFlow = record.flow;
    cache = JSON.parse(record.msal) as MsalCacheJson;
  } catch (e) {
    status.problems.push(e instanceof TokenError ? e.message : `the stored sign-in cannot be read: ${(e as Error).message}`);
    status.fix = again;
    return;
  }
  status.account = Object.values(cache.Account ?? {})[0]?.username ?? null;
  status.hasRefreshToken = Object.keys(cache.RefreshToken ?? {}).length > 0;
  const tokens = Object.values(cache.AccessToken ?? {}).filter((t) => t.expires_on);
  const latest = tokens.sort((a, b) => Number(b.expires_on) - Number(a.expires_on))[0];
  if (latest) {
    status.accessTokenExpiresAt = Number(latest.expires_on) * 1000;
    if (latest.target) status.scopes = latest.target.split(' ').filter(Boolean);
  }
  if (!status.account) status.problems.push('the stored sign-in holds no account');
  if (!status.hasRefreshToken) status.problems.push('the stored sign-in holds no refresh token (offline_access was not granted): relay365 cannot renew the access token');
  const idleDays = Math.floor((now - row.updatedAt) / DAY);
  if (idleDays >= IDLE_WARNING_DAYS) status.problems.push(`the tokens were last refreshed ${idleDays} days ago; Entra ID drops a refresh token unused for 90 days — send a message through the route, or sign in again`);
  if (status.account && status.account.toLowerCase() !== status.mailbox.toLowerCase()) {
    status.problems.push(`signed in as ${status.account}, but the route sends as ${status.mailbox}: ${status.account} needs FullAccess (SMTP) or SendAs (Graph) on it`);
  }
  if (!status.hasRefreshToken || !status.account) status.fix = again;
}
