/**
 * The arithmetic of sign-in attempts, the same in both stores (the rules are SignInLimits' in
 * store-cluster.ts). Each store reads the rows of an attempt's two keys under a lock, asks these
 * functions what to write, and writes it in the same transaction.
 *
 * A row counts the attempts against its key that did not succeed: `count` includes the ones
 * still being checked (`pending`), so an attempt is counted before its password is checked,
 * and attempts in flight together can never get more checks than `max`. A node that dies
 * mid-check leaves its attempt counted as a failure.
 */
import type { SignInAdmission, SignInAttempt } from './store.js';

/** A row of the sign_in_failures table. */
export interface FailureRow {
  key: string;
  count: number;
  pending: number;
  /** The first attempt of the address's window. */
  first_at: number;
  /** The latest attempt (a user's count is forgotten `windowMs` after it). */
  last_at: number;
  /** An address's cool-down, or a user's slow-down, runs until then. */
  locked_until: number;
}

export interface AttemptRows {
  address: FailureRow | undefined;
  user: FailureRow | undefined;
  /** The user signed in from the address recently (the sign_in_trust table). */
  trusted: boolean;
}

const fresh = (key: string, now: number): FailureRow => ({ key, count: 0, pending: 0, first_at: now, last_at: now, locked_until: 0 });

/** Numbers as the stores give them (PostgreSQL's bigint comes as a string). */
function read(row: FailureRow | undefined): FailureRow | undefined {
  return row && { key: row.key, count: Number(row.count), pending: Number(row.pending), first_at: Number(row.first_at), last_at: Number(row.last_at), locked_until: Number(row.locked_until) };
}

/** Whether the attempt may be checked, and the rows to write when it may (refused: nothing changes). */
export function admit(rows: AttemptRows, attempt: SignInAttempt, now: number): { admission: SignInAdmission; write: FailureRow[] } {
  const { address: addressLimit, user: userLimit } = attempt.limits;
  let address = read(rows.address) ?? fresh(attempt.address, now);
  if (address.locked_until > now) return { admission: { admitted: false, refusal: 'cooling-down', until: address.locked_until }, write: [] };
  if (now - address.first_at >= addressLimit.windowMs) address = fresh(attempt.address, now);
  if (address.count >= addressLimit.max) return { admission: { admitted: false, refusal: 'in-progress' }, write: [] };

  let user = read(rows.user) ?? fresh(attempt.user, now);
  if (!rows.trusted && user.locked_until > now) return { admission: { admitted: false, refusal: 'slowed-down', until: user.locked_until }, write: [] };
  if (now - Math.max(user.last_at, user.locked_until) >= userLimit.windowMs) user = fresh(attempt.user, now);

  address = { ...address, count: address.count + 1, pending: address.pending + 1, last_at: now };
  user = { ...user, count: user.count + 1, pending: user.pending + 1, last_at: now };
  if (user.count >= userLimit.max) user.locked_until = Math.max(user.locked_until, now + userLimit.slowDownMs);
  return { admission: { admitted: true }, write: [address, user] };
}

/**
 * A wrong password: both counts stay, no longer pending. The address cools down once its
 * failures (not the attempts still in flight) reach max; returns the cool-down's end.
 */
export function afterFailure(rows: AttemptRows, attempt: SignInAttempt, now: number): { coolDownUntil: number | null; write: FailureRow[] } {
  const write: FailureRow[] = [];
  const user = read(rows.user);
  if (user) write.push({ ...user, pending: Math.max(0, user.pending - 1) });
  const address = read(rows.address);
  if (!address) return { coolDownUntil: null, write };
  const settled = { ...address, pending: Math.max(0, address.pending - 1) };
  if (settled.locked_until > now) return { coolDownUntil: settled.locked_until, write: [...write, settled] };
  if (settled.count - settled.pending < attempt.limits.address.max) return { coolDownUntil: null, write: [...write, settled] };
  // The cool-down starts a new window; attempts still in flight stay counted in it.
  const until = now + attempt.limits.address.coolDownMs;
  return { coolDownUntil: until, write: [...write, { ...settled, count: settled.pending, first_at: now, last_at: now, locked_until: until }] };
}

/** A right password: the address gets back this attempt's count (the user's row is deleted by the store). */
export function afterSuccess(rows: AttemptRows): FailureRow[] {
  const address = read(rows.address);
  return address ? [{ ...address, count: Math.max(0, address.count - 1), pending: Math.max(0, address.pending - 1) }] : [];
}
