/**
 * A running relay: the store, the transports of every route, the delivery scheduler and
 * the SMTP listeners, started in the order a message travels backwards (so nothing is
 * accepted before it can be stored and delivered) and stopped in the reverse.
 */
import { dirname } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Config } from './config/schema.js';
import { hasOwn } from './config/own.js';
import { openSignIns } from './credentials/sign-in-store.js';
import { openSharedAccessTokens } from './credentials/shared-access-tokens.js';
import { effectiveRoutes, Router } from './delivery/router.js';
import { MailboxConnections } from './delivery/mailbox-connections.js';
import { RouteGate } from './delivery/route-gate.js';
import { Scheduler } from './delivery/scheduler.js';
import { SmtpListener } from './ingress/listener.js';
import { HttpSubmissionListener } from './ingress/http/listener.js';
import { ApiTokens } from './policy/api-tokens.js';
import { reloadConfig, type Reloadable, type ReloadReport } from './reload.js';
import { AppDirectory } from './policy/apps.js';
import { Door } from './policy/door.js';
import { Predictions } from './policy/predict.js';
import { loadTlsIdentity } from './ingress/tls.js';
import { NodePresence } from './queue/heartbeat.js';
import { openStore } from './queue/open.js';
import type { Store } from './queue/store.js';
import { createTransport } from './transports/index.js';
import { createNotifications } from './notify/index.js';
import { isFinal } from './queue/states.js';
import type { Transport } from './transports/transport.js';
import { startAdmin, type RunningAdmin } from './admin/server.js';

export interface RunningRelay {
  store: Store;
  scheduler: Scheduler;
  /** Bound addresses by listener name (the port chosen when the config said 0). */
  listeners: Map<string, AddressInfo>;
  /** The HTTP submission API's address, when `http` is configured. */
  http: AddressInfo | null;
  /** Takes what can be taken from a changed config (SIGHUP, see reload.ts). */
  reload(next: Config): ReloadReport;
  /** The admin console and API (config `admin`), when enabled. */
  admin: RunningAdmin | null;
  stop(): Promise<void>;
}

export interface RelayOptions {
  /** The route `sandbox` is the demo route serve made for a config without routes (src/cli/demo.ts). */
  demo?: boolean;
}

export async function startRelay(config: Config, log: Logger, options: RelayOptions = {}): Promise<RunningRelay> {
  const node = config.node.name as string;
  const store = await openStore(config, log);
  // Delegated routes keep their users' sign-ins in the store, sealed with the master key.
  const signIns = await openSignIns(config, store, log).catch(async (err: unknown) => {
    await store.close();
    throw err;
  });
  // Registered before delivery touches the queue: a name a live node uses is refused here.
  const presence = new NodePresence(store, node, log);
  await presence.start().catch(async (err: unknown) => {
    await store.close();
    throw err;
  });
  const transports = new Map<string, Transport>();
  // App-only routes share their tokens through the store, sealed with the same master key.
  const sharedTokens = openSharedAccessTokens(config, store, log, signIns?.key);
  const context = { ehloName: node, log, hasRoute: (name: string) => hasOwn(effectiveRoutes(config), name), ...(signIns ? { signIns } : {}), ...(sharedTokens ? { sharedTokens } : {}), ...(options.demo ? { demo: true } : {}) };
  for (const [name, route] of Object.entries(effectiveRoutes(config))) {
    transports.set(name, createTransport(name, route, context));
    log.info({ route: name, transport: route.transport }, 'route ready');
  }
  if (!Object.keys(config.routes).length) {
    log.warn('no routes configured: mail is captured (kept in the store, not sent); add routes to deliver it');
  }
  const router = new Router(config);
  const connections = new MailboxConnections(store, node, async (route, slot) => transports.get(route)?.closeConnection?.(slot), log);
  await connections.start();
  const notifications = createNotifications(config, store, transports, node, log, () => scheduler.queued());
  const scheduler: Scheduler = new Scheduler({
    store,
    router,
    gate: new RouteGate(store, connections, config.delivery.probe, log, notifications.onRouteChange),
    reports: notifications.reports,
    watch: notifications.watch,
    transports,
    retry: config.delivery.retry,
    node,
    log,
    delivery: config.delivery,
    retention: config.store.retention,
  });
  await scheduler.start();

  const door = new Door(new AppDirectory(config.apps), new Predictions(config.routes, router), store, config.protection, log);
  let tokens = new ApiTokens(door.apps);
  let http: HttpSubmissionListener | null = null;
  let httpAddress: AddressInfo | null = null;
  let admin: RunningAdmin | null = null;
  let accepting = false;
  const listeners: SmtpListener[] = [];
  const addresses = new Map<string, AddressInfo>();
  try {
    for (const [name, listenerConfig] of Object.entries(config.listeners)) {
      const hostname = listenerConfig.hostname ?? node;
      const tls = listenerConfig.tls.mode === 'none' ? null : await loadTlsIdentity(listenerConfig.tls, hostname, dirname(config.store.path), log);
      const listener = new SmtpListener(name, listenerConfig, {
        store,
        delivery: scheduler,
        door,
        log,
        hostname,
        lifetimeMs: config.delivery.lifetime,
        tls,
      });
      addresses.set(name, await listener.start());
      listeners.push(listener);
    }
    if (config.http) {
      const hostname = config.http.hostname ?? node;
      const tls = config.http.tls.mode === 'https' ? await loadTlsIdentity(config.http.tls, hostname, dirname(config.store.path), log) : null;
      const receiveDeps = { store, delivery: scheduler, log, hostname, lifetimeMs: config.delivery.lifetime };
      http = new HttpSubmissionListener(config.http, tls, () => ({ door, tokens, receive: receiveDeps }), log);
      httpAddress = await http.start();
    }
    accepting = true;
    // Last: the console shows a relay that can already take and deliver mail.
    if (config.admin.enabled) admin = await startAdmin({ config, store, log, listeners: () => addresses, listening: () => accepting, ...(options.demo ? { demo: true } : {}) });
  } catch (err) {
    await admin?.stop();
    await Promise.all(listeners.map((l) => l.stop()));
    await http?.stop();
    await scheduler.stop(0);
    await connections.stop().catch(() => undefined);
    await presence.stop().catch(() => undefined);
    await store.close();
    throw err;
  }
  await notifications.started();

  const reloadable: Reloadable = {
    config,
    door,
    router,
    transports,
    transportContext: context,
    log,
    onApps: (apps) => (tokens = new ApiTokens(apps)),
    onAdminUsers: (users) => admin?.setUsers(users),
  };
  return {
    store,
    scheduler,
    listeners: addresses,
    http: httpAddress,
    admin,
    reload(next) {
      return reloadConfig(reloadable, next);
    },
    async stop() {
      log.info('stopping: no new connections; deliveries in progress may finish');
      // Committed before anything stops, so it survives the shutdown; delivered now if a route can within shutdownGrace.
      const stopMail = await notifications.stopping();
      if (stopMail) await sentOrTimeout(store, stopMail, config.delivery.shutdownGrace);
      accepting = false;
      await Promise.all([Promise.all(listeners.map((l) => l.stop())), http?.stop(), scheduler.stop(config.delivery.shutdownGrace)]);
      await admin?.stop();
      await Promise.all([...transports.values()].map((t) => t.close()));
      await connections.stop().catch((err: unknown) => log.warn({ err }, "could not give this node's mailbox connections back in the store"));
      await presence.stop().catch((err: unknown) => log.warn({ err }, 'could not mark this node stopped in the store'));
      await store.close();
      log.info('stopped');
    },
  };
}

/** Waits until the message is delivered (or failed), at most `ms`: the stopping mail goes out before the relay does, when it can. */
async function sentOrTimeout(store: Store, id: string, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const message = await store.get(id);
    if (!message || isFinal(message.state) || message.state === 'held') return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
