/**
 * Roles, enforced by the server on every route of the access table (src/admin/access.ts): a
 * read-only user or token reads the queue, routes, apps, nodes and messages' metadata, and is
 * refused with a 403 problem document for every action, the API tokens and message bodies —
 * whatever the console shows or hides.
 */
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessTable } from '../../src/admin/access.js';
import { buildAdmin } from '../../src/admin/server.js';
import { configSchema } from '../../src/config/schema.js';
import { SqliteStore } from '../../src/queue/sqlite/store.js';
import type { AdminConfig } from '../../src/config/admin.js';
import { hashPassword } from '../../src/policy/passwords.js';
import { tempDir } from '../helpers/relay.js';
import { until } from '../helpers/sink.js';
import { ADMIN, AdminClient, sendThrough, startAdminRelay, type AdminRelay } from './helpers.js';

const VIEWER = { user: 'viewer', password: 'a long read-only passphrase' };
let relay: AdminRelay;
let admin: AdminClient;
let viewer: AdminClient;
let readOnlyToken: AdminClient;
let message: string;

beforeAll(async () => {
  relay = await startAdminRelay({
    users: {
      [ADMIN.user]: { passwordHash: await hashPassword(ADMIN.password) },
      [VIEWER.user]: { passwordHash: await hashPassword(VIEWER.password), role: 'read-only' },
    },
  });
  admin = new AdminClient(relay.base);
  await admin.login();
  viewer = new AdminClient(relay.base);
  expect((await viewer.login(VIEWER.user, VIEWER.password)).status).toBe(200);
  const token = await admin.post<{ token: string; role: string }>('/api/tokens', { name: 'dashboard', role: 'read-only' });
  expect(token.body.role).toBe('read-only');
  readOnlyToken = new AdminClient(relay.base, token.body.token);
  message = await sendThrough(relay.relay.port, 'erp@contoso.example', ['ann@fabrikam.example'], 'Invoice 7');
  await until(async () => (await admin.get(`/api/messages/${message}`)).body.state === 'delivered', 10_000, () => 'the message was not delivered');
});
afterAll(async () => {
  await relay?.stop();
});

/** Every route of the access table (admin.metrics at its default) that needs `access`, with its parameters filled in. */
function routes(access: 'read-only' | 'admin'): [string, string][] {
  return Object.entries(accessTable({ metrics: 'token' } as AdminConfig))
    .filter(([, needed]) => needed === access)
    .map(([key]) => {
      const [method, path] = key.split(' ') as [string, string];
      return [method, path.replace(':id', path.startsWith('/api/tokens') ? 'dashboard' : message).replace(':name', 'main')];
    });
}

describe('a read-only user and a read-only API token', () => {
  for (const who of ['session', 'token'] as const) {
    it(`read the queue, a message's metadata, routes, apps, nodes, the overview and /metrics (${who})`, async () => {
      const caller = who === 'session' ? viewer : readOnlyToken;
      const reads = routes('read-only');
      expect(reads.map(([m, p]) => `${m} ${p.replace(message, ':id')}`).sort()).toEqual(
        ['GET /api/apps', 'GET /api/events/messages', 'GET /api/messages', 'GET /api/messages/:id', 'GET /api/nodes', 'GET /api/overview', 'GET /api/routes', 'GET /metrics'].sort(),
      );
      // The event stream does not end: its first event is what says it is open.
      for (const [method, path] of reads) expect((path.startsWith('/api/events/') ? await caller.events(path, /event: ready/) : await caller.request(method, path)).status, `${method} ${path}`).toBe(200);
      const detail = await caller.get(`/api/messages/${message}`);
      expect(detail.body).toMatchObject({ id: message, mailFrom: 'erp@contoso.example', headers: expect.arrayContaining([{ name: 'Subject', value: 'Invoice 7' }]) });
    });

    it(`are refused every action, the API tokens and message bodies with 403 (${who})`, async () => {
      const caller = who === 'session' ? viewer : readOnlyToken;
      const acts = routes('admin');
      // Each class: bodies, message actions, route actions, tokens, the test send.
      expect(acts.map(([m, p]) => `${m} ${p}`)).toEqual(
        expect.arrayContaining([`GET /api/messages/${message}/eml`, `POST /api/messages/${message}/retry`, `DELETE /api/messages/${message}`, 'POST /api/messages/actions', 'POST /api/routes/main/pause', 'GET /api/tokens', 'POST /api/tokens', 'DELETE /api/tokens/dashboard', 'POST /api/test-send']),
      );
      for (const [method, path] of acts) {
        const answer = await caller.request(method, path, method === 'POST' ? {} : undefined);
        expect(answer.status, `${method} ${path}`).toBe(403);
        expect(answer.headers.get('content-type')).toContain('application/problem+json');
        expect(answer.body).toMatchObject({ type: 'https://relay365.dev/problems/forbidden', status: 403, role: 'read-only', detail: expect.stringMatching(/is read-only: .* needs the admin role/) });
      }
      // Nothing happened: the message is there, delivered, the route active, the token alive.
      expect((await admin.get(`/api/messages/${message}`)).body.state).toBe('delivered');
      expect((await admin.get<{ routes: { state: string }[] }>('/api/routes')).body.routes[0]!.state).toBe('active');
      expect((await readOnlyToken.get('/api/messages')).status).toBe(200);
    });
  }

  it('says which role the session has, so the console can hide what it may not do', async () => {
    expect((await viewer.get('/api/session')).body).toMatchObject({ user: VIEWER.user, role: 'read-only' });
    expect((await readOnlyToken.get('/api/session')).body).toMatchObject({ user: 'token:dashboard', role: 'read-only', via: 'token' });
    expect((await admin.get('/api/session')).body).toMatchObject({ user: ADMIN.user, role: 'admin' });
  });

  it('lets an admin do what a read-only user may not', async () => {
    expect((await admin.get(`/api/messages/${message}/eml`)).status).toBe(200);
    expect((await admin.get('/api/tokens')).status).toBe(200);
  });
});

describe('the access table', () => {
  it('names every route: a route added without saying who may call it stops the server from being built', async () => {
    const dir = tempDir();
    const store = new SqliteStore({ path: join(dir, 'relay365.db'), spool: join(dir, 'spool'), inlineLimit: 1024 });
    const config = configSchema.parse({ store: { path: join(dir, 'relay365.db') }, admin: { port: 0 } });
    const { app } = await buildAdmin({ config, store, log: pino({ level: 'silent' }), listeners: () => new Map(), listening: () => true });
    try {
      expect(() => app.get('/api/secrets', async () => ({ everything: true }))).toThrow(/admin route GET \/api\/secrets is not in the access table/);
    } finally {
      await app.close();
      await store.close();
    }
  });
});
