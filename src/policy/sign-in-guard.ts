/**
 * Every password sign-in — SMTP AUTH at the door, the console's sign-in — passes here:
 *
 * 1. Places on this node: at most a few checks at once per client address and per user name
 *    (more wait their turn, a few; beyond, "busy"), and a few scrypt checks at once on the
 *    whole node, whoever asks (each costs 128 MiB and most of a second of a CPU).
 * 2. The store counts the attempt against the address and the user name BEFORE the password is
 *    checked, in one transaction with the check of the address's cool-down and the user's
 *    slow-down (SignInLimits): attempts racing each other, on one node or on several, get no
 *    more checks than the limits allow.
 * 3. The password is checked; the store hears how it went. A wrong one stays counted; a right
 *    one clears the user's count, gives the address back only this attempt's count, and
 *    trusts the address for the user (its slow-down does not apply there).
 *
 * Each node also remembers the cool-downs it has seen, so the door turns such an address away
 * at connect without asking the store.
 */
import { createHash } from 'node:crypto';
import type { SignInAttempt, SignInLimits, Store } from '../queue/store.js';
import { clientKeyOf } from './client-key.js';
import { Slots } from './slots.js';

export interface SignInRules {
  limits: SignInLimits;
  atOnce: { perAddress: number; perUser: number; waiting: number };
}

/** What became of an attempt; `busy`: too many at once for the address, the user or this node: try again in a moment. */
export type SignInOutcome<T> =
  | { ok: true; value: T }
  | { ok: false; refusal: 'wrong'; coolDownUntil: number | null }
  | { ok: false; refusal: 'cooling-down' | 'slowed-down'; until: number }
  | { ok: false; refusal: 'busy'; of: 'address' | 'user' | 'node' };

/**
 * scrypt checks at once in this process, for SMTP AUTH and the console together: two keep the
 * memory at 256 MiB and leave libuv's other threads (files, DNS) free; 32 more may wait.
 */
const passwordCheckSlots = new Slots(2, 32);

export class SignInGuard {
  /** Cool-downs this node has seen, by address key: their end. */
  private readonly seen = new Map<string, number>();
  private readonly addresses: Slots;
  private readonly users: Slots;

  /** `kind` keeps SMTP's counts and the console's apart (smtp, admin). */
  constructor(
    private readonly store: Store,
    private readonly kind: string,
    private readonly rules: SignInRules,
    private readonly now: () => number = Date.now,
  ) {
    this.addresses = new Slots(rules.atOnce.perAddress, rules.atOnce.waiting);
    this.users = new Slots(rules.atOnce.perUser, rules.atOnce.waiting);
  }

  /** When the client's address may try again, if this node knows it is cooling down. */
  coolingDownUntil(client: string): number | null {
    const key = this.addressKey(client);
    const until = this.seen.get(key);
    if (until === undefined) return null;
    if (until > this.now()) return until;
    this.seen.delete(key);
    return null;
  }

  /** Counts the attempt, then runs `check` (the password check: the value signed in as, or undefined). */
  async attempt<T>(client: string, user: string, check: () => Promise<T | undefined>): Promise<SignInOutcome<T>> {
    const attempt: SignInAttempt = { address: this.addressKey(client), user: this.userKey(user), limits: this.rules.limits };
    const taken: (() => void)[] = [];
    try {
      const places = [[this.addresses, attempt.address, 'address'], [this.users, attempt.user, 'user'], [passwordCheckSlots, 'node', 'node']] as const;
      for (const [slots, key, of] of places) {
        const release = await slots.take(key);
        if (!release) return { ok: false, refusal: 'busy', of };
        taken.push(release);
      }
      const admission = await this.store.signInAttempt(attempt, this.now());
      if (!admission.admitted) {
        if (admission.refusal === 'in-progress') return { ok: false, refusal: 'busy', of: 'address' };
        if (admission.refusal === 'cooling-down') this.remember(attempt.address, admission.until);
        return { ok: false, refusal: admission.refusal, until: admission.until };
      }
      let value: T | undefined;
      try {
        value = await check();
      } catch (err) {
        await this.store.signInFailed(attempt, this.now()); // not left pending: it counts as a failure
        throw err;
      }
      if (value !== undefined) {
        await this.store.signInSucceeded(attempt, this.now());
        return { ok: true, value };
      }
      const coolDownUntil = await this.store.signInFailed(attempt, this.now());
      if (coolDownUntil !== null) this.remember(attempt.address, coolDownUntil);
      return { ok: false, refusal: 'wrong', coolDownUntil };
    } finally {
      for (const release of taken.reverse()) release();
    }
  }

  private addressKey(client: string): string {
    return `${this.kind}-ip:${clientKeyOf(client)}`;
  }

  /**
   * Case-insensitive, and hashed: a user name that is really a password typed in the wrong
   * field is not kept in the store (and every key has the same length, whatever is typed).
   */
  private userKey(user: string): string {
    return `${this.kind}-user:${createHash('sha256').update(user.normalize('NFC').toLowerCase()).digest('base64url')}`;
  }

  private remember(key: string, until: number): void {
    this.seen.set(key, until);
    if (this.seen.size > 10_000) for (const [k, end] of this.seen) if (end <= this.now()) this.seen.delete(k);
  }
}
