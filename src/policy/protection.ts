/**
 * Protection at the door, per source address: failed AUTH attempts earn a cool-down (the
 * password-guessing defence), and no address may hold more than its share of connections.
 * Kept in memory: a restarted relay forgets, which only gives a guesser a fresh start of
 * a few attempts.
 */
import type { ProtectionConfig } from '../config/schema.js';

export class AuthFailures {
  private readonly failures = new Map<string, number[]>();
  private readonly blockedUntil = new Map<string, number>();

  constructor(private readonly config: ProtectionConfig['authFailures']) {}

  /** When the address may try again, if it is cooling down. */
  coolingDownUntil(address: string, now = Date.now()): number | null {
    const until = this.blockedUntil.get(address);
    if (until === undefined) return null;
    if (until > now) return until;
    this.blockedUntil.delete(address);
    return null;
  }

  /** Counts a failure; returns the end of the cool-down it starts, if it starts one. */
  fail(address: string, now = Date.now()): number | null {
    const recent = (this.failures.get(address) ?? []).filter((t) => t > now - this.config.window);
    recent.push(now);
    this.failures.set(address, recent);
    if (recent.length < this.config.max) return null;
    this.failures.delete(address);
    const until = now + this.config.coolDown;
    this.blockedUntil.set(address, until);
    return until;
  }

  succeed(address: string): void {
    this.failures.delete(address);
  }
}

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
