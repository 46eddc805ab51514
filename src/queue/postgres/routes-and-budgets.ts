/**
 * Route states and mailbox budgets in PostgreSQL, shared by every node. A budget is a log of
 * sends per mailbox (time, recipients), so its windows slide exactly ("30 in the last
 * minute", "10,000 recipients in the last 24 hours") and "30 a minute" holds for the whole
 * cluster, not per node: a reservation looks at the log and adds to it under a transaction
 * advisory lock on the mailbox, so two nodes can never both take the 30th place.
 *
 * Every delivery asks for its route's state; a node reads all routes at most once per
 * ROUTE_STATE_CACHE_MS rather than once per message. Its own changes show at once; a route
 * paused or held by another node (or the CLI) is seen here within that time.
 */
import type pg from 'pg';
import type { Reservation, RouteState, RouteStatus, SendLimits, SendUsage } from '../store.js';
import { activeRoute, toStatus, type RouteRow } from '../sqlite/routes-and-budgets.js';
import { LOCKS, transaction } from './connection.js';
import { SQL } from './sql.js';

export const ROUTE_STATE_CACHE_MS = 1000;

export class PostgresRoutes {
  private cached: { at: number; routes: Promise<Map<string, RouteStatus>> } | null = null;

  constructor(private readonly pool: pg.Pool) {}

  async statuses(): Promise<RouteStatus[]> {
    return [...(await this.read(0)).values()];
  }

  async status(name: string): Promise<RouteStatus> {
    return (await this.read(ROUTE_STATE_CACHE_MS)).get(name) ?? activeRoute(name);
  }

  /** Every route's state, read afresh when the last read is older than `maxAge` (one read for all callers meanwhile). */
  private read(maxAge: number): Promise<Map<string, RouteStatus>> {
    const now = Date.now();
    if (this.cached && now - this.cached.at <= maxAge) return this.cached.routes;
    const routes = this.pool.query<RouteRow>({ name: 'routes', text: SQL.routes }).then(({ rows }) => new Map(rows.map((r) => [r.name, toStatus(r)])));
    const entry = { at: now, routes };
    this.cached = entry;
    routes.catch(() => {
      if (this.cached === entry) this.cached = null; // a failed read is not kept
    });
    return routes;
  }

  async setState(name: string, state: RouteState, now: number, details: { reason?: string | null; fix?: string | null; probeAt?: number | null }): Promise<void> {
    this.cached = null;
    await this.pool.query(SQL.setRouteState, [name, state, details.reason ?? null, details.fix ?? null, now, details.probeAt ?? null]);
    this.cached = null;
  }

  async noteResult(name: string, ok: boolean, now: number, error: string | null): Promise<void> {
    if (ok) await this.pool.query(SQL.routeSuccess, [name, now]);
    else await this.pool.query(SQL.routeFailure, [name, now, error]);
    this.cached = null;
  }

  async claimProbe(name: string, now: number, next: number): Promise<boolean> {
    const claimed = ((await this.pool.query(SQL.claimProbe, [next, name, now])).rowCount ?? 0) > 0;
    this.cached = null;
    return claimed;
  }
}

export class PostgresBudgets {
  constructor(private readonly pool: pg.Pool) {}

  reserve(key: string, recipients: number, now: number, limits: SendLimits): Promise<Reservation> {
    return transaction(this.pool, async (client): Promise<Reservation> => {
      await client.query({ name: 'lock-budget', text: SQL.lockBudget, values: [LOCKS.class, key] });
      const minuteStart = now - limits.minuteMs;
      const dayStart = now - limits.dayMs;
      const { rows } = await client.query<{ sent: number; used: number }>({ name: 'budget-used', text: SQL.budgetUsed, values: [key, minuteStart, dayStart] });
      const { sent, used } = rows[0] ?? { sent: 0, used: 0 };
      if (sent >= limits.messages) {
        // The budget frees when the send that fills it slides out of the window.
        const nth = await client.query<{ at: number }>(SQL.nthSend, [key, minuteStart, sent - limits.messages]);
        return { ok: false, until: (nth.rows[0]?.at ?? now) + limits.minuteMs + 1, limit: 'messages', used: sent };
      }
      if (used + recipients > limits.recipients) {
        const free = await client.query<{ at: number }>(SQL.recipientsFreeAt, [key, dayStart, used, recipients, limits.recipients]);
        const at = free.rows[0]?.at;
        return { ok: false, until: at === undefined ? now + limits.dayMs : at + limits.dayMs + 1, limit: 'recipients', used };
      }
      const inserted = await client.query<{ id: number }>({ name: 'insert-send', text: SQL.insertSend, values: [key, now, recipients] });
      return { ok: true, id: inserted.rows[0]?.id as number };
    });
  }

  async settle(id: number, at: number): Promise<void> {
    await this.pool.query({ name: 'settle-send', text: SQL.settleSend, values: [at, id] });
  }

  async usage(key: string, now: number, limits: SendLimits): Promise<SendUsage> {
    const { rows } = await this.pool.query<{ sent: number; used: number }>({ name: 'budget-used', text: SQL.budgetUsed, values: [key, now - limits.minuteMs, now - limits.dayMs] });
    return { messagesThisMinute: rows[0]?.sent ?? 0, recipientsToday: rows[0]?.used ?? 0 };
  }
}
