/**
 * Exchange Online's per-mailbox limits are kept, not hit: 100 messages to one mailbox
 * limited to 30 a "minute" (shortened to 2 s here, in the relay and in the sandbox alike)
 * all arrive, never more than 30 per window, with no throttling reply from Microsoft —
 * the sandbox is set to refuse (421) anything over the limit, so a single excess would show.
 * And a mailbox with a budget used up does not hold up mail through another mailbox; an idle
 * connection stays open for the next message a moment, then closes and frees its slot.
 */
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../helpers/sink.js';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';
import { DEMO, sandboxOAuthRoute, startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';

const WINDOW_MS = 2000;
let t: TestSandbox;
let relay: TestRelay;


beforeAll(async () => {
  t = await startTestSandbox({ smtp: { limits: { messagesPerMinute: 30, minuteMs: WINDOW_MS, rateLimitBehaviour: 'reject' } } });
  relay = await startTestRelay({
    routes: {
      relay: sandboxOAuthRoute(t, { pacing: { messagesPerMinute: 30, minute: `${WINDOW_MS}ms` } }),
      // Another mailbox, through Graph (the tenant keeps SMTP AUTH off for everyone but relay@).
      noreply: {
        transport: 'graph',
        mailbox: 'noreply@contoso.example',
        credentials: { tenant: DEMO.tenantId, clientId: DEMO.appOnly.clientId, clientSecret: DEMO.appOnly.secret, authorityHost: t.sandbox.urls.login },
        endpoint: t.sandbox.urls.graph,
        ca: [t.sandbox.caPath],
        sender: { rewriteEnvelope: true, rewriteFrom: 'always' },
      },
    },
    routing: { default: 'relay', rules: [{ senderDomains: ['noreply.test'], route: 'noreply' }] },
    delivery: { poll: '200ms', concurrency: 20 },
  });
});
afterAll(async () => {
  await relay.stop();
  await t.stop();
});

async function submit(count: number, from: string, to: string) {
  const client = nodemailer.createTransport({ host: '127.0.0.1', port: relay.port, pool: true, maxConnections: 10, tls: { rejectUnauthorized: false }, logger: false });
  try {
    await Promise.all(
      Array.from({ length: count }, (_, i) => client.sendMail({ envelope: { from, to: [to] }, raw: `From: ${from}\r\nSubject: paced ${i}\r\n\r\nbody ${i}\r\n` })),
    );
  } finally {
    client.close();
  }
}

const inbox = (mailbox: string) => t.sandbox.mailboxes.list({ mailbox }).filter((m) => m.folder === 'Inbox');

describe('pacing within Exchange Online limits', () => {
  it('delivers 100 messages at no more than 30 per window, with no throttling reply', async () => {
    const start = Date.now();
    await submit(100, 'sap@contoso.example', DEMO.alice.address);
    await until(() => inbox(DEMO.alice.address).length >= 100, 25_000, () => `${inbox(DEMO.alice.address).length} of 100 arrived`);
    const elapsed = Date.now() - start;

    const times = inbox(DEMO.alice.address).map((m) => Date.parse(m.receivedAt)).sort((a, b) => a - b);
    for (let i = 30; i < times.length; i++) expect((times[i] as number) - (times[i - 30] as number)).toBeGreaterThanOrEqual(WINDOW_MS - 50);
    // 100 messages at 30 per window need at least three full windows after the first batch.
    expect(elapsed).toBeGreaterThanOrEqual(3 * WINDOW_MS);
    const refusals = t.sandbox.events.list({ endpoint: 'submission' }).filter((e) => e.outcome !== 'ok' && /rate|421|432/.test(String(e.message ?? '')));
    expect(refusals).toEqual([]);
    await until(async () => (await relay.relay.store.countByState()).delivered === 100, 5000, () => 'not all recorded as delivered');
    const attempts = await Promise.all((await relay.relay.store.list({ limit: 200 })).map(async (m) => (await relay.relay.store.get(m.id))!.attempts));
    expect(attempts.flat().filter((a) => a.verdict !== 'delivered')).toEqual([]); // every attempt went through at once
  });

  it('says why a message waits and when it goes, and lets another mailbox through meanwhile', async () => {
    await submit(70, 'sap@contoso.example', DEMO.bob.address);
    const budget = /^Waiting for relay@contoso\.example's sending budget: it has sent 30 messages in the last 2s \(its limit: 30, pacing\.messagesPerMinute\)\. This message goes at /;
    let waiting: { id: string } | undefined;
    await until(
      async () => (waiting = (await relay.relay.store.list({ limit: 100, states: ['deferred'] })).find((m) => budget.test(m.lastError ?? ''))) !== undefined,
      5000,
      () => 'no message waited for the budget',
    );
    const detail = await relay.relay.store.get(waiting!.id);
    expect(detail?.attempts).toEqual([]); // waiting is not an attempt
    const before = inbox(DEMO.alice.address).length;
    await submit(5, 'jobs@noreply.test', DEMO.alice.address);
    await until(() => inbox(DEMO.alice.address).length >= before + 5, 10_000, () => 'the other mailbox never delivered');
    await until(() => inbox(DEMO.bob.address).length >= 70, 15_000, () => `${inbox(DEMO.bob.address).length} of 70 arrived`);
    // The other mailbox's mail went through while relay@'s still waited for its budget.
    const last = (list: { receivedAt: string }[]) => Math.max(...list.map((m) => Date.parse(m.receivedAt)));
    const throughGraph = inbox(DEMO.alice.address).filter((m) => m.via === 'graph');
    expect(throughGraph).toHaveLength(5);
    expect(last(throughGraph)).toBeLessThan(last(inbox(DEMO.bob.address)));
  });

  it('reuses an open connection for the next message, then closes it when idle and frees its slot in the store', async () => {
    await new Promise((r) => setTimeout(r, WINDOW_MS)); // a fresh budget window
    const signIns = () => t.sandbox.events.list({ endpoint: 'submission' }).filter((e) => e.action.startsWith('AUTH') && e.outcome === 'ok').length;
    const inUse = () => relay.relay.store.connectionsInUse(DEMO.relay.address, Date.now() - 15_000);
    await until(async () => (await inUse()).length === 0, 10_000, () => 'the connections of the earlier tests stayed open');
    const before = signIns();
    const count = inbox(DEMO.alice.address).length;
    for (let i = 0; i < 5; i++) {
      await submit(1, 'sap@contoso.example', DEMO.alice.address);
      await until(() => inbox(DEMO.alice.address).length > count + i, 5000, () => `message ${i} did not arrive`);
    }
    expect(signIns() - before).toBe(1); // one sign-in, one connection for all five
    await until(async () => (await inUse()).length === 0, 10_000, () => 'the idle connection kept its slot');
    await submit(1, 'sap@contoso.example', DEMO.alice.address);
    await until(() => inbox(DEMO.alice.address).length > count + 5, 5000, () => 'the last message did not arrive');
    expect(signIns() - before).toBe(2); // the idle connection was closed: the next message signed in anew
  });
});
