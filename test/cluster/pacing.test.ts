/**
 * A mailbox's limits hold for the cluster, not per node: three nodes delivering through one
 * smtp-oauth route into the Microsoft 365 sandbox keep "30 messages a minute" (shortened to
 * 2 s in the relays and the sandbox alike) for the mailbox all together. The sandbox refuses
 * (421) anything over the limit and any fourth signed-in connection (432), so a single
 * excess would show. And the three nodes share one access token: one token request for all.
 */
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../helpers/sink.js';
import { DEMO, sandboxOAuthRoute, startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { startCluster, type Cluster } from './cluster.js';

const WINDOW_MS = 2000;
let t: TestSandbox;
let cluster: Cluster;

beforeAll(async () => {
  t = await startTestSandbox({ smtp: { limits: { messagesPerMinute: 30, minuteMs: WINDOW_MS, rateLimitBehaviour: 'reject' } } });
  cluster = await startCluster(3, () => ({
    routes: {
      // The budget and the 3 connections (the default concurrency) are the cluster's, counted in the store.
      relay: sandboxOAuthRoute(t, { pacing: { messagesPerMinute: 30, minute: `${WINDOW_MS}ms` } }),
    },
    delivery: { poll: '200ms', concurrency: 20 },
  }));
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
  await t?.stop();
});

const inbox = (mailbox: string) => t.sandbox.mailboxes.list({ mailbox }).filter((m) => m.folder === 'Inbox');

describe('pacing with three nodes', () => {
  it('keeps the mailbox within 30 per window for the whole cluster, with one token for all nodes', async () => {
    const start = Date.now();
    await cluster.submit(100, (i) => ({ from: 'sap@contoso.example', to: DEMO.alice.address, raw: `From: sap@contoso.example\r\nSubject: paced ${i}\r\n\r\nbody ${i}\r\n` }));
    await until(() => inbox(DEMO.alice.address).length >= 100, 40_000, () => `${inbox(DEMO.alice.address).length} of 100 arrived`);
    const elapsed = Date.now() - start;

    const times = inbox(DEMO.alice.address).map((m) => Date.parse(m.receivedAt)).sort((a, b) => a - b);
    for (let i = 30; i < times.length; i++) expect((times[i] as number) - (times[i - 30] as number)).toBeGreaterThanOrEqual(WINDOW_MS - 50);
    expect(elapsed).toBeGreaterThanOrEqual(3 * WINDOW_MS);
    const refusals = t.sandbox.events.list({ endpoint: 'submission' }).filter((e) => e.outcome !== 'ok' && /rate|421|432/.test(String(e.message ?? '')));
    expect(refusals).toEqual([]);

    await until(async () => (await cluster.store.countByState()).delivered === 100, 10_000, () => 'not all recorded as delivered');
    const messages = await cluster.store.list({ limit: 200 });
    const attempts = (await Promise.all(messages.map(async (m) => (await cluster.store.get(m.id))!.attempts))).flat();
    expect(attempts.filter((a) => a.verdict !== 'delivered')).toEqual([]);
    // More than one node delivered (the budget, not one node, set the pace).
    expect(new Set(attempts.map((a) => a.node)).size).toBeGreaterThan(1);
    // One node asked Entra ID for the token; the others took it from the store.
    expect(t.sandbox.events.list({ endpoint: 'token' })).toHaveLength(1);
  });
});
