/**
 * The part of the store contract about sign-in attempts (SMTP AUTH, the console), with two
 * nodes on the same data: an attempt is counted before its password is checked, so attempts
 * racing each other get no more checks than the address's max; a success gives back only its
 * own count; a user name is slowed down, never locked out, and not at all where it signed in.
 */
import { expect, it } from 'vitest';
import type { SignInAttempt, SignInLimits, Store } from '../../src/queue/store.js';

interface Context {
  store: Store;
  sibling(): Promise<Store>;
}

const limits: SignInLimits = {
  address: { max: 3, windowMs: 60_000, coolDownMs: 300_000 },
  user: { max: 3, windowMs: 60_000, slowDownMs: 4000 },
  trustMs: 86_400_000,
};
const attempt = (address: string, user: string, changes: Partial<SignInLimits> = {}): SignInAttempt => ({ address: `smtp-ip:${address}`, user: `smtp-user:${user}`, limits: { ...limits, ...changes } });
const roomy = { user: { ...limits.user, max: 1000 } }; // a user limit that never comes into it

export function storeContractSignIns(context: () => Context) {
  it('counts attempts before their check, for all nodes together: of ten at once, max (3) are let through', async () => {
    const c = context();
    const nodes = [c.store, await c.sibling()];
    const t0 = Date.now();
    const tries = Array.from({ length: 10 }, (_, i) => attempt('192.0.2.7', `user-${i}`, roomy));
    const admissions = await Promise.all(tries.map((a, i) => nodes[i % 2]!.signInAttempt(a, t0 + i)));
    const admitted = tries.filter((_, i) => admissions[i]!.admitted);
    expect(admitted).toHaveLength(3);
    expect(admissions.filter((a) => !a.admitted)).toEqual(Array(7).fill({ admitted: false, refusal: 'in-progress' }));
    // The three fail: the third failure, not an attempt still in flight, starts the cool-down.
    expect(await nodes[0]!.signInFailed(admitted[0]!, t0 + 20)).toBeNull();
    expect(await nodes[1]!.signInFailed(admitted[1]!, t0 + 21)).toBeNull();
    expect(await nodes[0]!.signInFailed(admitted[2]!, t0 + 22)).toBe(t0 + 22 + 300_000);
    expect(await nodes[1]!.signInAttempt(attempt('192.0.2.7', 'someone-else', roomy), t0 + 30)).toEqual({ admitted: false, refusal: 'cooling-down', until: t0 + 22 + 300_000 });
    // Another address is not cooled down; after the cool-down, the address may try again.
    expect(await nodes[0]!.signInAttempt(attempt('192.0.2.8', 'user-0', roomy), t0 + 30)).toEqual({ admitted: true });
    expect(await nodes[0]!.signInAttempt(attempt('192.0.2.7', 'user-0', roomy), t0 + 22 + 300_000)).toEqual({ admitted: true });
  });

  it("gives back only a success's own count: app A's right password between guesses at B's does not save the address, nor B", async () => {
    const c = context();
    const [a, b] = [c.store, await c.sibling()];
    const t0 = Date.now();
    const guess = attempt('198.51.100.1', 'app-b');
    const right = attempt('198.51.100.1', 'app-a');
    expect(await a.signInAttempt(guess, t0)).toEqual({ admitted: true });
    expect(await a.signInFailed(guess, t0 + 1)).toBeNull();
    expect(await b.signInAttempt(guess, t0 + 2)).toEqual({ admitted: true });
    expect(await b.signInFailed(guess, t0 + 3)).toBeNull();
    for (let i = 0; i < 3; i++) {
      expect(await a.signInAttempt(right, t0 + 10 + i)).toEqual({ admitted: true }); // successes never pile up to a cool-down
      await a.signInSucceeded(right, t0 + 10 + i);
    }
    expect(await b.signInAttempt(guess, t0 + 20)).toEqual({ admitted: true });
    expect(await b.signInFailed(guess, t0 + 21)).toBe(t0 + 21 + 300_000);
    // B's own count stays too: from another address, B is slowed down (its third failure).
    expect(await a.signInAttempt(attempt('198.51.100.2', 'app-b'), t0 + 22)).toMatchObject({ admitted: false, refusal: 'slowed-down' });
  });

  it('slows a user down to one attempt per slowDownMs, never locks it, and not at an address where it signed in', async () => {
    const c = context();
    const [a, b] = [c.store, await c.sibling()];
    const t0 = Date.now();
    const at = (address: string) => attempt(address, 'admin');
    // admin signed in from 203.0.113.1 earlier.
    expect(await a.signInAttempt(at('203.0.113.1'), t0)).toEqual({ admitted: true });
    await a.signInSucceeded(at('203.0.113.1'), t0);
    // Guesses from many addresses: from the third (max) on, one per 4 s (slowDownMs).
    let now = t0 + 100;
    for (let i = 0; i < 2; i++) {
      expect(await b.signInAttempt(at(`192.0.2.${i + 1}`), now)).toEqual({ admitted: true });
      expect(await b.signInFailed(at(`192.0.2.${i + 1}`), now)).toBeNull();
      now++;
    }
    for (let n = 0; n < 3; n++) {
      expect(await b.signInAttempt(at(`192.0.2.${50 + n}`), now)).toEqual({ admitted: true });
      expect(await b.signInFailed(at(`192.0.2.${50 + n}`), now)).toBeNull();
      expect(await a.signInAttempt(at(`192.0.2.${60 + n}`), now + 3999)).toEqual({ admitted: false, refusal: 'slowed-down', until: now + 4000 });
      now += 4000;
    }
    // Meanwhile admin signs in from its own address at once, and that ends the slow-down.
    expect(await a.signInAttempt(at('203.0.113.1'), now - 1)).toEqual({ admitted: true });
    await a.signInSucceeded(at('203.0.113.1'), now - 1);
    expect(await b.signInAttempt(at('192.0.2.99'), now - 1)).toEqual({ admitted: true });
  });

  it("forgets an address's failures a window after the first, and a user's a window after the last", async () => {
    const c = context();
    const t0 = Date.now();
    const tryAndFail = async (a: SignInAttempt, now: number) => {
      expect(await c.store.signInAttempt(a, now)).toEqual({ admitted: true });
      return c.store.signInFailed(a, now);
    };
    for (const at of [0, 1, 60_000, 60_001]) expect(await tryAndFail(attempt('192.0.2.9', `u${at}`, roomy), t0 + at)).toBeNull();
    const user = (address: string) => attempt(address, 'ops', { address: { ...limits.address, max: 1000 } });
    for (const at of [0, 30_000, 60_000]) expect(await tryAndFail(user(`192.0.2.${10 + at / 30_000}`), t0 + at)).toBeNull();
    expect(await c.store.signInAttempt(user('192.0.2.20'), t0 + 60_500)).toMatchObject({ admitted: false, refusal: 'slowed-down' });
    expect(await c.store.signInAttempt(user('192.0.2.20'), t0 + 61_000 + 60_000)).toEqual({ admitted: true });
  });
}
