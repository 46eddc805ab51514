/**
 * Routes as admins see them, for `relay365 route list` and the console alike: the route's
 * state (active, paused, held) with the reason and fix, last success and failure, each
 * mailbox's sending budget used and left and its connections open on every node, warnings about the config, and for OAuth routes
 * the sign-in (token status, secret or certificate expiry) — never a token.
 */
import type { MasterKey } from '../config/master-key.js';
import type { Config, RouteConfig } from '../config/schema.js';
import { authStatus, type RouteAuthStatus } from '../credentials/auth-status.js';
import { expiryOf, type CredentialExpiry } from '../credentials/expiry.js';
import { effectiveRoutes } from '../delivery/router.js';
import { SILENT_MS } from '../queue/heartbeat.js';
import type { RouteStatus, SendUsage, Store } from '../queue/store.js';
import { pacingOf } from '../transports/pacing.js';
import { routeWarnings } from '../transports/warnings.js';

export interface RouteBudget extends SendUsage {
  mailbox: string;
  messagesPerMinute: number;
  recipientsPerDay: number;
  messagesLeftThisMinute: number;
  recipientsLeftToday: number;
  /** Connections (SMTP) or requests (Graph) the mailbox may have at once, for the whole cluster… */
  connections: number;
  /** …and those open now, per node holding them. */
  connectionsOpen: Record<string, number>;
}

export interface RouteView extends RouteStatus {
  transport: RouteConfig['transport'];
  warnings: string[];
  budget: RouteBudget | null;
  /** OK: active and its last delivery worked; degraded: active but failing or warned about; held/paused: not delivering. */
  health: 'ok' | 'degraded' | 'held' | 'paused';
  expiry: CredentialExpiry | null;
  /** OAuth routes: how it signs in and what is wrong with it (auth-status.ts). */
  auth: Pick<RouteAuthStatus, 'flow' | 'mailbox' | 'credential' | 'account' | 'accessTokenExpiresAt' | 'lastRefreshAt' | 'problems' | 'fix'> | null;
}

function healthOf(status: RouteStatus, warnings: string[], expiry: CredentialExpiry | null, authProblems: string[]): RouteView['health'] {
  if (status.state === 'held') return 'held';
  if (status.state === 'paused') return 'paused';
  const failingLast = status.lastFailureAt !== null && (status.lastSuccessAt === null || status.lastFailureAt > status.lastSuccessAt);
  const expiring = expiry !== null && expiry.level !== 'ok';
  return failingLast || expiring || authProblems.length || warnings.length ? 'degraded' : 'ok';
}

export async function describeRoutes(config: Config, store: Store, key: MasterKey | null = null, now = Date.now()): Promise<RouteView[]> {
  const auth = new Map((await authStatus(config, store, key, now).catch(() => [] as RouteAuthStatus[])).map((a) => [a.route, a]));
  return Promise.all(
    Object.entries(effectiveRoutes(config)).map(async ([name, route]) => {
      const pacing = pacingOf(route);
      const usage = pacing ? await store.sendUsage(pacing.key, now, pacing.limits) : null;
      const open: Record<string, number> = Object.create(null) as Record<string, number>; // node names from the store: "constructor" is a name like any other
      if (pacing) for (const c of await store.connectionsInUse(pacing.key, now - SILENT_MS)) open[c.node] = (open[c.node] ?? 0) + 1;
      const budget =
        pacing && usage
          ? {
              mailbox: pacing.key,
              messagesPerMinute: pacing.limits.messages,
              recipientsPerDay: pacing.limits.recipients,
              ...usage,
              messagesLeftThisMinute: Math.max(0, pacing.limits.messages - usage.messagesThisMinute),
              recipientsLeftToday: Math.max(0, pacing.limits.recipients - usage.recipientsToday),
              connections: pacing.concurrency,
              connectionsOpen: open,
            }
          : null;
      const status = await store.routeStatus(name);
      const warnings = routeWarnings(name, route);
      const expiry = 'credentials' in route && route.credentials ? expiryOf(name, route.credentials, now) : null;
      const a = auth.get(name);
      const authView = a
        ? { flow: a.flow, mailbox: a.mailbox, credential: a.credential, account: a.account, accessTokenExpiresAt: a.accessTokenExpiresAt, lastRefreshAt: a.lastRefreshAt, problems: a.problems, fix: a.fix }
        : null;
      return { ...status, transport: route.transport, warnings, budget, health: healthOf(status, warnings, expiry, a?.problems ?? []), expiry, auth: authView };
    }),
  );
}

/** Pause: its messages are held, not failed, until it is resumed. */
export async function pauseRoute(store: Store, name: string, now = Date.now()): Promise<void> {
  await store.setRouteState(name, 'paused', now, { reason: 'paused by an admin', fix: `relay365 route resume ${name}` });
}

/** Resume or release: active again, and the messages it held are queued. Returns how many. */
export async function activateRoute(store: Store, name: string, now = Date.now()): Promise<number> {
  await store.setRouteState(name, 'active', now);
  return store.releaseHeld(now, name);
}
