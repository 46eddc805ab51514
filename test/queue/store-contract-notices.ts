/**
 * The part of the store contract src/notify relies on: which recipients are owed a DSN, a
 * DSN committed together with the marks of what it reports (so it is written once, even when
 * two nodes try at once), message kinds in the list, and the oldest waiting message.
 */
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { expect, it } from 'vitest';
import { newMessageId } from '../../src/queue/ids.js';
import { State } from '../../src/queue/states.js';
import { NoticeRaced, type AttemptReport, type RecipientResult, type Store } from '../../src/queue/store.js';

interface Context {
  store: Store;
  sibling(): Promise<Store>;
  put(body: Buffer, recipients?: string[], receivedAt?: number): Promise<string>;
}

const HOUR = 3_600_000;

/** Claims `id` and records one attempt in which each recipient ends as `states` says. */
export async function attempt(store: Store, id: string, states: RecipientResult['state'][], now: number): Promise<void> {
  const [claimed] = await store.claimDue('node-a', 1, now, 60_000);
  expect(claimed?.id).toBe(id);
  const results: RecipientResult[] = states.map((state, idx) => ({
    idx,
    attempted: true,
    route: 'm365',
    transport: 'smtp-basic',
    verdict: state === State.delivered ? 'delivered' : state === State.failed ? 'permanent' : 'transient',
    state,
    reply: state === State.delivered ? null : { code: state === State.failed ? 550 : 451, enhanced: state === State.failed ? '5.1.10' : '4.7.0', text: 'upstream words' },
    diagnosis: null,
    fix: null,
    retryAt: state === State.deferred ? now + 60_000 : null,
  }));
  const failed = states.includes(State.failed) && !states.includes(State.deferred);
  const report: AttemptReport = {
    messageId: id,
    attempt: 1,
    node: 'node-a',
    startedAt: now,
    durationMs: 5,
    results,
    state: states.includes(State.deferred) ? State.deferred : failed ? State.failed : State.delivered,
    nextAttemptAt: states.includes(State.deferred) ? now + 60_000 : null,
    lastError: null,
  };
  await store.finishAttempt(report);
}

async function dsnFor(store: Store, about: string) {
  const id = newMessageId();
  const writer = store.createBodyWriter(id);
  await pipeline(Readable.from([Buffer.from(`Subject: about ${about}\r\n\r\nreport\r\n`)]), writer);
  const now = Date.now();
  return {
    kind: 'dsn' as const,
    body: await writer.stored,
    message: {
      id,
      receivedAt: now,
      listener: 'relay365',
      clientAddress: '127.0.0.1',
      clientHelo: null,
      tls: null,
      app: null,
      mailFrom: '',
      mailParams: {},
      recipients: [{ address: 'app@contoso.example', params: { NOTIFY: 'NEVER' } }],
      receivedHeader: 'Received: test\r\n',
      expiresAt: now + HOUR,
    },
  };
}

export function storeContractNotices(context: () => Context) {
  it('owes a DSN for failed recipients, and commits it with the marks so it is written once', async () => {
    const c = context();
    const now = Date.now();
    const id = await c.put(Buffer.from('x'), ['gone@contoso.example', 'ok@contoso.example'], now);
    await attempt(c.store, id, [State.failed, State.delivered], now);
    expect(await c.store.dueReports(now - HOUR, 10)).toEqual([{ messageId: id, idx: 0, state: State.failed }]);

    const dsn = await dsnFor(c.store, id);
    await c.store.commitNotice(dsn, [{ messageId: id, idx: 0, mark: 'final' }], now);
    expect(await c.store.dueReports(now - HOUR, 10)).toEqual([]);
    const listed = await c.store.list({ kind: 'dsn', limit: 10 });
    expect(listed.map((m) => [m.id, m.kind, m.mailFrom, m.state])).toEqual([[dsn.message.id, 'dsn', '', State.queued]]);
    expect((await c.store.list({ kind: 'normal', limit: 10 })).map((m) => m.id)).toEqual([id]);
    expect((await c.store.get(dsn.message.id))?.kind).toBe('dsn');

    // A second node that read the same due recipient commits nothing.
    const other = await c.sibling();
    const late = await dsnFor(other, id);
    await expect(other.commitNotice(late, [{ messageId: id, idx: 0, mark: 'final' }], now)).rejects.toBeInstanceOf(NoticeRaced);
    expect(await c.store.get(late.message.id)).toBeNull();
    expect(await c.store.list({ kind: 'dsn', limit: 10 })).toHaveLength(1);
  });

  it('keeps each message\'s Subject, and links a DSN and the message it reports on both ways', async () => {
    const c = context();
    const now = Date.now();
    const id = newMessageId(now);
    const writer = c.store.createBodyWriter(id);
    await pipeline(Readable.from([Buffer.from('x')]), writer);
    const { message } = await dsnFor(c.store, 'template');
    await c.store.accept({ ...message, id, receivedAt: now, mailFrom: 'app@contoso.example', subject: 'Äpfel und Birnen' }, await writer.stored);
    await attempt(c.store, id, [State.failed], now);
    const dsn = await dsnFor(c.store, id);
    await c.store.commitNotice({ ...dsn, about: id, message: { ...dsn.message, subject: 'Undelivered Mail Returned to Sender: Äpfel und Birnen' } }, [{ messageId: id, idx: 0, mark: 'final' }], now);

    const listed = await c.store.list({ limit: 10 });
    expect(listed.map((m) => [m.id, m.subject])).toEqual([
      [dsn.message.id, 'Undelivered Mail Returned to Sender: Äpfel und Birnen'],
      [id, 'Äpfel und Birnen'],
    ]);
    expect((await c.store.get(id))?.notices).toEqual([{ id: dsn.message.id, kind: 'dsn', state: State.queued, receivedAt: dsn.message.receivedAt }]);
    expect((await c.store.get(dsn.message.id))?.about).toBe(id);
    expect((await c.store.get(dsn.message.id))?.notices).toEqual([]);
  });

  it('owes one delay warning for a recipient waiting since before the cut-off, and the failure DSN later', async () => {
    const c = context();
    const now = Date.now();
    const id = await c.put(Buffer.from('x'), ['slow@contoso.example'], now - 2 * HOUR);
    await attempt(c.store, id, [State.deferred], now);
    expect(await c.store.dueReports(now - 3 * HOUR, 10)).toEqual([]); // not waiting long enough yet
    expect(await c.store.dueReports(now - HOUR, 10)).toEqual([{ messageId: id, idx: 0, state: State.deferred }]);
    await c.store.commitNotice(null, [{ messageId: id, idx: 0, mark: 'delay' }], now);
    expect(await c.store.dueReports(now - HOUR, 10)).toEqual([]);
    expect(await c.store.oldestWaitingAt()).toBe(now - 2 * HOUR);
    expect(await c.store.expire(now + 10 * 86_400_000, () => 'Expired')).toEqual([id]);
    expect(await c.store.dueReports(now - HOUR, 10)).toEqual([{ messageId: id, idx: 0, state: State.failed }]);
    expect(await c.store.oldestWaitingAt()).toBeNull();
  });

  it('owes a DSN for a delivered recipient only when its NOTIFY asked for SUCCESS', async () => {
    const c = context();
    const now = Date.now();
    const id = newMessageId(now);
    const writer = c.store.createBodyWriter(id);
    await pipeline(Readable.from([Buffer.from('x')]), writer);
    const { message } = await dsnFor(c.store, 'template');
    await c.store.accept(
      { ...message, id, receivedAt: now, mailFrom: 'app@contoso.example', recipients: [{ address: 'a@contoso.example', params: { NOTIFY: 'SUCCESS,FAILURE' } }, { address: 'b@contoso.example', params: {} }] },
      await writer.stored,
    );
    await attempt(c.store, id, [State.delivered, State.delivered], now);
    expect(await c.store.dueReports(now - HOUR, 10)).toEqual([{ messageId: id, idx: 0, state: State.delivered }]);
  });

  it('gives an admin notification\'s slot to one node per interval, and again once the interval has passed', async () => {
    const c = context();
    const other = await c.sibling();
    const now = Date.now();
    const both = await Promise.all([c.store.takeNotificationSlot('["route-held","m365"]', now, HOUR), other.takeNotificationSlot('["route-held","m365"]', now, HOUR)]);
    expect(both.filter(Boolean)).toHaveLength(1);
    expect(await other.takeNotificationSlot('["route-held","m365"]', now + HOUR - 1, HOUR)).toBe(false);
    expect(await c.store.takeNotificationSlot('["route-held","other"]', now, HOUR)).toBe(true);
    expect(await other.takeNotificationSlot('["route-held","m365"]', now + HOUR, HOUR)).toBe(true);
    expect(await c.store.takeNotificationSlot('["route-held","m365"]', now + HOUR + 1, HOUR)).toBe(false);
  });
}
