/**
 * The part of the store contract the admin console relies on: sessions and API tokens that
 * any node accepts (kept as hashes), and the message list's route and time filters.
 */
import { expect, it } from 'vitest';
import type { Store } from '../../src/queue/store.js';

interface Context {
  store: Store;
  sibling(): Promise<Store>;
  put(body: Buffer, recipients?: string[], receivedAt?: number): Promise<string>;
}

export function storeContractAdmin(context: () => Context) {
  it('keeps console sessions until they expire, for every node, and forgets them on logout', async () => {
    const c = context();
    const session = { id: 'a'.repeat(64), user: 'ops', csrf: 'c'.repeat(43), createdAt: 1000, expiresAt: 5000 };
    await c.store.createAdminSession(session, 1000);
    const other = await c.sibling();
    expect(await other.adminSession(session.id, 4999)).toEqual(session);
    expect(await other.adminSession(session.id, 5000)).toBeNull();
    expect(await c.store.adminSession('b'.repeat(64), 2000)).toBeNull();
    await other.deleteAdminSession(session.id);
    expect(await c.store.adminSession(session.id, 2000)).toBeNull();
  });

  it('accepts an API token by its hash until it is revoked, by id or by name, with its owner, role and expiry', async () => {
    const c = context();
    await c.store.createApiToken({ id: 't1', name: 'monitoring', hash: '1'.repeat(64), owner: 'ops', role: 'read-only', createdAt: 1000, expiresAt: 9000 });
    await c.store.createApiToken({ id: 't2', name: 'deploy', hash: '2'.repeat(64), owner: 'cli:root', role: 'admin', createdAt: 1001, expiresAt: 9001 });
    const other = await c.sibling();
    expect(await other.useApiToken('1'.repeat(64), 2000)).toEqual({ id: 't1', name: 'monitoring', owner: 'ops', role: 'read-only', createdAt: 1000, expiresAt: 9000, lastUsedAt: 2000, revokedAt: null });
    expect(await c.store.useApiToken('3'.repeat(64), 2000)).toBeNull();
    expect(await c.store.revokeApiToken('monitoring', 3000)).toBe(true);
    expect(await c.store.revokeApiToken('t1', 3001)).toBe(false);
    expect(await c.store.useApiToken('1'.repeat(64), 4000)).toBeNull();
    expect(await c.store.revokeApiToken('t2', 3002)).toBe(true);
    expect((await c.store.apiTokens()).map((t) => [t.id, t.owner, t.role, t.expiresAt, t.revokedAt])).toEqual([
      ['t1', 'ops', 'read-only', 9000, 3000],
      ['t2', 'cli:root', 'admin', 9001, 3002],
    ]);
  });

  it('returns an expired API token, so that the caller can say it expired, without noting its use', async () => {
    const c = context();
    await c.store.createApiToken({ id: 't3', name: 'old', hash: '4'.repeat(64), owner: 'ops', role: 'admin', createdAt: 1000, expiresAt: 5000 });
    expect(await c.store.useApiToken('4'.repeat(64), 4999)).toMatchObject({ id: 't3', lastUsedAt: 4999 });
    expect(await c.store.useApiToken('4'.repeat(64), 5000)).toMatchObject({ id: 't3', expiresAt: 5000, lastUsedAt: 4999 });
    expect((await c.store.apiTokens()).find((t) => t.id === 't3')?.lastUsedAt).toBe(4999);
  });

  it('lists messages by receive time range and by the route their recipients were tried on', async () => {
    const c = context();
    const base = Date.UTC(2026, 0, 1);
    const ids = [];
    for (let i = 0; i < 4; i++) ids.push(await c.put(Buffer.from(`m${i}`), [`user${i}@contoso.example`], base + i * 60_000));
    const timed = await c.store.list({ limit: 10, since: base + 60_000, until: base + 3 * 60_000 });
    expect(timed.map((m) => m.id)).toEqual([ids[2], ids[1]]);
    const [claimed] = await c.store.claimDue('node-a', 1, base + 10 * 60_000, 60_000);
    expect(claimed).toBeDefined();
    await c.store.finishAttempt({
      messageId: claimed!.id,
      attempt: 1,
      node: 'node-a',
      startedAt: base,
      durationMs: 5,
      results: [{ idx: 0, attempted: true, route: 'graph', transport: 'graph', verdict: 'delivered', state: 'delivered', reply: null, diagnosis: null, fix: null, retryAt: null }],
      state: 'delivered',
      nextAttemptAt: null,
      lastError: null,
    });
    expect((await c.store.list({ limit: 10, route: 'graph' })).map((m) => m.id)).toEqual([claimed!.id]);
    expect(await c.store.list({ limit: 10, route: 'smarthost' })).toEqual([]);
    const activity = await c.store.activity(base, 60_000);
    const sum = (k: 'received' | 'delivered' | 'failed') => activity.reduce((n, b) => n + b[k], 0);
    expect([sum('received'), sum('delivered'), sum('failed')]).toEqual([4, 1, 0]);
    expect(activity[0]).toMatchObject({ at: base, received: 1 });
  });
}
