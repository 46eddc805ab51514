/**
 * The relay's Prometheus metrics, in one registry that the stages import and tick at the
 * moment something happens (a message committed, an attempt finished, a token fetched, a
 * budget waited for); /metrics (admin/server.ts) serves it. Queue depth is read from the
 * store when scraped, so with several nodes every node reports the whole queue.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Store } from '../queue/store.js';
import { State } from '../queue/states.js';

export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'relay365_' });

const received = new Counter({
  name: 'relay365_messages_received_total',
  help: 'Messages accepted and committed to the queue, by app and listener.',
  labelNames: ['app', 'listener'] as const,
  registers: [registry],
});
const outcomes = new Counter({
  name: 'relay365_recipients_total',
  help: 'Recipient outcomes of delivery attempts (delivered, deferred, failed, held), by route and app.',
  labelNames: ['outcome', 'route', 'app'] as const,
  registers: [registry],
});
const latency = new Histogram({
  name: 'relay365_delivery_latency_seconds',
  help: 'From receiving a message to its delivery to the upstream, per delivered recipient, by route.',
  labelNames: ['route'] as const,
  buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400],
  registers: [registry],
});
const replies = new Counter({
  name: 'relay365_upstream_replies_total',
  help: 'Upstream answers by class (2xx, 4xx, 5xx, or none when no reply came) and verdict, by route.',
  labelNames: ['route', 'class', 'verdict'] as const,
  registers: [registry],
});
const tokens = new Counter({
  name: 'relay365_token_requests_total',
  help: 'Access tokens fetched from Entra ID (or refreshed), and failures, by route.',
  labelNames: ['route', 'result'] as const,
  registers: [registry],
});
const pacingWaits = new Counter({
  name: 'relay365_pacing_waits_total',
  help: "Deliveries put off because a mailbox's sending budget was used up, by limit.",
  labelNames: ['limit'] as const,
  registers: [registry],
});

const bounces = new Counter({
  name: 'relay365_recipients_bounced_total',
  help: "Recipients Microsoft 365 accepted and then returned in a non-delivery report to the route's mailbox, by route.",
  labelNames: ['route'] as const,
  registers: [registry],
});

export interface AttemptOutcome {
  route: string;
  app: string | null;
  verdict: 'delivered' | 'transient' | 'permanent' | 'route-broken';
  replyCode: number | null;
  receivedAt: number;
  finishedAt: number;
}

const OUTCOME = { delivered: 'delivered', transient: 'deferred', permanent: 'failed', 'route-broken': 'held' } as const;

/** The hooks the relay's stages call. */
export const metrics = {
  received(app: string | null, listener: string): void {
    received.inc({ app: app ?? '', listener });
  },
  attempted(o: AttemptOutcome): void {
    const app = o.app ?? '';
    outcomes.inc({ outcome: OUTCOME[o.verdict], route: o.route, app });
    replies.inc({ route: o.route, class: o.replyCode ? `${Math.floor(o.replyCode / 100)}xx` : 'none', verdict: o.verdict });
    if (o.verdict === 'delivered') latency.observe({ route: o.route }, Math.max(0, o.finishedAt - o.receivedAt) / 1000);
  },
  token(route: string, ok: boolean): void {
    tokens.inc({ route, result: ok ? 'ok' : 'failed' });
  },
  pacingWait(limit: 'messages' | 'recipients'): void {
    pacingWaits.inc({ limit });
  },
  bounced(route: string): void {
    bounces.inc({ route });
  },
};

/** Queue depth by state, read from `store` at each scrape (only one store per process is reported). */
const depth = new Gauge({
  name: 'relay365_queue_messages',
  help: 'Messages in the store by state (the whole cluster with PostgreSQL).',
  labelNames: ['state'] as const,
  registers: [registry],
  async collect() {
    if (!depthStore) return;
    // A store that does not answer shows in /readyz; the scrape still answers, with the last depths.
    const counts = await depthStore.countByState().catch(() => null);
    if (!counts) return;
    for (const state of Object.values(State)) this.set({ state }, counts[state] ?? 0);
  },
});
void depth;
let depthStore: Store | null = null;

export function reportQueueDepthOf(store: Store): void {
  depthStore = store;
}

export function stopReportingQueueDepthOf(store: Store): void {
  if (depthStore === store) depthStore = null;
}
