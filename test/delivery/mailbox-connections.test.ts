/**
 * How a node shares a mailbox's connections (src/delivery/mailbox-connections.ts), on a real
 * SQLite store that two nodes open: slots come from the store, a busy node's next message
 * waits for its own connection to free rather than going back to the queue, an idle
 * connection closes before its slot is given back, a slot moving to another route closes
 * the first route's connection before the second opens one, and a node holding every slot
 * gives back what is over its share when another node wants one.
 */
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MailboxConnections } from '../../src/delivery/mailbox-connections.js';
import { SqliteStore } from '../../src/queue/sqlite/store.js';
import { tempDir } from '../helpers/relay.js';
import { until } from '../helpers/sink.js';

const MAILBOX = 'relay@contoso.example';
const log = pino({ level: 'silent' });
let store: SqliteStore;
let closed: string[];
const nodes: MailboxConnections[] = [];

async function node(name: string, idleMs = 60_000): Promise<MailboxConnections> {
  await store.heartbeat({ name, host: 'host', pid: 1, version: '1.0.0', startedAt: Date.now() }, Date.now());
  const connections = new MailboxConnections(store, name, async (route, slot) => void closed.push(`${name} ${route} ${slot}`), log, idleMs);
  await connections.start();
  nodes.push(connections);
  return connections;
}

const openInStore = async () => (await store.connectionsInUse(MAILBOX, Date.now() - 15_000)).map((c) => `${c.node} ${c.slot}`).sort();

beforeEach(() => {
  const dir = tempDir();
  store = new SqliteStore({ path: join(dir, 'relay365.db'), spool: join(dir, 'spool'), inlineLimit: 256 * 1024 });
  closed = [];
});
afterEach(async () => {
  for (const n of nodes.splice(0)) await n.stop();
  await store.close();
});

describe('mailbox connections', () => {
  it('takes slots from the store for both nodes together, up to the limit', async () => {
    const a = await node('node-a');
    const b = await node('node-b');
    const first = await a.take(MAILBOX, 'relay', 3, Date.now());
    const second = await b.take(MAILBOX, 'relay', 3, Date.now());
    const third = await b.take(MAILBOX, 'relay', 3, Date.now());
    expect([first?.slot, second?.slot, third?.slot]).toEqual([0, 1, 2]);
    expect(await openInStore()).toEqual(['node-a 0', 'node-b 1', 'node-b 2']);
    // node-a holds one (busy) and may queue a few behind it; a node holding none gets none.
    const c = await node('node-c');
    expect(await c.take(MAILBOX, 'relay', 3, Date.now())).toBeNull();
  });

  it("hands a busy node's freed connection to the message waiting for it, and sends the rest back to the queue", async () => {
    const a = await node('node-a');
    const held = await a.take(MAILBOX, 'relay', 1, Date.now());
    const waiters = Array.from({ length: 5 }, () => a.take(MAILBOX, 'relay', 1, Date.now()));
    // Four wait per connection held; the fifth goes back to the queue at once.
    expect(await waiters[4]).toBeNull();
    held!.release();
    const next = await waiters[0];
    expect(next?.slot).toBe(0);
    expect(closed).toEqual([]); // the same connection, still open
    next!.release();
    const after = await waiters[1];
    expect(after?.slot).toBe(0);
    expect(await openInStore()).toEqual(['node-a 0']);
  });

  it('closes an idle connection, then frees its slot for another node', async () => {
    const a = await node('node-a', 50);
    const b = await node('node-b', 50);
    const mine = await a.take(MAILBOX, 'relay', 1, Date.now());
    expect(await b.take(MAILBOX, 'relay', 1, Date.now())).toBeNull();
    mine!.release();
    await until(async () => (await openInStore()).length === 0, 5000, () => 'the idle slot was never given back');
    expect(closed).toEqual(['node-a relay 0']);
    const theirs = await b.take(MAILBOX, 'relay', 1, Date.now() + 1000); // past node-b's wait before asking the store again
    expect(theirs?.slot).toBe(0);
    expect(await openInStore()).toEqual(['node-b 0']);
  });

  it("closes one route's idle connection before another route sends as the same mailbox on its slot", async () => {
    const a = await node('node-a');
    const smtp = await a.take(MAILBOX, 'smtp-route', 1, Date.now());
    smtp!.release();
    const other = await a.take(MAILBOX, 'other-route', 1, Date.now());
    expect(other?.slot).toBe(0);
    expect(closed).toEqual(['node-a smtp-route 0']);
  });

  it("frees a stopped node's slots, and the slots of its earlier life when it starts again", async () => {
    const a = await node('node-a');
    await a.take(MAILBOX, 'relay', 3, Date.now());
    await a.take(MAILBOX, 'relay', 3, Date.now());
    expect(await openInStore()).toEqual(['node-a 0', 'node-a 1']);
    // A crash: the process is gone without stop(); its next life starts under the same name.
    const again = new MailboxConnections(store, 'node-a', async () => undefined, log);
    await again.start();
    expect(await openInStore()).toEqual([]);
    expect((await again.take(MAILBOX, 'relay', 3, Date.now()))?.slot).toBe(0);
    await again.stop();
    expect(await openInStore()).toEqual([]);
  });

  it('gives back what is over its share when another node found every slot taken', async () => {
    const a = await node('node-a');
    const b = await node('node-b');
    const mine = await Promise.all([0, 1, 2].map(() => a.take(MAILBOX, 'relay', 3, Date.now())));
    expect(await b.take(MAILBOX, 'relay', 3, Date.now())).toBeNull(); // all taken: node-b says it wants one
    await new Promise((r) => setTimeout(r, 600)); // past node-a's last look
    mine[0]!.release(); // node-a looks again, in the background; this one is kept idle meanwhile
    await new Promise((r) => setTimeout(r, 100));
    mine[1]!.release(); // 3 held, a share of 2 with node-b waiting: this one goes back at once
    await until(async () => (await openInStore()).length === 2, 5000, () => 'node-a kept all three');
    expect(closed).toEqual([`node-a relay ${mine[1]!.slot}`]);
    expect((await b.take(MAILBOX, 'relay', 3, Date.now() + 1000))?.slot).toBe(mine[1]!.slot);
    // node-a goes on with its idle connection, and asks the store for no more than its share.
    expect((await a.take(MAILBOX, 'relay', 3, Date.now()))?.slot).toBe(mine[0]!.slot);
    expect((await openInStore()).filter((c) => c.startsWith('node-a'))).toHaveLength(2);
  });
});
