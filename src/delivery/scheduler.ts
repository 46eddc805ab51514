/**
 * The delivery loop. It claims due messages (leased, so a crashed node's work returns to
 * the queue), runs at most `concurrency` attempts at once, renews the leases of long
 * deliveries, and now and then expires messages that outlived their lifetime and purges
 * old finished ones. New mail wakes it at once; otherwise it sleeps until the next
 * message is due, or the poll interval passes (other processes may have changed things).
 */
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { ClaimedMessage, Store } from '../queue/store.js';
import { formatDuration } from './format.js';
import { attemptDelivery, type AttemptDeps } from './attempt.js';

export interface SchedulerOptions extends AttemptDeps {
  delivery: Config['delivery'];
  retention: number;
}


export class Scheduler {
  private running = false;
  private loopDone: Promise<void> = Promise.resolve();
  private readonly inflight = new Map<string, { done: Promise<void>; abort: AbortController }>();
  private wakeUp: (() => void) | null = null;
  private woken = false;
  private lastMaintenance = 0;
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

  /** New mail: look for due work now rather than at the next poll. */
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
        const free = concurrency - this.inflight.size;
        if (free <= 0) {
          await this.sleep(poll); // a finishing attempt wakes the loop
          continue;
        }
        const claimed = await store.claimDue(node, free, Date.now(), lease);
        for (const message of claimed) this.launch(message);
        if (claimed.length === free) continue; // there may be more due than slots
        const next = await store.nextWakeAt();
        await this.sleep(next === null ? poll : Math.min(poll, Math.max(5, next - Date.now())));
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
      .then((report) => this.options.store.finishAttempt(report))
      .catch((err: unknown) => this.log.error({ err, msgId: message.id }, 'could not record the attempt; the lease will return the message to the queue'))
      .finally(() => {
        this.inflight.delete(message.id);
        this.wake();
      });
    this.inflight.set(message.id, { done, abort });
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
    const purged = await this.options.store.purge(now - this.options.retention);
    if (purged) this.log.info({ messages: purged }, 'purged finished messages past store.retention');
  }
}
