/**
 * The part of the store contract the HTTP API's Idempotency-Key relies on: one claim per key
 * across every node, the first answer kept for retries until the key expires, and an
 * unsettled claim that can be given up so a retry may try again.
 */
import { expect, it } from 'vitest';
import type { Store } from '../../src/queue/store.js';

interface Context {
  store: Store;
  sibling(): Promise<Store>;
}

export function storeContractIdempotency(context: () => Context) {
  it('lets one request claim an Idempotency-Key, and gives every retry (on any node) its answer until it expires', async () => {
    const c = context();
    const other = await c.sibling();
    const request = { key: 'erp:invoice-4711', fingerprint: 'f1', messageId: 'm1', now: 1000, expiresAt: 5000 };
    expect(await c.store.claimIdempotencyKey(request)).toEqual({ claimed: true });
    expect(await other.claimIdempotencyKey({ ...request, messageId: 'm2', now: 1100 })).toEqual({ claimed: false, fingerprint: 'f1', messageId: 'm1', since: 1000, answer: null });
    await c.store.settleIdempotencyKey(request.key, { status: 202, body: '{"id":"m1"}' });
    await other.releaseIdempotencyKey(request.key); // settled: stays
    expect(await other.claimIdempotencyKey({ ...request, fingerprint: 'f2', now: 4999 })).toMatchObject({ claimed: false, fingerprint: 'f1', answer: { status: 202, body: '{"id":"m1"}' } });
    expect(await other.claimIdempotencyKey({ ...request, messageId: 'm3', now: 5000, expiresAt: 9000 })).toEqual({ claimed: true });
  });

  it('forgets an unsettled claim that is released, so the retry claims the key again', async () => {
    const c = context();
    const request = { key: 'erp:refused', fingerprint: 'f', messageId: 'm1', now: 1000, expiresAt: 5000 };
    expect(await c.store.claimIdempotencyKey(request)).toEqual({ claimed: true });
    await c.store.releaseIdempotencyKey(request.key);
    expect(await c.store.claimIdempotencyKey({ ...request, messageId: 'm2' })).toEqual({ claimed: true });
  });
}
