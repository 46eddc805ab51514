/**
 * Three relay nodes (separate processes, loopback ports) on one PostgreSQL database share
 * the work: 2,000 messages submitted round-robin are each delivered exactly once, by
 * whichever node claimed them; and when one node is killed mid-run, nothing is lost — the
 * messages it was delivering go to the others once their leases expire.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startSink, until, type Sink } from '../helpers/sink.js';
import { routeTo } from '../helpers/relay.js';
import { counts, startCluster, subjectOf, type Cluster } from './cluster.js';

let cluster: Cluster | undefined;
let sink: Sink | undefined;
afterEach(async () => {
  await cluster?.stop();
  await sink?.stop().catch(() => undefined);
  cluster = sink = undefined;
});

const mail = (i: number) => ({
  from: 'sap@contoso.example',
  to: `user${i % 50}@fabrikam.example`,
  raw: `From: sap@contoso.example\r\nTo: user${i % 50}@fabrikam.example\r\nMessage-ID: <${i}@cluster.test>\r\nSubject: cluster ${i}\r\n\r\nbody ${i}\r\n`,
});

describe('three nodes on one PostgreSQL database', () => {
  it('deliver 2,000 messages submitted round-robin, each exactly once', async () => {
    sink = await startSink();
    const port = sink.port;
    cluster = await startCluster(3, () => ({ routes: { upstream: routeTo(port) }, delivery: { poll: '200ms' } }));
    await cluster.submit(2000, mail);
    await sink.waitForMessages(2000, 60_000);
    await new Promise((r) => setTimeout(r, 1000)); // a duplicate would arrive now

    const subjects = counts(sink.messages.map((m) => subjectOf(m.raw)));
    const expected = Array.from({ length: 2000 }, (_, i) => `cluster ${i}`);
    expect(expected.filter((s) => !subjects.has(s))).toEqual([]);
    expect([...subjects].filter(([, n]) => n > 1)).toEqual([]);
    expect(sink.messages).toHaveLength(2000);

    const store = cluster.store;
    await until(async () => (await store.countByState()).delivered === 2000, 10_000, () => 'not all recorded as delivered');
    // Every node delivered a share, and each attempt row names the node that made it.
    const { rows } = await pgRows<{ node: string; n: number }>(cluster, 'SELECT node, count(*)::integer AS n FROM attempts GROUP BY node ORDER BY node');
    expect(rows.map((r) => r.node)).toEqual(['node-a', 'node-b', 'node-c']);
    expect(rows.reduce((sum, r) => sum + r.n, 0)).toBe(2000);
    for (const r of rows) expect(r.n).toBeGreaterThan(200);

    // Any node shows the whole cluster.
    const nodes = JSON.parse(await cluster.cli(['nodes', '--json'])) as { name: string; state: string }[];
    expect(nodes.map((n) => [n.name, n.state])).toEqual([
      ['node-a', 'running'],
      ['node-b', 'running'],
      ['node-c', 'running'],
    ]);
  });

  it('lose nothing when one node is killed mid-run: the others deliver what it held', async () => {
    // A slow upstream keeps every node busy, so the one killed holds leases when it dies.
    sink = await startSink({ dataDelayMs: 300 });
    const port = sink.port;
    cluster = await startCluster(3, () => ({ routes: { upstream: routeTo(port, { maxConnections: 10 }) }, delivery: { poll: '200ms', concurrency: 10, lease: '2s' } }));
    await cluster.submit(400, mail);
    await sink.waitForMessages(60, 30_000);

    const victim = cluster.nodes[1]!;
    victim.relay.child.kill('SIGKILL');
    expect((await victim.relay.exited).signal).toBe('SIGKILL');
    const held = (await cluster.store.list({ limit: 1000, states: ['sending'] })).map((m) => m.id);
    const heldByVictim = new Set<string>();
    for (const id of held) if ((await cluster.store.get(id))?.leaseOwner === victim.name) heldByVictim.add(id);
    expect(heldByVictim.size).toBeGreaterThan(0);

    await sink.waitForMessages(400, 60_000);
    let states = {};
    await until(async () => (states = await cluster!.store.countByState()).delivered === 400, 20_000, () => `not all recorded as delivered: ${JSON.stringify(states)}`);
    const subjects = counts(sink.messages.map((m) => subjectOf(m.raw)));
    expect(Array.from({ length: 400 }, (_, i) => `cluster ${i}`).filter((s) => !subjects.has(s))).toEqual([]);
    // At least once: a message the victim had handed to the upstream just before it died may
    // arrive twice; no other message may.
    const twice = [...subjects].filter(([, n]) => n > 1).map(([s]) => s);
    const victimSubjects = new Set<string>();
    for (const id of heldByVictim) victimSubjects.add(subjectOf(Buffer.concat(await (await cluster.store.openBody(id)).toArray())));
    expect(twice.filter((s) => !victimSubjects.has(s))).toEqual([]);

    // Its messages were taken over, and the takeover is in the survivors' logs and attempt rows.
    const survivors = cluster.nodes.filter((n) => n !== victim);
    expect(survivors.some((n) => n.relay.logs.some((l) => /lease expired/.test(String(l.msg))))).toBe(true);
    for (const id of heldByVictim) {
      const detail = await cluster.store.get(id);
      expect(detail?.state).toBe('delivered');
      expect(detail?.attempts.at(-1)?.node).not.toBe(victim.name);
    }
    const nodes = JSON.parse(await cluster.cli(['nodes', '--json'])) as { name: string; state: string }[];
    expect(nodes.find((n) => n.name === victim.name)?.state).toMatch(/running|silent/); // silent once 15 s pass without a heartbeat
  });
});

async function pgRows<T extends Record<string, unknown>>(cluster: Cluster, text: string) {
  const pg = await import('pg');
  const client = new pg.default.Client({ connectionString: cluster.url });
  await client.connect();
  try {
    return await client.query<T>(text);
  } finally {
    await client.end();
  }
}
