/**
 * The connections this node has open to each mailbox. Exchange Online counts them per
 * mailbox, whoever opens them (3 SMTP connections, 4 Graph requests at once), so the nodes of
 * a cluster share them through the store: a node takes a slot from the store before its
 * transport opens a connection on it, keeps it while the connection sends and for IDLE_MS
 * after (the next message reuses the open connection), then closes the connection and gives
 * the slot back, so that another node may open one. A node that dies frees its slots when
 * its heartbeat stops. While all of a node's connections to a mailbox are busy, a few
 * messages wait for the next one to free (it takes milliseconds); the rest wait in the queue,
 * so that one slow mailbox cannot occupy every delivery slot. A node that finds every slot
 * taken says so in the store; the nodes holding them then keep no more than a fair share
 * (the limit divided among the nodes that want one) and give the rest back as they free.
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

/** A node's wish for a connection counts this long after it last found them all taken. */
const WANTED_FOR_MS = 2000;
/** How often a node holding connections reads whether other nodes want one. */
const WANTED_CHECK_MS = 500;

/** Closes the connection a route's transport keeps for a slot. */
export type CloseConnection = (route: string, slot: number) => Promise<void>;

interface Held {
  key: string;
  slot: number;
  /** The mailbox's limit (pacing.concurrency) when the slot was taken. */
  limit: number;
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
  /** Per mailbox: how many other nodes want one of its connections, as last read, and when. */
  private readonly wanted = new Map<string, { at: number; others: number }>();

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
    // While other nodes want one, a new slot only up to this node's share.
    const share = Math.ceil(limit / (1 + this.othersWanting(key)));
    if (mine.length < Math.min(limit, share) && (this.fullUntil.get(key) ?? 0) <= now) {
      const slot = await this.store.takeConnection(key, this.node, limit, now, now - SILENT_MS);
      if (slot !== null) {
        this.fullUntil.delete(key);
        const held: Held = { key, slot, limit, route, busy: true, idleTimer: null };
        this.held.set(key, [...(this.held.get(key) ?? []), held]);
        return this.connection(held);
      }
      // Many messages may be waiting for this mailbox: they need not each ask the store.
      this.fullUntil.set(key, now + FULL_RECHECK_MS);
      await this.store.wantConnection(key, this.node, now);
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
        const others = this.othersWanting(held.key);
        const mine = this.holding(held.key);
        if (others > 0 && mine > Math.ceil(held.limit / (1 + others))) {
          // More than this node's share while others wait: the slot goes back now, and the
          // messages waiting here that the remaining connections cannot serve soon go back to the queue.
          held.busy = false;
          void this.giveBack(held);
          const queue = this.waiting.get(held.key) ?? [];
          while (queue.length > WAITING_PER_CONNECTION * (mine - 1)) {
            const w = queue.pop() as Waiter;
            clearTimeout(w.timer);
            w.resolve(null);
          }
          if (!queue.length) this.waiting.delete(held.key);
          return;
        }
        const queue = this.waiting.get(held.key);
        const next = queue?.shift();
        if (queue && !queue.length) this.waiting.delete(held.key);
        if (next) {
          clearTimeout(next.timer);
          void this.use(held, next.route).then(next.resolve);
          return;
        }
        held.busy = false;
        held.idleTimer = setTimeout(() => void this.giveBack(held), others > 0 ? 0 : this.idleMs);
        held.idleTimer.unref();
      },
    };
  }

  /** Other nodes wanting the mailbox, as last read; read again (in the background) when that is old. */
  private othersWanting(key: string): number {
    const now = Date.now();
    const last = this.wanted.get(key);
    if (!last || now - last.at >= WANTED_CHECK_MS) {
      this.wanted.set(key, { at: now, others: last?.others ?? 0 });
      this.store.connectionWanted(key, this.node, now - WANTED_FOR_MS).then(
        (others) => this.wanted.set(key, { at: now, others }),
        (err: unknown) => this.log.warn({ err, mailbox: key }, 'could not read whether other nodes want a connection'),
      );
    }
    return last?.others ?? 0;
  }

  /** Closes an idle connection, then frees its slot (in that order: the count never runs over). */
  private async giveBack(held: Held): Promise<void> {
    if (held.busy || !(this.held.get(held.key) ?? []).includes(held)) return;
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
