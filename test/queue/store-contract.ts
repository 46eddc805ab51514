/**
 * What every Store must do, written once and run against each implementation (SQLite and
 * PostgreSQL). `sibling` opens a second Store on the same data, as another node (or another
 * process) would: what several nodes do at once is tested through it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newMessageId } from '../../src/queue/ids.js';
import type { NewMessage, Store } from '../../src/queue/store.js';
import { storeContractConcurrency } from './store-contract-concurrency.js';
import { storeContractAdmin } from './store-contract-admin.js';
import { storeContractNotices } from './store-contract-notices.js';
import { storeContractIdempotency } from './store-contract-idempotency.js';
import { storeContractSignIns } from './store-contract-sign-ins.js';
import { storeContractBounces } from './store-contract-bounces.js';

export interface OpenedStore {
  store: Store;
  /** Another Store on the same database: a second node. */
  sibling(): Promise<Store>;
}

export function storeContract(name: string, open: () => Promise<OpenedStore>) {
  describe(`${name} store`, () => {
    let store: Store;
    let opened: OpenedStore;
    const siblings: Store[] = [];
    beforeEach(async () => {
      opened = await open();
      store = opened.store;
    });
    afterEach(async () => {
      for (const s of siblings.splice(0)) await s.close();
      await store.close();
    });

    async function put(body: Buffer, recipients = ['a@contoso.example'], receivedAt = Date.now()): Promise<string> {
      const id = newMessageId(receivedAt);
      const writer = store.createBodyWriter(id);
      await pipeline(Readable.from(chunks(body)), writer);
      await store.accept(message(id, recipients, receivedAt), await writer.stored);
      return id;
    }

    const read = async (id: string) => Buffer.concat(await (await store.openBody(id)).toArray());

    async function sibling(): Promise<Store> {
      const other = await opened.sibling();
      siblings.push(other);
      return other;
    }

    it('keeps small and large bodies byte for byte, with their size and hash', async () => {
      for (const size of [0, 1000, 3 * 1024 * 1024]) {
        const body = randomBytes(size);
        const id = await put(body);
        expect((await read(id)).equals(body)).toBe(true);
        const detail = await store.get(id);
        expect(detail?.size).toBe(size);
        expect(detail?.sha256).toBe(createHash('sha256').update(body).digest('hex'));
      }
    });

    it('leases a due message to one node, and gives it to another only after the lease expires', async () => {
      const id = await put(Buffer.from('x'));
      const now = Date.now();
      const [claimed] = await store.claimDue('node-a', 10, now, 60_000);
      expect(claimed?.id).toBe(id);
      expect(claimed?.recovered).toBe(false);
      expect(await store.claimDue('node-b', 10, now + 1000, 60_000)).toEqual([]);
      expect(await store.renewLeases('node-b', [id], now + 120_000)).toEqual([]);
      const [taken] = await store.claimDue('node-b', 10, now + 61_000, 60_000);
      expect(taken?.id).toBe(id);
      expect(taken?.recovered).toBe(true);
      expect(await store.renewLeases('node-a', [id], now + 200_000)).toEqual([]);
      expect(await store.renewLeases('node-b', [id], now + 200_000)).toEqual([id]);
    });

    it('returns what a restarted node was delivering to the queue at once', async () => {
      const id = await put(Buffer.from('x'));
      await store.claimDue('node-a', 10, Date.now(), 300_000);
      expect(await store.releaseLeases('node-b', Date.now())).toEqual([]);
      expect(await store.releaseLeases('node-a', Date.now())).toEqual([id]);
      expect((await store.get(id))?.state).toBe('queued');
    });

    it('records an attempt and the states it leads to', async () => {
      const id = await put(Buffer.from('x'), ['a@contoso.example', 'b@contoso.example']);
      const [claimed] = await store.claimDue('node-a', 1, Date.now(), 60_000);
      const retryAt = Date.now() + 60_000;
      await store.finishAttempt({
        messageId: id,
        attempt: 1,
        node: 'node-a',
        startedAt: Date.now(),
        durationMs: 12,
        results: [
          { idx: 0, attempted: true, route: 'r', transport: 'smarthost', verdict: 'delivered', state: 'delivered', reply: { code: 250, enhanced: '2.0.0', text: 'OK' }, diagnosis: null, fix: null, retryAt: null },
          { idx: 1, attempted: true, route: 'r', transport: 'smarthost', verdict: 'transient', state: 'deferred', reply: { code: 451, enhanced: '4.7.0', text: 'later' }, diagnosis: 'try later', fix: null, retryAt },
        ],
        state: 'deferred',
        nextAttemptAt: retryAt,
        lastError: '451 4.7.0 later',
      });
      const detail = await store.get(id);
      expect(claimed?.recipients).toHaveLength(2);
      expect(detail).toMatchObject({ state: 'deferred', attemptCount: 1, nextAttemptAt: retryAt, lastError: '451 4.7.0 later', leaseOwner: null });
      expect(detail?.recipientDetails.map((r) => r.state)).toEqual(['delivered', 'deferred']);
      expect(detail?.attempts.map((a) => [a.attempt, a.recipientIdx, a.verdict, a.reply?.code])).toEqual([
        [1, 0, 'delivered', 250],
        [1, 1, 'transient', 451],
      ]);
      expect(await store.claimDue('node-a', 10, Date.now(), 60_000)).toEqual([]);
      const [again] = await store.claimDue('node-a', 10, retryAt, 60_000);
      expect(again?.recipients.map((r) => r.address)).toEqual(['b@contoso.example']);
      expect(again?.otherRecipientStates).toEqual(['delivered']);
      expect(await store.nextWakeAt()).toBeGreaterThan(retryAt);
    });

    it('allows each admin action only from the states it makes sense in', async () => {
      const id = await put(Buffer.from('x'));
      expect(await store.act(id, 'cancel', Date.now(), 'cancelled by an admin')).toEqual({ ok: true, state: 'cancelled' });
      expect(await store.act(id, 'cancel', Date.now())).toEqual({ ok: false, reason: 'wrong-state', state: 'cancelled' });
      expect(await store.act(id, 'retry', Date.now())).toEqual({ ok: false, reason: 'wrong-state', state: 'cancelled' });
      expect(await store.act(id, 'delete', Date.now())).toEqual({ ok: true, state: null });
      expect(await store.act(id, 'delete', Date.now())).toEqual({ ok: false, reason: 'not-found' });
      expect(await store.get(id)).toBeNull();

      const sending = await put(Buffer.from('y'));
      await store.claimDue('node-a', 10, Date.now(), 60_000);
      expect(await store.act(sending, 'delete', Date.now())).toEqual({ ok: false, reason: 'wrong-state', state: 'sending' });
    });

    it('expires what outlived its lifetime, and purges old finished messages with their bodies', async () => {
      const old = await put(randomBytes(400 * 1024), ['a@contoso.example'], Date.now() - 10 * 86_400_000);
      const fresh = await put(Buffer.from('fresh'));
      const expired = await store.expire(Date.now(), (last) => `Expired (last: ${last})`);
      expect(expired).toEqual([old]);
      expect((await store.get(old))?.recipientDetails[0]).toMatchObject({ state: 'failed', diagnosis: 'Expired (last: null)' });
      expect(await store.purge(Date.now() + 1)).toBe(1);
      expect(await store.get(old)).toBeNull();
      await expect(store.openBody(old)).rejects.toThrow();
      expect((await store.get(fresh))?.state).toBe('queued');
    });

    it('lists newest first with filters and paging by id', async () => {
      const ids = [];
      for (let i = 0; i < 5; i++) ids.push(await put(Buffer.from(`m${i}`), [`user${i}@contoso.example`], Date.now() + i));
      const page1 = await store.list({ limit: 2 });
      expect(page1.map((m) => m.id)).toEqual([ids[4], ids[3]]);
      const page2 = await store.list({ limit: 2, before: page1[1]?.id });
      expect(page2.map((m) => m.id)).toEqual([ids[2], ids[1]]);
      expect((await store.list({ limit: 10, recipient: 'user3@' })).map((m) => m.id)).toEqual([ids[3]]);
      expect((await store.list({ limit: 10, states: ['delivered'] }))).toEqual([]);
      expect((await store.countByState()).queued).toBe(5);
    });

    it('lists the nodes that beat into it, with what each is delivering, and which stopped', async () => {
      const id = await put(Buffer.from('x'));
      const now = Date.now();
      await store.heartbeat({ name: 'node-a', host: 'host-a', pid: 101, version: '1.0.0', startedAt: now - 5000 }, now);
      await store.heartbeat({ name: 'node-b', host: 'host-b', pid: 202, version: '1.0.0', startedAt: now - 3000 }, now);
      await store.claimDue('node-a', 10, now, 60_000);
      await store.heartbeat({ name: 'node-a', host: 'host-a', pid: 101, version: '1.0.0', startedAt: now - 5000 }, now + 5000);
      await store.nodeStopped('node-b', now + 6000);
      expect(await store.nodes()).toEqual([
        { name: 'node-a', host: 'host-a', pid: 101, version: '1.0.0', startedAt: now - 5000, heartbeatAt: now + 5000, stoppedAt: null, delivering: 1 },
        { name: 'node-b', host: 'host-b', pid: 202, version: '1.0.0', startedAt: now - 3000, heartbeatAt: now + 6000, stoppedAt: now + 6000, delivering: 0 },
      ]);
      expect((await store.get(id))?.leaseOwner).toBe('node-a');
      // Nodes not heard of within the retention go with the purge.
      await store.purge(now + 10_000);
      expect(await store.nodes()).toEqual([]);
    });

    it('shares an access token: stored by the refresh, found by the next asker, forgotten when refused', async () => {
      expect(await store.accessToken('app:1')).toBeNull();
      const token = { value: 'eyJ0eXAi.first', expiresAt: Date.now() + 3600_000 };
      expect(await store.refreshAccessToken('app:1', async (cached) => (expect(cached).toBeNull(), token))).toEqual(token);
      const other = await sibling();
      expect(await other.accessToken('app:1')).toEqual(token);
      expect(await other.refreshAccessToken('app:1', async (cached) => cached ?? { value: 'never', expiresAt: 0 })).toEqual(token);
      await other.forgetAccessToken('app:1', 'eyJ0eXAi.not-this-one');
      expect(await store.accessToken('app:1')).toEqual(token);
      await other.forgetAccessToken('app:1', token.value);
      expect(await store.accessToken('app:1')).toBeNull();
      expect(await store.accessToken('app:2')).toBeNull();
    });

    it("keeps a delegated route's sealed token cache with compare-and-set versions", async () => {
      expect(await store.loadTokenCache('m365')).toBeNull();
      expect(await store.saveTokenCache('m365', 'sealed-1', null, 1000)).toBe(1);
      expect(await store.saveTokenCache('m365', 'sealed-x', null, 1001)).toBeNull(); // someone else was first
      expect(await store.saveTokenCache('m365', 'sealed-2', 1, 1002)).toBe(2);
      expect(await store.saveTokenCache('m365', 'sealed-old', 1, 1003)).toBeNull(); // written from a stale read
      expect(await store.loadTokenCache('m365')).toEqual({ route: 'm365', data: 'sealed-2', version: 2, updatedAt: 1002 });
      await store.deleteTokenCache('m365');
      expect(await store.loadTokenCache('m365')).toBeNull();
    });

    storeContractConcurrency(() => ({ store, sibling, put }));
    storeContractAdmin(() => ({ store, sibling, put }));
    storeContractNotices(() => ({ store, sibling, put }));
    storeContractIdempotency(() => ({ store, sibling }));
    storeContractSignIns(() => ({ store, sibling }));
    storeContractBounces(() => ({ store, sibling, put }));
  });

}

function* chunks(body: Buffer, size = 64 * 1024) {
  for (let i = 0; i < body.length; i += size) yield body.subarray(i, i + size);
}

export function message(id: string, recipients: string[], receivedAt: number): NewMessage {
  return {
    id,
    receivedAt,
    listener: 'default',
    clientAddress: '127.0.0.1',
    clientHelo: 'app.example',
    tls: null,
    app: null,
    mailFrom: 'app@contoso.example',
    mailParams: {},
    recipients: recipients.map((address) => ({ address, params: {} })),
    receivedHeader: 'Received: test\r\n',
    messageIdHeader: `<${id}@app.example>`,
    expiresAt: receivedAt + 5 * 86_400_000,
  };
}
