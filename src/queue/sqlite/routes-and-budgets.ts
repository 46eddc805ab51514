/**
 * Route states and mailbox budgets in SQLite: the part of the store that is about routes
 * rather than messages. Budgets are a log of sends per mailbox (time, recipients), so the
 * windows slide exactly ("30 in the last minute", "10,000 in the last 24 hours") and every
 * node sharing the store sees the same budget.
 */
import type Database from 'better-sqlite3';
import type { Reservation, RouteState, RouteStatus, SendLimits, SendUsage } from '../store.js';

const SQL = {
  all: `SELECT * FROM routes ORDER BY name`,
  one: `SELECT * FROM routes WHERE name = ?`,
  upsertState: `INSERT INTO routes (name, state, reason, fix, since, probe_at, updated_at) VALUES (@name, @state, @reason, @fix, @now, @probe_at, @now)
    ON CONFLICT (name) DO UPDATE SET state = @state, reason = @reason, fix = @fix, probe_at = @probe_at, updated_at = @now,
      since = CASE WHEN routes.state = @state THEN routes.since ELSE @now END`,
  success: `INSERT INTO routes (name, state, last_success_at, updated_at) VALUES (@name, 'active', @now, @now)
    ON CONFLICT (name) DO UPDATE SET last_success_at = @now, updated_at = @now`,
  failure: `INSERT INTO routes (name, state, last_failure_at, last_error, updated_at) VALUES (@name, 'active', @now, @error, @now)
    ON CONFLICT (name) DO UPDATE SET last_failure_at = @now, last_error = @error, updated_at = @now`,
  claimProbe: `UPDATE routes SET probe_at = ? WHERE name = ? AND state = 'held' AND probe_at IS NOT NULL AND probe_at <= ?`,
  countSince: `SELECT count(*) AS n FROM sends WHERE key = ? AND at > ?`,
  nthSince: `SELECT at FROM sends WHERE key = ? AND at > ? ORDER BY at LIMIT 1 OFFSET ?`,
  recipientsSince: `SELECT at, recipients FROM sends WHERE key = ? AND at > ? ORDER BY at`,
  sumSince: `SELECT coalesce(sum(recipients), 0) AS n FROM sends WHERE key = ? AND at > ?`,
  insertSend: `INSERT INTO sends (key, at, recipients) VALUES (?, ?, ?)`,
  settleSend: `UPDATE sends SET at = max(at, ?) WHERE rowid = ?`,
  purgeSends: `DELETE FROM sends WHERE at < ?`,
} as const;

/** A row of the routes table (the same in both stores). */
export interface RouteRow {
  name: string;
  state: RouteState;
  reason: string | null;
  fix: string | null;
  since: number | null;
  probe_at: number | null;
  last_success_at: number | null;
  last_failure_at: number | null;
  last_error: string | null;
}

export const toStatus = (row: RouteRow): RouteStatus => ({
  name: row.name,
  state: row.state,
  reason: row.reason,
  fix: row.fix,
  since: row.since,
  probeAt: row.probe_at,
  lastSuccessAt: row.last_success_at,
  lastFailureAt: row.last_failure_at,
  lastError: row.last_error,
});

export const activeRoute = (name: string): RouteStatus => ({
  name,
  state: 'active',
  reason: null,
  fix: null,
  since: null,
  probeAt: null,
  lastSuccessAt: null,
  lastFailureAt: null,
  lastError: null,
});

export class RoutesAndBudgets {
  private readonly sql: { [K in keyof typeof SQL]: Database.Statement };

  constructor(private readonly db: Database.Database) {
    this.sql = Object.fromEntries(Object.entries(SQL).map(([k, v]) => [k, db.prepare(v)])) as never;
  }

  statuses(): RouteStatus[] {
    return (this.sql.all.all() as RouteRow[]).map(toStatus);
  }

  status(name: string): RouteStatus {
    const row = this.sql.one.get(name) as RouteRow | undefined;
    return row ? toStatus(row) : activeRoute(name);
  }

  setState(name: string, state: RouteState, now: number, details: { reason?: string | null; fix?: string | null; probeAt?: number | null }): void {
    this.sql.upsertState.run({ name, state, reason: details.reason ?? null, fix: details.fix ?? null, probe_at: details.probeAt ?? null, now });
  }

  noteResult(name: string, ok: boolean, now: number, error: string | null): void {
    if (ok) this.sql.success.run({ name, now });
    else this.sql.failure.run({ name, now, error });
  }

  claimProbe(name: string, now: number, next: number): boolean {
    return this.sql.claimProbe.run(next, name, now).changes > 0;
  }

  reserve(key: string, recipients: number, now: number, limits: SendLimits): Reservation {
    return this.db.transaction((): Reservation => {
      const minuteStart = now - limits.minuteMs;
      const sent = (this.sql.countSince.get(key, minuteStart) as { n: number }).n;
      if (sent >= limits.messages) {
        // The budget frees when the send that fills it slides out of the window.
        const { at } = this.sql.nthSince.get(key, minuteStart, sent - limits.messages) as { at: number };
        return { ok: false, until: at + limits.minuteMs + 1, limit: 'messages', used: sent };
      }
      const dayStart = now - limits.dayMs;
      const rows = this.sql.recipientsSince.all(key, dayStart) as { at: number; recipients: number }[];
      let used = rows.reduce((sum, r) => sum + r.recipients, 0);
      if (used + recipients > limits.recipients) {
        const total = used;
        let until = now + limits.dayMs;
        for (const row of rows) {
          used -= row.recipients;
          if (used + recipients <= limits.recipients) {
            until = row.at + limits.dayMs + 1;
            break;
          }
        }
        return { ok: false, until, limit: 'recipients', used: total };
      }
      const { lastInsertRowid } = this.sql.insertSend.run(key, now, recipients);
      return { ok: true, id: Number(lastInsertRowid) };
    }).immediate();
  }

  settle(id: number, at: number): void {
    this.sql.settleSend.run(at, id);
  }

  usage(key: string, now: number, limits: SendLimits): SendUsage {
    return {
      messagesThisMinute: (this.sql.countSince.get(key, now - limits.minuteMs) as { n: number }).n,
      recipientsToday: (this.sql.sumSince.get(key, now - limits.dayMs) as { n: number }).n,
    };
  }

  purge(before: number): void {
    this.sql.purgeSends.run(before);
  }
}
