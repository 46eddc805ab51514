/**
 * The console of any node shows the whole cluster: two nodes on one PostgreSQL store, each its
 * own admin listener; a session made on one is accepted by the other (sessions live in the
 * store), and each lists both nodes and the messages either one received.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { hashPassword } from '../../src/policy/passwords.js';
import { startCluster, type Cluster } from '../cluster/cluster.js';
import { until } from '../helpers/sink.js';
import { ADMIN, AdminClient } from './helpers.js';

let cluster: Cluster;
let consoles: string[];

beforeAll(async () => {
  const passwordHash = await hashPassword(ADMIN.password);
  cluster = await startCluster(2, () => ({ admin: { host: '127.0.0.1', port: 0, users: { [ADMIN.user]: { passwordHash } } } }));
  const consoleOf = (logs: Record<string, unknown>[]) => logs.find((l) => l.msg === 'admin console and API listening')?.console as string | undefined;
  await until(() => cluster.nodes.every((n) => consoleOf(n.relay.logs)), 10_000, () => 'a node did not start its admin listener');
  consoles = cluster.nodes.map((n) => consoleOf(n.relay.logs)!.replace(/\/$/, ''));
});
afterAll(async () => {
  await cluster?.stop();
});

it('accepts a session from another node and shows every node and every message', async () => {
  await cluster.submit(2, (i) => ({ from: 'erp@contoso.example', to: `user${i}@fabrikam.example`, raw: `Subject: node ${i}\r\n\r\nhello\r\n` }));
  const a = new AdminClient(consoles[0]!);
  expect((await a.login()).status).toBe(200);
  const b = new AdminClient(consoles[1]!);
  b.cookie = a.cookie;
  b.csrf = a.csrf;
  expect((await b.get('/api/session')).body).toMatchObject({ user: ADMIN.user, via: 'session' });
  for (const node of [a, b]) {
    expect((await node.get<{ nodes: { name: string; state: string }[] }>('/api/nodes')).body.nodes.map((n) => [n.name, n.state])).toEqual([
      ['node-a', 'running'],
      ['node-b', 'running'],
    ]);
    const listed = await node.get<{ messages: { recipients: string[] }[] }>('/api/messages?sender=erp@');
    expect(listed.body.messages.flatMap((m) => m.recipients).sort()).toEqual(['user0@fabrikam.example', 'user1@fabrikam.example']);
  }
  expect((await b.post('/api/logout')).status).toBe(200);
  expect((await a.get('/api/messages')).status).toBe(401);
});
