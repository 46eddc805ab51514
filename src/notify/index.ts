/**
 * src/notify's one entry point for the running relay (relay.ts): the DSN sweep and health
 * watch the scheduler runs, the route-change hook the route gate calls, the bounce reader of
 * the routes' mailboxes, and the started / stopping notifications.
 */
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { RouteChange } from '../delivery/route-gate.js';
import { recentLines } from '../log.js';
import type { Store } from '../queue/store.js';
import type { Transport } from '../transports/transport.js';
import { AdminNotifier, type AdminEvent } from './admin-notifications.js';
import { BounceReader } from './bounces.js';
import { DsnSweep } from './dsn-sweep.js';
import { HealthWatch } from './watch.js';

export interface Notifications {
  reports: DsnSweep;
  watch: HealthWatch;
  bounces: BounceReader;
  notifier: AdminNotifier;
  onRouteChange: (change: RouteChange) => void;
  started(): Promise<void>;
  /** Commits the "stopping" mail (with the last log lines); returns its queue id when it was queued. */
  stopping(): Promise<string | null>;
}

export function createNotifications(config: Config, store: Store, transports: Map<string, Transport>, node: string, log: Logger, queued: () => void): Notifications {
  const notifier = new AdminNotifier({ store, config, routes: [...transports.keys()], node, log, queued });
  const failed = (err: unknown) => log.error({ err }, 'could not send the admin notification');
  const reports = new DsnSweep({ store, config, node, log });
  const bounces = new BounceReader({
    store,
    transports,
    node,
    log: log.child({ component: 'bounces' }),
    reportsDue: async () => {
      if (await reports.run(Date.now())) queued();
    },
  });
  return {
    reports,
    watch: new HealthWatch(notifier, store, config, transports),
    bounces,
    notifier,
    onRouteChange(change) {
      void notifier.notify(routeEvent(change)).catch(failed);
    },
    async started() {
      bounces.start();
      await notifier
        .notify({ kind: 'started', subject: 'relay365 started', text: `relay365 started on ${hostname()} (node ${node}, pid ${process.pid}) with routes: ${[...transports.keys()].join(', ')}.` })
        .catch(failed);
    },
    async stopping() {
      await bounces.stop();
      const lines = recentLines.last(config.notify.admin.logLines);
      const result = await notifier
        .notify({
          kind: 'stopping',
          subject: 'relay365 is stopping',
          text: `relay365 on ${hostname()} (node ${node}, pid ${process.pid}) is shutting down. Its last ${lines.length} log lines are attached.`,
          attachment: { filename: `relay365-${node}-last-log-lines.log`, content: lines.join('\n') + '\n' },
        })
        .catch((err: unknown) => (failed(err), null));
      return result?.id ?? null;
    },
  };
}

function routeEvent(change: RouteChange): AdminEvent {
  if (change.state === 'active') {
    return {
      kind: 'route-recovered',
      route: change.route,
      subject: `Route ${change.route} works again`,
      text: `The route ${change.route} delivered again; ${change.released} held messages are queued.`,
    };
  }
  return {
    kind: 'route-held',
    route: change.route,
    subject: `Route ${change.route} is held: its mail waits`,
    text: [
      change.reason,
      `What to do: ${change.fix ?? `see relay365 route list`}`,
      'relay365 keeps the route\'s messages and tries one now and then (delivery.probe); when it works again they are sent.',
    ].join('\n\n'),
  };
}
