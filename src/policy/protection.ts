/**
 * Protection at the door, per source address: failed AUTH attempts earn a cool-down (the
 * password-guessing defence), and no address may hold more than its share of connections.
 * Failures are counted in the store, for every node together: a guesser spreading attempts
 * over the nodes behind a load balancer gets no more tries than against one. Each node
 * remembers the cool-downs it has seen, so it turns such an address away at connect without
 * asking the store; connections are each node's own.
 */
import type { ProtectionConfig } from '../config/schema.js';
import type { SignInPolicy, Store } from '../queue/store.js';

export class AuthFailures {
  /** Cool-downs this node has seen, by address: their end. */
  private readonly seen = new Map<string, number>();
  private readonly policy: SignInPolicy;

  constructor(
    private readonly store: Store,
    config: ProtectionConfig['authFailures'],
  ) {
    this.policy = { max: config.max, windowMs: config.window, lockMs: config.coolDown };
  }

  /** When the address may try again, if this node knows it is cooling down. */
  coolingDownUntil(address: string, now = Date.now()): number | null {
    const until = this.seen.get(address);
    if (until === undefined) return null;
    if (until > now) return until;
    this.seen.delete(address);
    return null;
  }

  /** The same, as every node has counted (asked before each AUTH). */
  async check(address: string, now = Date.now()): Promise<number | null> {
    return this.remember(address, await this.store.signInLockedUntil([keyOf(address)], now));
  }

  /** Counts a failure; returns the end of the cool-down it starts (or one already running). */
  async fail(address: string, now = Date.now()): Promise<number | null> {
    return this.remember(address, await this.store.signInFailed([keyOf(address)], now, this.policy));
  }

  async succeed(address: string): Promise<void> {
    await this.store.signInSucceeded([keyOf(address)]);
  }

  private remember(address: string, until: number | null): number | null {
    if (until !== null) this.seen.set(address, until);
    if (this.seen.size > 10_000) for (const [a, end] of this.seen) if (end <= Date.now()) this.seen.delete(a);
    return until;
  }
}

const keyOf = (address: string) => `smtp:${address}`;

export class ConnectionsPerAddress {
  private readonly open = new Map<string, number>();

  constructor(private readonly max: number) {}

  /** Takes a place for the address, or false when it already has its maximum. */
  take(address: string): boolean {
    const n = this.open.get(address) ?? 0;
    if (n >= this.max) return false;
    this.open.set(address, n + 1);
    return true;
  }

  release(address: string): void {
    const n = (this.open.get(address) ?? 1) - 1;
    if (n > 0) this.open.set(address, n);
    else this.open.delete(address);
  }
}
