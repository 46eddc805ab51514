/**
 * The arithmetic of failed sign-ins, the same in both stores: failures count from the first
 * one; after `windowMs` without reaching `max` they are forgotten (a typo a day never locks
 * anyone out); reaching `max` locks the key for `lockMs` and starts the count again.
 */
import type { SignInPolicy } from './store.js';

/** A row of the sign_in_failures table. */
export interface FailureRow {
  key: string;
  count: number;
  first_at: number;
  locked_until: number;
}

export function afterFailure(key: string, row: FailureRow | undefined, now: number, policy: SignInPolicy): FailureRow {
  const current = row && now - Number(row.first_at) < policy.windowMs ? { ...row, count: Number(row.count) } : { key, count: 0, first_at: now, locked_until: Number(row?.locked_until ?? 0) };
  current.count++;
  if (current.count < policy.max) return current;
  return { key, count: 0, first_at: now, locked_until: now + policy.lockMs };
}

/** The latest lock-out end among the rows that is still ahead of `now`. */
export function lockedUntil(rows: Pick<FailureRow, 'locked_until'>[], now: number): number | null {
  const until = Math.max(0, ...rows.map((r) => Number(r.locked_until)));
  return until > now ? until : null;
}
