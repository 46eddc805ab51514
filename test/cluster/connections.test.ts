/**
 * A mailbox's connections are counted for the cluster, not per node: three nodes, each with
 * plenty of delivery slots, sending through one smtp-oauth route whose mailbox may have 2
 * connections at once (pacing.concurrency, and the sandbox's limit too). The sandbox says at
 * every sign-in how many connections the mailbox has open, and refuses a third with 432 4.3.2,
 * so a single excess shows — three nodes with two connections each would open six. And the
 * nodes share them: none keeps both while the others want one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../helpers/sink.js';
import { DEMO, sandboxOAuthRoute, startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { startCluster, type Cluster } from './cluster.js';

const CONNECTIONS = 2;
let t: TestSandbox;
let cluster: Cluster;

beforeAll(async () => {
  t = await startTestSandbox({ smtp: { limits: { concurrentConnectionsPerMailbox: CONNECTIONS, messagesPerMinute: 100_000 } } });
  cluster = await startCluster(3, () => ({
    routes: {
      relay: sandboxOAuthRoute(t, { pacing: { messagesPerMinute: 100_000, concurrency: CONNECTIONS } }),
    },
    delivery: { poll: '100ms', concurrency: 20 },
  }));
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
  await t?.stop();
});

async function connectionsOpen(): Promise<Record<string, number>> {
  const routes = JSON.parse(await cluster.cli(['route', 'list', '--json'])) as { name: string; budget: { connections: number; connectionsOpen: Record<string, number> } }[];
  const relay = routes.find((r) => r.name === 'relay')!;
  expect(relay.budget.connections).toBe(CONNECTIONS);
  return relay.budget.connectionsOpen;
}

const inbox = (mailbox: string) => t.sandbox.mailboxes.list({ mailbox }).filter((m) => m.folder === 'Inbox');

describe("a mailbox's connections with three nodes", () => {
  it('never has more open than pacing.concurrency, across the nodes together', { timeout: 120_000 }, async () => {
    const total = 300;
    await cluster.submit(total, (i) => ({ from: 'sap@contoso.example', to: DEMO.alice.address, raw: `From: sap@contoso.example\r\nSubject: connection ${i}\r\n\r\nbody ${i}\r\n` }));
    // `relay365 route list` shows the mailbox's connections on every node together.
    let open: Record<string, number> = {};
    await until(async () => Object.keys((open = await connectionsOpen())).length > 0, 10_000, () => 'route list never showed an open connection');
    expect(Object.values(open).reduce((sum, n) => sum + n, 0)).toBeLessThanOrEqual(CONNECTIONS);
    await until(() => inbox(DEMO.alice.address).length >= total, 60_000, () => `${inbox(DEMO.alice.address).length} of ${total} arrived`);

    const events = t.sandbox.events.list({ endpoint: 'submission' });
    const signIns = events.filter((e) => e.action.startsWith('AUTH') && e.outcome === 'ok');
    const atSignIn = signIns.map((e) => Number(e.detail?.signedInConnections));
    expect(Math.max(...atSignIn)).toBe(CONNECTIONS); // used to the full, never beyond
    expect(events.filter((e) => e.status === 432)).toEqual([]);

    await until(async () => (await cluster.store.countByState()).delivered === total, 10_000, () => 'not all recorded as delivered');
    const messages = await cluster.store.list({ limit: total + 10 });
    const attempts = (await Promise.all(messages.map(async (m) => (await cluster.store.get(m.id))!.attempts))).flat();
    expect(attempts.filter((a) => a.verdict !== 'delivered' && /432|Concurrent/.test(`${a.reply?.text ?? ''} ${a.diagnosis}`))).toEqual([]);
    // Shared: while others want one, no node keeps both connections.
    expect(new Set(attempts.map((a) => a.node)).size).toBeGreaterThan(1);
    // Idle connections close and give their slots back.
    await until(async () => Object.keys(await connectionsOpen()).length === 0, 15_000, () => 'connections stayed open after the queue emptied');
  });
});
