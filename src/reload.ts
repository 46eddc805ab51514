/**
 * What `relay365 serve` can take from a changed config without a restart (SIGHUP): the apps
 * (who may send what, their API tokens), the routing rules, the settings of a route that are
 * not its connection (pacing, sender rules, fallback, large messages…: the route's transport
 * is rebuilt, the old one finishes what it is delivering), the console's users and their roles
 * (a removed user's sessions and tokens stop at their next request) and the log level. Everything
 * else — listeners, the store, a route's host, credentials or mailbox, routes added or
 * removed — is named as needing a restart and stays as it was. Nothing accepted is dropped:
 * listeners, queue and deliveries in progress are not touched.
 */
import type { Logger } from 'pino';
import type { AdminUsers } from './config/admin.js';
import type { Config, RouteConfig } from './config/schema.js';
import { own } from './config/own.js';
import { effectiveRoutes, type Router } from './delivery/router.js';
import { AppDirectory } from './policy/apps.js';
import type { Door } from './policy/door.js';
import { Predictions } from './policy/predict.js';
import { createTransport } from './transports/index.js';
import type { Transport } from './transports/transport.js';

export interface ReloadReport {
  reloaded: string[];
  needsRestart: string[];
}

/** A route's connection: changing any of these means new connections and credentials, so a restart. */
const CONNECTION_KEYS = ['transport', 'host', 'port', 'tls', 'auth', 'password', 'credentials', 'mailbox', 'endpoint', 'domain', 'certificate', 'ca', 'verifyCertificate', 'minTlsVersion', 'dir'];
/** Top-level keys read once at start (admin but for its users, which the admin server takes on reload). */
const AT_START = ['node', 'store', 'listeners', 'protection', 'delivery', 'secrets', 'http', 'admin', 'notify'] as const;

export interface Reloadable {
  config: Config;
  door: Door;
  router: Router;
  transports: Map<string, Transport>;
  transportContext: Parameters<typeof createTransport>[2];
  log: Logger;
  /** Told of the new apps (the HTTP API's tokens). */
  onApps?: (apps: AppDirectory) => void;
  /** Told of the new admin users (the console's sessions and API tokens). */
  onAdminUsers?: (users: AdminUsers) => void;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
const pick = (route: RouteConfig, keys: string[]) => Object.fromEntries(keys.map((k) => [k, (route as Record<string, unknown>)[k]]));

export function reloadConfig(current: Reloadable, next: Config): ReloadReport {
  const report: ReloadReport = { reloaded: [], needsRestart: [] };
  const old = current.config;
  for (const key of AT_START) {
    if (key === 'admin' ? !same({ ...old.admin, users: {} }, { ...next.admin, users: {} }) : !same(old[key], next[key])) report.needsRestart.push(key);
  }
  const adminUsersChanged = !same(old.admin.users, next.admin.users);
  if (adminUsersChanged) {
    current.onAdminUsers?.(next.admin.users);
    report.reloaded.push('admin.users');
  }

  const oldRoutes = effectiveRoutes(old);
  const newRoutes = effectiveRoutes(next);
  const rebuilt: Array<[string, RouteConfig]> = [];
  for (const name of new Set([...Object.keys(oldRoutes), ...Object.keys(newRoutes)])) {
    const before = own(oldRoutes, name);
    const after = own(newRoutes, name);
    if (!before || !after) report.needsRestart.push(`routes.${name} (${before ? 'removed' : 'added'})`);
    else if (!same(pick(before, CONNECTION_KEYS), pick(after, CONNECTION_KEYS))) report.needsRestart.push(`routes.${name} (its connection or credentials)`);
    else if (!same(before, after)) rebuilt.push([name, after]);
  }
  for (const [name, route] of rebuilt) {
    const previous = current.transports.get(name);
    current.transports.set(name, createTransport(name, route, current.transportContext));
    // Deliveries already under way finish on the old transport; close() waits for them.
    void previous?.close().catch((err: unknown) => current.log.warn({ err, route: name }, 'could not close the replaced transport'));
    report.reloaded.push(`routes.${name}`);
  }

  const appsChanged = !same(old.apps, next.apps);
  const unknown = routesNamed(next).filter((name) => !Object.hasOwn(oldRoutes, name));
  if (unknown.length && (appsChanged || !same(old.routing, next.routing))) {
    report.needsRestart.push(`apps and routing (they name routes that are not running yet: ${unknown.join(', ')})`);
  } else if (appsChanged || !same(old.routes, next.routes) || !same(old.routing, next.routing)) {
    const apps = new AppDirectory(next.apps);
    if (apps.usesAuth && !current.door.apps.usesAuth) report.needsRestart.push('apps (SMTP AUTH is offered only by listeners started with an app that has auth)');
    current.router.reload(next);
    current.door.reload(apps, new Predictions(next.routes, current.router));
    current.onApps?.(apps);
    if (appsChanged) report.reloaded.push('apps');
    if (!same(old.routing, next.routing)) report.reloaded.push('routing');
  }
  if (old.log.format !== next.log.format) report.needsRestart.push('log.format');
  if (old.log.level !== next.log.level) {
    current.log.level = next.log.level;
    report.reloaded.push('log.level');
  }
  // What was taken is now the config in force; what needs a restart is compared against it next time too.
  current.config = { ...next, ...Object.fromEntries(AT_START.map((k) => [k, old[k]])), admin: { ...old.admin, users: next.admin.users }, log: { ...next.log, format: old.log.format }, routes: mergeRoutes(old, next, report) } as Config;
  return report;
}

/** Every route the apps and routing rules send to. */
function routesNamed(config: Config): string[] {
  const named = [config.routing.default, ...config.routing.rules.map((r) => r.route)];
  for (const app of Object.values(config.apps)) named.push(app.route, app.fallback, ...app.routes.map((r) => r.route));
  return [...new Set(named.filter((n): n is string => typeof n === 'string'))];
}

/** The routes in force after a reload: the new settings of routes that were rebuilt, the old ones of routes that need a restart. */
function mergeRoutes(old: Config, next: Config, report: ReloadReport): Config['routes'] {
  const routes: Config['routes'] = {};
  for (const [name, route] of Object.entries(old.routes)) {
    routes[name] = report.reloaded.includes(`routes.${name}`) ? (next.routes[name] as RouteConfig) : route;
  }
  return routes;
}
