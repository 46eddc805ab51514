/**
 * What stands between a message and its route: the route's own state and the sending
 * mailbox's budget. A paused or held route is not tried — its recipients are held, not
 * failed, and a held route lets one message through now and then (the probe) to find out
 * whether it works again; when one does, every message it held goes back to the queue.
 * A mailbox whose budget is used up makes its messages wait until the budget allows them,
 * instead of letting Microsoft refuse or silently delay them; a mailbox with all its
 * connections busy — on any node (mailbox-connections.ts) — makes them wait a moment, so one
 * slow mailbox cannot occupy every delivery slot.
 */
import { metrics } from '../admin/metrics.js';
import type { Logger } from 'pino';
import type { RouteState, Store, UpstreamReply } from '../queue/store.js';
import { outcome, type Outcome, type Pacing } from '../transports/transport.js';
import { formatDuration } from './format.js';
import type { MailboxConnections } from './mailbox-connections.js';

/** How long a message waits when its mailbox has every connection busy. */
const BUSY_WAIT_MS = 1000;

export type RouteChange = { route: string; state: 'held'; reason: string; fix: string | null } | { route: string; state: 'active'; released: number };

/** `state`: the route's state when it was admitted (held: this is its probe), for record() to compare with. */
export type Admission = { go: true; state: RouteState } | { go: false; outcome: Outcome; attempted: false };

/** Last success / last failure are written at most this often per route (not once per message). */
const NOTE_EVERY_MS = 5000;

export class RouteGate {
  private readonly noted = new Map<string, { at: number; ok: boolean }>();

  constructor(
    private readonly store: Store,
    private readonly connections: MailboxConnections,
    private readonly probeEvery: number,
    private readonly log: Logger,
    /** Told when a route becomes held or works again (src/notify mails the admins). */
    private readonly onChange?: (change: RouteChange) => void,
  ) {}

  /** May messages go to this route now? */
  async admit(route: string, now: number): Promise<Admission> {
    const status = await this.store.routeStatus(route);
    if (status.state === 'active') return { go: true, state: 'active' };
    if (status.state === 'paused') {
      return this.hold(`The route "${route}" is paused by an admin${status.since ? ` since ${new Date(status.since).toISOString()}` : ''}.`, `relay365 route resume ${route}`);
    }
    if (await this.store.claimProbe(route, now, now + this.probeEvery)) {
      this.log.info({ route }, 'route is held: trying one message to see whether it works again');
      return { go: true, state: 'held' };
    }
    const next = status.probeAt ? ` relay365 tries again at ${new Date(status.probeAt).toISOString()}.` : '';
    return this.hold(`The route "${route}" is held: ${status.reason ?? 'it failed in a way retrying cannot fix'}${next}`, status.fix);
  }

  private hold(diagnosis: string, fix: string | null): Admission {
    return { go: false, attempted: false, outcome: outcome('route-broken', diagnosis, { fix }) };
  }

  /**
   * Reserves one of the mailbox's connections (the transport sends over the connection it
   * keeps for that slot) and a place in its budget, or says how long to wait.
   */
  async pace(pacing: Pacing, route: string, recipients: number, now: number): Promise<{ go: true; connection: number; done: () => Promise<void> } | { go: false; outcome: Outcome }> {
    const connection = await this.connections.take(pacing.key, route, pacing.concurrency, now);
    if (!connection) {
      const mine = this.connections.holding(pacing.key);
      return {
        go: false,
        outcome: outcome('transient', `Waiting for a free connection to ${pacing.key}: all ${pacing.concurrency} it may have at once (pacing.concurrency) are in use, ${mine} of them by this node${mine < pacing.concurrency ? ' and the rest by other nodes' : ''}.`, {
          retryAt: now + BUSY_WAIT_MS,
        }),
      };
    }
    const reservation = await this.store.reserveSend(pacing.key, recipients, now, pacing.limits).catch((err: unknown) => {
      connection.release();
      throw err;
    });
    if (!reservation.ok) {
      connection.release();
      metrics.pacingWait(reservation.limit);
      const { limits } = pacing;
      const what =
        reservation.limit === 'messages'
          ? `${reservation.used} messages in the last ${formatDuration(limits.minuteMs)} (its limit: ${limits.messages}, pacing.messagesPerMinute)`
          : `${reservation.used} recipients in the last ${formatDuration(limits.dayMs)} (its limit: ${limits.recipients}, pacing.recipientsPerDay)`;
      return {
        go: false,
        outcome: outcome('transient', `Waiting for ${pacing.key}'s sending budget: it has sent ${what}. This message goes at ${new Date(reservation.until).toISOString()}.`, {
          retryAt: reservation.until,
        }),
      };
    }
    return {
      go: true,
      connection: connection.slot,
      done: async () => {
        connection.release();
        await this.store.settleSend(reservation.id, Date.now());
      },
    };
  }

  /**
   * After an attempt: a route-broken answer holds the route; a delivery on a held route (its
   * probe) releases it. `was` is the state admit() saw, so the common case reads nothing.
   */
  async record(route: string, was: RouteState, outcomes: Outcome[], now: number): Promise<void> {
    const broken = outcomes.find((o) => o.verdict === 'route-broken');
    const delivered = outcomes.some((o) => o.verdict === 'delivered');
    if (broken) {
      await this.store.setRouteState(route, 'held', now, { reason: broken.diagnosis, fix: broken.fix, probeAt: now + this.probeEvery });
      await this.store.noteRouteResult(route, false, now, describe(broken.reply) ?? broken.diagnosis);
      this.noted.set(route, { at: now, ok: false });
      if (was !== 'held') {
        this.log.error({ route, diagnosis: broken.diagnosis, fix: broken.fix }, 'route held: its messages wait until it works again');
        this.onChange?.({ route, state: 'held', reason: broken.diagnosis, fix: broken.fix });
      }
      return;
    }
    if (delivered && was === 'held') {
      await this.store.setRouteState(route, 'active', now);
      const released = await this.store.releaseHeld(now, route);
      this.log.warn({ route, released }, 'route works again: its held messages are queued');
      this.onChange?.({ route, state: 'active', released });
    }
    const failure = outcomes.find((o) => o.verdict !== 'delivered');
    const ok = delivered || !failure;
    const last = this.noted.get(route);
    if (last && last.ok === ok && now - last.at < NOTE_EVERY_MS) return;
    this.noted.set(route, { at: now, ok });
    await this.store.noteRouteResult(route, ok, now, failure ? (describe(failure.reply) ?? failure.diagnosis) : null);
  }
}

const describe = (reply: UpstreamReply | null) => (reply ? [reply.code, reply.enhanced, reply.text].filter(Boolean).join(' ') : null);
