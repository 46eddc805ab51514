/**
 * A running relay: the store, the transports of every route, the delivery scheduler and
 * the SMTP listeners, started in the order a message travels backwards (so nothing is
 * accepted before it can be stored and delivered) and stopped in the reverse.
 */
import { dirname } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Config } from './config/schema.js';
import { openSignIns } from './credentials/sign-in-store.js';
import { effectiveRoutes, Router } from './delivery/router.js';
import { RouteGate } from './delivery/route-gate.js';
import { Scheduler } from './delivery/scheduler.js';
import { SmtpListener } from './ingress/listener.js';
import { AppDirectory } from './policy/apps.js';
import { Door } from './policy/door.js';
import { Predictions } from './policy/predict.js';
import { loadTlsIdentity } from './ingress/tls.js';
import { NodePresence } from './queue/heartbeat.js';
import { openStore } from './queue/open.js';
import type { Store } from './queue/store.js';
import { createTransport } from './transports/index.js';
import type { Transport } from './transports/transport.js';

export interface RunningRelay {
  store: Store;
  scheduler: Scheduler;
  /** Bound addresses by listener name (the port chosen when the config said 0). */
  listeners: Map<string, AddressInfo>;
  stop(): Promise<void>;
}

export async function startRelay(config: Config, log: Logger): Promise<RunningRelay> {
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
  const context = { ehloName: node, log, hasRoute: (name: string) => name in effectiveRoutes(config), ...(signIns ? { signIns } : {}), tokenCache: store };
  for (const [name, route] of Object.entries(effectiveRoutes(config))) {
    transports.set(name, createTransport(name, route, context));
    log.info({ route: name, transport: route.transport }, 'route ready');
  }
  if (!Object.keys(config.routes).length) {
    log.warn('no routes configured: mail is captured (kept in the store, not sent); add routes to deliver it');
  }
  const router = new Router(config);
  const scheduler = new Scheduler({
    store,
    router,
    gate: new RouteGate(store, config.delivery.probe, log),
    transports,
    retry: config.delivery.retry,
    node,
    log,
    delivery: config.delivery,
    retention: config.store.retention,
  });
  await scheduler.start();

  const door = new Door(new AppDirectory(config.apps), new Predictions(config.routes, router), store, config.protection, log);
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
  } catch (err) {
    await Promise.all(listeners.map((l) => l.stop()));
    await scheduler.stop(0);
    await presence.stop().catch(() => undefined);
    await store.close();
    throw err;
  }

  return {
    store,
    scheduler,
    listeners: addresses,
    async stop() {
      log.info('stopping: no new connections; deliveries in progress may finish');
      await Promise.all([Promise.all(listeners.map((l) => l.stop())), scheduler.stop(config.delivery.shutdownGrace)]);
      await Promise.all([...transports.values()].map((t) => t.close()));
      await presence.stop().catch((err: unknown) => log.warn({ err }, 'could not mark this node stopped in the store'));
      await store.close();
      log.info('stopped');
    },
  };
}
