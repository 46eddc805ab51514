/**
 * Lock-out after repeated failed sign-ins, per user name and per client address (so neither
 * guessing one user's password from many places nor many users' from one place goes far).
 * Kept in this node's memory: with several nodes behind a load balancer each counts its own,
 * which multiplies the attempts by the number of nodes and still stops guessing.
 */
export interface LockoutPolicy {
  attempts: number;
  durationMs: number;
}

interface Failures {
  count: number;
  first: number;
  lockedUntil: number;
}

export class Lockout {
  private readonly failures = new Map<string, Failures>();

  constructor(private readonly policy: LockoutPolicy) {}

  /** When the key is locked out at `now`, the time it opens again; otherwise null. */
  lockedUntil(keys: string[], now: number): number | null {
    let until = 0;
    for (const key of keys) until = Math.max(until, this.failures.get(key)?.lockedUntil ?? 0);
    return until > now ? until : null;
  }

  failed(keys: string[], now: number): void {
    for (const key of keys) {
      const f = this.failures.get(key);
      // Failures older than the lock-out's length are forgotten: a typo a day never locks anyone out.
      const current = f && now - f.first < this.policy.durationMs ? f : { count: 0, first: now, lockedUntil: 0 };
      current.count++;
      if (current.count >= this.policy.attempts) current.lockedUntil = now + this.policy.durationMs;
      this.failures.set(key, current);
    }
    if (this.failures.size > 10_000) this.forgetOld(now);
  }

  succeeded(keys: string[]): void {
    for (const key of keys) this.failures.delete(key);
  }

  private forgetOld(now: number): void {
    for (const [key, f] of this.failures) if (f.lockedUntil < now && now - f.first >= this.policy.durationMs) this.failures.delete(key);
  }
}
