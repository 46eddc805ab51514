/**
 * The connections this node has open to each mailbox. Exchange Online counts them per
 * mailbox, whoever opens them (3 SMTP connections, 4 Graph requests at once), so the nodes of
 * a cluster share them through the store: a node takes a slot from the store before its
 * transport opens a connection on it, keeps it while the connection sends and for IDLE_MS
 * after (the next message reuses the open connection), then closes the connection and gives
 * the slot back, so that another node may open one. A node that dies frees its slots when
 * its heartbeat stops. While all of a node's connections to a mailbox are busy, a few
 * messages wait for the next one to free (it takes milliseconds); the rest wait in the queue,
 * so that one slow mailbox cannot occupy every delivery slot.
 */
import type { Logger } from 'pino';
import { SILENT_MS } from '../queue/heartbeat.js';
import type { Store } from '../queue/store.js';

/** How long an idle connection stays open (and its slot taken) for the next message. */
export const IDLE_MS = 2000;

/** After the store said a mailbox has no slot free, this node asks again only this much later. */
const FULL_RECHECK_MS = 250;

/** Messages that may wait in this node for one of its busy connections to a mailbox, per connection. */
const WAITING_PER_CONNECTION = 4;
/** The longest a message waits here for a connection before it goes back to the queue. */
const LONGEST_WAIT_MS = 10_000;

/** Closes the connection a route's transport keeps for a slot. */
export type CloseConnection = (route: string, slot: number) => Promise<void>;

interface Held {
  key: string;
  slot: number;
  /** The route whose transport has a connection open on this slot. */
  route: string;
  busy: boolean;
  idleTimer: NodeJS.Timeout | null;
}

interface Waiter {
  route: string;
  resolve(connection: Connection | null): void;
  timer: NodeJS.Timeout;
}

export interface Connection {
  slot: number;
  /** Back to idle: the connection stays open for a while, then closes and frees the slot. */
  release(): void;
}

export class MailboxConnections {
  private readonly held = new Map<string, Held[]>();
  /** Mailboxes the store last found full, until when this node takes that answer as still true. */
  private readonly fullUntil = new Map<string, number>();
  private readonly waiting = new Map<string, Waiter[]>();

  constructor(
    private readonly store: Store,
    private readonly node: string,
    private readonly close: CloseConnection,
    private readonly log: Logger,
    private readonly idleMs = IDLE_MS,
  ) {}

  /** Slots this node holds for a mailbox, busy or idle. */
  holding(key: string): number {
    return this.held.get(key)?.length ?? 0;
  }

  /**
   * One of the mailbox's connections for `route`: an idle one this node holds, a new slot, or
   * the next of this node's busy ones to free; null while all are in use (and enough wait).
   */
  async take(key: string, route: string, limit: number, now: number): Promise<Connection | null> {
    const mine = this.held.get(key) ?? [];
    const idle = mine.find((h) => !h.busy && h.route === route) ?? mine.find((h) => !h.busy);
    if (idle) return this.use(idle, route);
    if (mine.length < limit && (this.fullUntil.get(key) ?? 0) <= now) {
      const slot = await this.store.takeConnection(key, this.node, limit, now, now - SILENT_MS);
      if (slot !== null) {
        this.fullUntil.delete(key);
        const held: Held = { key, slot, route, busy: true, idleTimer: null };
        this.held.set(key, [...(this.held.get(key) ?? []), held]);
        return this.connection(held);
      }
      // Many messages may be waiting for this mailbox: they need not each ask the store.
      this.fullUntil.set(key, now + FULL_RECHECK_MS);
    }
    const queue = this.waiting.get(key) ?? [];
    if (!this.holding(key) || queue.length >= WAITING_PER_CONNECTION * this.holding(key)) return null;
    return new Promise((resolve) => {
      const waiter: Waiter = {
        route,
        resolve,
        timer: setTimeout(() => {
          const left = (this.waiting.get(key) ?? []).filter((w) => w !== waiter);
          if (left.length) this.waiting.set(key, left);
          else this.waiting.delete(key);
          resolve(null);
        }, LONGEST_WAIT_MS),
      };
      queue.push(waiter);
      this.waiting.set(key, queue);
    });
  }

  private async use(held: Held, route: string): Promise<Connection> {
    held.busy = true;
    if (held.idleTimer) clearTimeout(held.idleTimer);
    held.idleTimer = null;
    if (held.route !== route) {
      // One connection per slot: the other route's must close before this one opens.
      await this.close(held.route, held.slot).catch((err: unknown) => this.log.warn({ err, route: held.route }, 'could not close an idle connection'));
      held.route = route;
    }
    return this.connection(held);
  }

  private connection(held: Held): Connection {
    let released = false;
    return {
      slot: held.slot,
      release: () => {
        if (released) return;
        released = true;
        const queue = this.waiting.get(held.key);
        const next = queue?.shift();
        if (queue && !queue.length) this.waiting.delete(held.key);
        if (next) {
          clearTimeout(next.timer);
          void this.use(held, next.route).then(next.resolve);
          return;
        }
        held.busy = false;
        held.idleTimer = setTimeout(() => void this.giveBack(held), this.idleMs);
        held.idleTimer.unref();
      },
    };
  }

  /** Closes an idle connection, then frees its slot (in that order: the count never runs over). */
  private async giveBack(held: Held): Promise<void> {
    if (held.busy) return;
    const left = (this.held.get(held.key) ?? []).filter((h) => h !== held);
    if (left.length) this.held.set(held.key, left);
    else this.held.delete(held.key);
    try {
      await this.close(held.route, held.slot);
      await this.store.releaseConnection(held.key, held.slot, this.node);
    } catch (err) {
      // The slot stays taken in the store until this node stops (or its heartbeat does).
      this.log.warn({ err, mailbox: held.key, slot: held.slot }, 'could not give a mailbox connection back');
    }
  }

  /** Slots left from this node's earlier life (a crash) are its own no longer. */
  async start(): Promise<void> {
    await this.store.releaseConnections(this.node);
  }

  /** At shutdown, after the transports closed their connections. */
  async stop(): Promise<void> {
    for (const list of this.held.values()) for (const h of list) if (h.idleTimer) clearTimeout(h.idleTimer);
    this.held.clear();
    for (const queue of this.waiting.values()) {
      for (const w of queue) {
        clearTimeout(w.timer);
        w.resolve(null);
      }
    }
    this.waiting.clear();
    await this.store.releaseConnections(this.node);
  }
}
