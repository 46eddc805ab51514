/**
 * The part of the store contract about several nodes at once (each a Store of its own on the
 * same data): a message is claimed by one of them, a mailbox's budget and its connections are
 * one budget and one count for all, and an access token is fetched by one while the others
 * wait and take it. (Sign-in attempts: store-contract-sign-ins.ts.)
 */
import { expect, it } from 'vitest';
import type { SendLimits, Store } from '../../src/queue/store.js';

interface Context {
  store: Store;
  sibling(): Promise<Store>;
  put(body: Buffer): Promise<string>;
}

const nodesOf = async (c: Context, count: number) => [c.store, ...(await Promise.all(Array.from({ length: count - 1 }, () => c.sibling())))];

export function storeContractConcurrency(context: () => Context) {
  it('gives each due message to one node when three claim at once', async () => {
    const c = context();
    const ids = new Set<string>();
    for (let i = 0; i < 60; i++) ids.add(await c.put(Buffer.from(`m${i}`)));
    const nodes = await nodesOf(c, 3);
    const claimed = await Promise.all(
      nodes.map(async (node, n) => {
        const mine: string[] = [];
        for (;;) {
          const batch = await node.claimDue(`node-${n}`, 7, Date.now(), 60_000);
          if (!batch.length) return mine;
          mine.push(...batch.map((m) => m.id));
        }
      }),
    );
    const all = claimed.flat();
    expect(all).toHaveLength(60);
    expect(new Set(all)).toEqual(ids);
  });

  it("keeps a mailbox's budget for all nodes together: 60 reservations at once, 30 allowed", async () => {
    const c = context();
    const nodes = await nodesOf(c, 3);
    const limits: SendLimits = { messages: 30, minuteMs: 60_000, recipients: 10_000, dayMs: 86_400_000 };
    const now = Date.now();
    const results = await Promise.all(nodes.flatMap((node) => Array.from({ length: 20 }, () => node.reserveSend('relay@contoso.example', 1, now, limits))));
    expect(results.filter((r) => r.ok)).toHaveLength(30);
    for (const refused of results.filter((r) => !r.ok)) expect(refused).toEqual({ ok: false, until: now + 60_000 + 1, limit: 'messages', used: 30 });
    expect(await c.store.sendUsage('relay@contoso.example', now, limits)).toEqual({ messagesThisMinute: 30, recipientsToday: 30 });
    // Another mailbox has a budget of its own.
    expect((await nodes[1]!.reserveSend('noreply@contoso.example', 1, now, limits)).ok).toBe(true);
  });

  it('keeps the recipients-per-day budget, and says when a send frees enough of it', async () => {
    const c = context();
    const [a, b] = await nodesOf(c, 2);
    const limits: SendLimits = { messages: 1000, minuteMs: 60_000, recipients: 100, dayMs: 86_400_000 };
    const t0 = Date.now() - 10 * 60_000;
    expect((await a!.reserveSend('mbx', 40, t0, limits)).ok).toBe(true);
    expect((await b!.reserveSend('mbx', 40, t0 + 1000, limits)).ok).toBe(true);
    expect(await a!.reserveSend('mbx', 30, t0 + 2000, limits)).toEqual({ ok: false, until: t0 + 86_400_000 + 1, limit: 'recipients', used: 80 });
    expect((await b!.reserveSend('mbx', 20, t0 + 2000, limits)).ok).toBe(true);
  });

  it("counts a mailbox's connections for all nodes together, and frees a silent node's", async () => {
    const c = context();
    const nodes = await nodesOf(c, 3);
    const now = Date.now();
    const names = ['node-a', 'node-b', 'node-c'];
    for (const name of names) await c.store.heartbeat({ name, host: 'host', pid: 1, version: '1.0.0', startedAt: now }, now);
    const taken = await Promise.all(nodes.flatMap((node, n) => Array.from({ length: 4 }, () => node.takeConnection('relay@contoso.example', names[n] as string, 3, now, now - 15_000))));
    const slots = taken.filter((s): s is number => s !== null);
    expect(slots.sort()).toEqual([0, 1, 2]);
    const holders = await c.store.connectionsInUse('relay@contoso.example', now - 15_000);
    expect(holders.map((h) => h.slot)).toEqual([0, 1, 2]);
    // Another mailbox counts its own.
    expect(await nodes[2]!.takeConnection('noreply@contoso.example', 'node-c', 3, now, now - 15_000)).toBe(0);

    // A slot given back is free for any node; the others stay taken.
    const first = holders[0]!;
    await nodes[names.indexOf(first.node)]!.releaseConnection('relay@contoso.example', first.slot, first.node);
    expect(await nodes[1]!.takeConnection('relay@contoso.example', 'node-b', 3, now, now - 15_000)).toBe(first.slot);
    expect(await nodes[1]!.takeConnection('relay@contoso.example', 'node-b', 3, now, now - 15_000)).toBeNull();

    // node-c goes silent (no heartbeat since): its slots are free for the others. node-a stops cleanly: likewise.
    const heldBefore = (await c.store.connectionsInUse('relay@contoso.example', now - 15_000)).map((h) => h.node);
    const later = now + 20_000;
    for (const name of ['node-a', 'node-b']) await c.store.heartbeat({ name, host: 'host', pid: 1, version: '1.0.0', startedAt: now }, later);
    const stillHeld = (await c.store.connectionsInUse('relay@contoso.example', later - 15_000)).map((h) => h.node);
    expect(stillHeld).toEqual(heldBefore.filter((node) => node !== 'node-c'));
    await c.store.nodeStopped('node-a', later);
    expect((await c.store.connectionsInUse('relay@contoso.example', later - 15_000)).every((h) => h.node === 'node-b')).toBe(true);

    // Nodes that found every slot taken are counted for the holders, each once, while recent.
    await nodes[2]!.wantConnection('relay@contoso.example', 'node-c', later);
    await nodes[2]!.wantConnection('relay@contoso.example', 'node-c', later + 10);
    await nodes[0]!.wantConnection('relay@contoso.example', 'node-a', later - 5000);
    expect(await nodes[1]!.connectionWanted('relay@contoso.example', 'node-b', later - 2000)).toBe(1);
    expect(await nodes[2]!.connectionWanted('relay@contoso.example', 'node-c', later - 2000)).toBe(0);
    expect(await nodes[1]!.connectionWanted('noreply@contoso.example', 'node-b', later - 2000)).toBe(0);

    // releaseConnections gives back everything a node holds, on every mailbox.
    await nodes[1]!.releaseConnections('node-b');
    expect(await c.store.connectionsInUse('relay@contoso.example', later - 15_000)).toEqual([]);
    expect(await nodes[0]!.takeConnection('relay@contoso.example', 'node-b', 3, later, later - 15_000)).toBe(0);
  });

  it('lets one node fetch an access token while the others wait for it', async () => {
    const c = context();
    const nodes = await nodesOf(c, 3);
    let fetched = 0;
    const results = await Promise.all(
      nodes.flatMap((node) =>
        Array.from({ length: 3 }, () =>
          node.refreshAccessToken('app:shared', async (cached) => {
            if (cached && cached.expiresAt > Date.now()) return cached;
            fetched++;
            await new Promise((r) => setTimeout(r, 50)); // Entra ID takes its time
            return { value: `token-${fetched}`, expiresAt: Date.now() + 3600_000 };
          }),
        ),
      ),
    );
    expect(fetched).toBe(1);
    expect(new Set(results.map((r) => r.value))).toEqual(new Set(['token-1']));
  });
}
