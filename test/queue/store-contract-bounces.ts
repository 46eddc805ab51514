/**
 * The part of the store contract the bounce reader relies on: a delivered recipient found by
 * its message's Message-ID, marked bounced once with Microsoft's words, then owed a DSN; and
 * one node at a time reading a route's mailbox, with how far it read.
 */
import { expect, it } from 'vitest';
import { State } from '../../src/queue/states.js';
import type { Store } from '../../src/queue/store.js';
import { attempt } from './store-contract-notices.js';

interface Context {
  store: Store;
  sibling(): Promise<Store>;
  put(body: Buffer, recipients?: string[], receivedAt?: number): Promise<string>;
}

export function storeContractBounces(context: () => Context) {
  it('bounces a delivered recipient found by Message-ID, once, with Microsoft\'s words, and owes its DSN', async () => {
    const { store, put } = context();
    const now = Date.now();
    const id = await put(Buffer.from('x'), ['ghost@contoso.example', 'alice@contoso.example'], now - 1000);
    await attempt(store, id, [State.delivered, State.delivered], now);
    const targets = await store.recipientsByMessageIdHeader(`<${id}@app.example>`);
    expect(targets.map((t) => [t.messageId, t.idx, t.address, t.state, t.route])).toEqual([
      [id, 0, 'ghost@contoso.example', 'delivered', 'm365'],
      [id, 1, 'alice@contoso.example', 'delivered', 'm365'],
    ]);
    expect(await store.recipientsByMessageIdHeader('<other@app.example>')).toEqual([]);
    const reply = { code: 550, enhanced: '5.1.10', text: 'RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup' };
    const bounce = { messageId: id, idx: 0, reply, diagnosis: 'ghost@contoso.example does not exist in the tenant', at: now + 5000 };
    expect(await store.bounce(bounce)).toEqual({ ok: true, state: State.bounced });
    expect(await store.bounce(bounce)).toEqual({ ok: false, reason: 'already' });
    expect(await store.bounce({ ...bounce, messageId: 'nope' })).toEqual({ ok: false, reason: 'not-found' });
    const detail = await store.get(id);
    expect(detail?.state).toBe(State.bounced);
    expect(detail?.messageIdHeader).toBe(`<${id}@app.example>`);
    expect(detail?.lastError).toContain('550 5.1.10 RESOLVER.ADR.RecipientNotFound');
    const [ghost, alice] = detail?.recipientDetails ?? [];
    expect(ghost).toMatchObject({ state: State.bounced, reply, verdict: 'permanent', diagnosis: bounce.diagnosis, bouncedAt: now + 5000 });
    expect(alice).toMatchObject({ state: State.delivered, bouncedAt: null });
    expect(await store.dueReports(-1, 10)).toEqual([{ messageId: id, idx: 0, state: State.bounced }]);
    await store.commitNotice(null, [{ messageId: id, idx: 0, mark: 'final' }], now + 6000);
    expect(await store.dueReports(-1, 10)).toEqual([]);
    expect((await store.list({ states: [State.bounced], limit: 10 })).map((m) => m.id)).toEqual([id]);
  });

  it('does not bounce a recipient that was not delivered', async () => {
    const { store, put } = context();
    const now = Date.now();
    const id = await put(Buffer.from('x'), ['a@contoso.example', 'b@contoso.example'], now - 1000);
    await attempt(store, id, [State.delivered, State.deferred], now);
    const reply = { code: 550, enhanced: '5.1.10', text: 'RecipientNotFound' };
    expect(await store.bounce({ messageId: id, idx: 1, reply, diagnosis: 'x', at: now })).toEqual({ ok: false, reason: 'not-delivered' });
    // The message still has work to do: bouncing the delivered one leaves its state alone.
    expect(await store.bounce({ messageId: id, idx: 0, reply, diagnosis: 'x', at: now })).toEqual({ ok: true, state: State.deferred });
    expect((await store.get(id))?.state).toBe(State.deferred);
  });

  it("gives one node at a time the turn to read a route's bounces, and keeps how far it read", async () => {
    const { store, sibling } = context();
    const other = await sibling();
    const now = Date.now();
    expect(await store.takeBounceTurn('m365', 'node-a', now, 60_000)).toEqual({ watermark: null });
    expect(await other.takeBounceTurn('m365', 'node-b', now + 1000, 60_000)).toBeNull();
    await store.recordBounceRead('m365', 'node-a', { watermark: '2026-12-04T05:00:00Z', problem: null });
    await other.recordBounceRead('m365', 'node-b', { watermark: '2030-01-01T00:00:00Z', problem: null }); // not its turn: ignored
    expect(await store.takeBounceTurn('m365', 'node-a', now + 2000, 60_000)).toEqual({ watermark: '2026-12-04T05:00:00Z' });
    expect(await other.takeBounceTurn('m365', 'node-b', now + 63_000, 60_000)).toEqual({ watermark: '2026-12-04T05:00:00Z' });
    expect(await store.takeBounceTurn('m365', 'node-a', now + 64_000, 60_000)).toBeNull();
    expect(await store.takeBounceTurn('other', 'node-a', now, 60_000)).toEqual({ watermark: null });
    await store.recordBounceRead('other', 'node-a', { problem: 'Graph answered 403 ErrorAccessDenied: no Mail.Read' });
    expect(await other.bounceReaders()).toEqual([
      { route: 'm365', node: 'node-b', watermark: '2026-12-04T05:00:00Z', problem: null },
      { route: 'other', node: 'node-a', watermark: null, problem: 'Graph answered 403 ErrorAccessDenied: no Mail.Read' },
    ]);
  });
}
