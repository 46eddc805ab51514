/**
 * The delivery loop. It claims due messages (leased, so a crashed node's work returns to
 * the queue), runs at most `concurrency` attempts at once, renews the leases of long
 * deliveries, and now and then expires messages that outlived their lifetime and purges
 * old finished ones.
 *
 * New mail does not go through a claim: while a delivery slot is free, ingress reserves
 * it, commits the message already leased to this node, and hands it over (DeliveryIntake),
 * which saves a write transaction per message. The store is asked for due work only when
 * there may be some: mail committed while every slot was busy, a retry time reached, or
 * the poll interval passed (other processes and nodes change the queue too).
 */
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { AttemptReport, ClaimedMessage, Store } from '../queue/store.js';
import { metrics } from '../admin/metrics.js';
import { formatDuration } from './format.js';
import { attemptDelivery, type AttemptDeps } from './attempt.js';

export interface SchedulerOptions extends AttemptDeps {
  delivery: Config['delivery'];
  retention: number;
  /** Writes the DSNs that final states (and long waits) call for: src/notify/dsn-sweep.ts. */
  reports?: { run(now: number): Promise<number> };
  /** Looks at the relay's health for the admins now and then: src/notify/watch.ts. */
  watch?: { check(now: number): Promise<void> };
}

/** After an attempt that failed or delivered recipients, DSNs are looked for this soon (not at the next maintenance). */
const REPORT_DELAY_MS = 200;

/** How ingress hands committed mail to delivery. */
export interface DeliveryIntake {
  /** A lease for a message about to be committed, when a delivery slot is free; null when all are busy. */
  reserve(): { node: string; until: number } | null;
  /** The message committed under the reserved lease: delivery starts now. */
  deliverNow(message: ClaimedMessage): void;
  /** The commit failed: the reserved slot is free again. */
  unreserve(): void;
  /** A message was committed without a lease: it waits in the queue for a free slot. */
  queued(): void;
}

export class Scheduler implements DeliveryIntake {
  private running = false;
  private loopDone: Promise<void> = Promise.resolve();
  private readonly inflight = new Map<string, { done: Promise<void>; abort: AbortController }>();
  private reserved = 0;
  /** Due work may be waiting in the store (unknown at start, so look). */
  private backlog = true;
  /** When the next known retry or lease expiry falls due. */
  private dueAt = 0;
  private lastLook = 0;
  private wakeUp: (() => void) | null = null;
  private woken = false;
  private lastMaintenance = 0;
  private lastProbeCheck = 0;
  /** A recipient reached a final state (or expiry ran): a DSN may be due. */
  private reportsDue = true;
  private lastReports = 0;
  /** The probe time each held route was last given a message for, so one probe releases one message. */
  private readonly probed = new Map<string, number>();
  private leaseTimer: NodeJS.Timeout | null = null;
  private readonly log: Logger;

  constructor(private readonly options: SchedulerOptions) {
    this.log = options.log.child({ component: 'scheduler' });
  }

  async start(): Promise<void> {
    const released = await this.options.store.releaseLeases(this.options.node, Date.now());
    if (released.length) {
      this.log.warn({ messages: released }, 'this node stopped while delivering these messages; they are queued again');
    }
    this.running = true;
    this.loopDone = this.loop();
    const every = Math.max(250, Math.floor(this.options.delivery.lease / 3));
    this.leaseTimer = setInterval(() => void this.renewLeases(), every);
  }

  reserve(): { node: string; until: number } | null {
    if (!this.running || this.inflight.size + this.reserved >= this.options.delivery.concurrency) return null;
    this.reserved++;
    return { node: this.options.node, until: Date.now() + this.options.delivery.lease };
  }

  deliverNow(message: ClaimedMessage): void {
    this.reserved--;
    if (this.running) this.launch(message);
    else void this.options.store.act(message.id, 'requeue', Date.now(), 'returned to the queue at shutdown');
  }

  unreserve(): void {
    this.reserved--;
  }

  queued(): void {
    this.backlog = true;
    this.wake();
  }

  /** Look at the queue now (an admin retried a message, say) rather than at the next poll. */
  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  /**
   * Stops claiming, gives in-flight attempts `graceMs` to finish, then abandons the rest
   * and returns their messages to the queue at once (rather than after the lease).
   */
  async stop(graceMs: number): Promise<void> {
    this.running = false;
    this.wake();
    await this.loopDone;
    if (this.leaseTimer) clearInterval(this.leaseTimer);
    const pending = [...this.inflight.values()].map((f) => f.done);
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), graceMs).unref());
    if ((await Promise.race([Promise.all(pending), timeout])) === 'timeout') {
      const ids = [...this.inflight.keys()];
      this.log.warn({ messages: ids.length }, 'deliveries still running at shutdown; returning them to the queue');
      for (const flight of this.inflight.values()) flight.abort.abort();
      for (const id of ids) await this.options.store.act(id, 'requeue', Date.now(), 'returned to the queue at shutdown');
    }
  }

  get busy(): number {
    return this.inflight.size;
  }

  private async loop(): Promise<void> {
    const { store, node } = this.options;
    const { concurrency, lease, poll } = this.options.delivery;
    while (this.running) {
      this.woken = false;
      try {
        await this.maintain();
        await this.probeHeldRoutes();
        await this.sweepReports();
        const free = concurrency - this.inflight.size - this.reserved;
        const now = Date.now();
        if (free > 0 && (this.backlog || now >= this.dueAt || now - this.lastLook >= poll)) {
          this.lastLook = now;
          const claimed = await store.claimDue(node, free, now, lease);
          for (const message of claimed) this.launch(message);
          this.backlog = claimed.length === free;
          if (this.backlog) continue;
          this.dueAt = (await store.nextWakeAt()) ?? Number.POSITIVE_INFINITY;
        }
        // A finishing attempt wakes the loop; it looks again only if there may be work.
        await this.sleep(Math.min(poll, Math.max(5, this.dueAt - Date.now())));
      } catch (err) {
        this.log.error({ err }, 'delivery loop failed; trying again');
        await this.sleep(poll);
      }
    }
  }

  private launch(message: ClaimedMessage): void {
    if (message.recovered) {
      this.log.warn({ msgId: message.id }, 'took over a message whose lease expired (its node stopped while delivering it)');
    }
    const abort = new AbortController();
    const done = attemptDelivery(message, this.options, abort.signal)
      .then(async (report) => {
        await this.options.store.finishAttempt(report);
        if (report.state === 'held') await this.releaseIfRouteWorks(report);
        countAttempt(message, report);
        // A delivered recipient is owed a DSN only when its NOTIFY asked for SUCCESS (rare):
        // the sweep's query would find nothing for the rest, so it is not woken for them.
        const successAsked = (idx: number) => /SUCCESS/i.test(String(message.recipients.find((r) => r.idx === idx)?.params.NOTIFY ?? ''));
        if (report.results.some((r) => r.state === 'failed' || (r.state === 'delivered' && successAsked(r.idx)))) this.reportsDue = true;
      })
      .catch((err: unknown) => this.log.error({ err, msgId: message.id }, 'could not record the attempt; the lease will return the message to the queue'))
      .finally(() => {
        this.inflight.delete(message.id);
        this.wake();
      });
    this.inflight.set(message.id, { done, abort });
  }

  /**
   * A message is held because its route was held when the attempt ended; if the route was
   * released in between (a new sign-in with the CLI, an admin, another node's probe), its
   * release found the message still in delivery and passed it by. Released here instead, or
   * it would wait on a route that works until an admin noticed. A route active all along (one
   * that is not configured, say) is not a release: the message stays held.
   */
  private async releaseIfRouteWorks(report: AttemptReport): Promise<void> {
    const routes = new Set(report.results.filter((r) => r.state === 'held').map((r) => r.via ?? r.route));
    const statuses = new Map((await this.options.store.routeStatuses()).map((r) => [r.name, r]));
    const releasedSince = (route: string) => {
      const status = statuses.get(route);
      return status?.state === 'active' && status.since !== null && status.since >= report.startedAt;
    };
    if (![...routes].every(releasedSince)) return;
    const released = await this.options.store.act(report.messageId, 'release', Date.now(), 'its route works again');
    if (released.ok) this.log.info({ msgId: report.messageId, routes: [...routes] }, 'its route was released while this message was in delivery: queued again');
  }

  /** Sleeps until woken (new mail, a free slot, shutdown) or `ms` pass. */
  private sleep(ms: number): Promise<void> {
    if (this.woken || !this.running) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = () => {
        this.wakeUp = null;
        done();
      };
    });
  }

  private async renewLeases(): Promise<void> {
    const ids = [...this.inflight.keys()];
    if (!ids.length) return;
    try {
      const held = await this.options.store.renewLeases(this.options.node, ids, Date.now() + this.options.delivery.lease);
      if (held.length < ids.length) this.log.warn({ lost: ids.filter((id) => !held.includes(id)) }, 'lost the lease on messages still being delivered');
    } catch (err) {
      this.log.error({ err }, 'could not renew delivery leases');
    }
  }

  /** A held route whose probe is due gets one of its held messages back, to try whether it works again. */
  private async probeHeldRoutes(): Promise<void> {
    const now = Date.now();
    if (now - this.lastProbeCheck < Math.min(1000, this.options.delivery.poll)) return;
    this.lastProbeCheck = now;
    for (const route of await this.options.store.routeStatuses()) {
      if (route.state !== 'held' || route.probeAt === null || route.probeAt > now || this.probed.get(route.name) === route.probeAt) continue;
      this.probed.set(route.name, route.probeAt);
      if (await this.options.store.releaseHeld(now, route.name, 1)) {
        this.backlog = true;
        this.log.info({ route: route.name }, 'route is held: giving it one message to see whether it works again');
      }
    }
  }

  private async sweepReports(): Promise<void> {
    const now = Date.now();
    if (!this.options.reports || !this.reportsDue || now - this.lastReports < REPORT_DELAY_MS) return;
    this.reportsDue = false;
    this.lastReports = now;
    try {
      if (await this.options.reports.run(now)) this.backlog = true;
    } catch (err) {
      this.reportsDue = true;
      this.log.error({ err }, 'could not look for due DSNs; trying again');
    }
  }

  private async maintain(): Promise<void> {
    const now = Date.now();
    // Often enough that a message expires within a tenth of its lifetime of being due to.
    const every = Math.min(30_000, Math.max(1000, this.options.delivery.lifetime / 10));
    if (now - this.lastMaintenance < every) return;
    this.lastMaintenance = now;
    const lifetime = formatDuration(this.options.delivery.lifetime);
    const expired = await this.options.store.expire(now, (last) =>
      `Expired: not delivered within ${lifetime} (delivery.lifetime)${last ? `; last error: ${last}` : ''}`,
    );
    for (const id of expired) this.log.warn({ msgId: id }, `expired after ${lifetime} in the queue`);
    this.reportsDue = true; // expiries, and recipients that have waited past the delay warning
    // Not awaited: a notification may wait on a webhook, and delivery must not wait with it.
    void this.options.watch?.check(now).catch((err: unknown) => this.log.error({ err }, 'could not check the relay\'s health for the admins'));
    const purged = await this.options.store.purge(now - this.options.retention);
    if (purged) this.log.info({ messages: purged }, 'purged finished messages past store.retention');
  }
}

/** Metrics for what an attempt concluded, per recipient tried (admin/metrics.ts). */
function countAttempt(message: ClaimedMessage, report: AttemptReport): void {
  const finishedAt = report.startedAt + report.durationMs;
  for (const r of report.results) {
    if (!r.attempted) continue;
    metrics.attempted({ route: r.route, app: message.app, verdict: r.verdict, replyCode: r.reply?.code ?? null, receivedAt: message.receivedAt, finishedAt });
  }
}
