/**
 * What the admin server tells callers who have not signed in: /readyz tells a load balancer to
 * stop sending traffic when the store or the listeners are down, in general words (the store's
 * own error, which can name the database host and user, goes to the log only); /healthz only
 * that the process lives; /metrics needs an API token unless admin.metrics is public; and
 * /api/session tells an anonymous caller nothing but that nobody is signed in.
 */
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pg from 'pg';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { startAdmin } from '../../src/admin/server.js';
import { configSchema } from '../../src/config/schema.js';
import { SqliteStore } from '../../src/queue/sqlite/store.js';
import type { Store } from '../../src/queue/store.js';
import { freshDatabase, openPostgresStore } from '../helpers/postgres.js';
import { tempDir } from '../helpers/relay.js';
import { until } from '../helpers/sink.js';
import { AdminClient, startAdminRelay } from './helpers.js';

/** A logger whose lines the test can read. */
function capturedLog() {
  const lines: Record<string, unknown>[] = [];
  const log = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    }),
  );
  return { log, lines };
}

async function adminOn(store: Store, dir: string, listening: () => boolean, log: pino.Logger) {
  const config = configSchema.parse({ store: { path: join(dir, 'relay365.db') }, admin: { port: 0 } });
  const admin = await startAdmin({ config, store, log, listeners: () => new Map(), listening });
  const get = async (path: string) => {
    const res = await fetch(`${admin.url}${path.slice(1)}`);
    const text = await res.text();
    return { status: res.status, text, body: JSON.parse(text) as Record<string, unknown> };
  };
  return { admin, get };
}

describe('/readyz and /healthz', () => {
  it('answers /readyz 503 with general reasons while the listeners are down or the store does not answer, and logs the store\'s error', async () => {
    const dir = tempDir();
    const store = new SqliteStore({ path: join(dir, 'relay365.db'), spool: join(dir, 'spool'), inlineLimit: 1024 });
    let listening = true;
    const { log, lines } = capturedLog();
    const { admin, get } = await adminOn(store, dir, () => listening, log);
    try {
      expect(await get('/readyz')).toMatchObject({ status: 200, body: { status: 'ready' } });
      listening = false;
      expect(await get('/readyz')).toMatchObject({ status: 503, body: { status: 'unavailable', problems: ['the SMTP listeners are not up'] } });
      await store.close();
      const error = await store.countByState().then(() => '', (err: Error) => err.message);
      expect(error).not.toBe('');
      const down = await get('/readyz');
      expect(down.status).toBe(503);
      expect(down.body).toEqual({ status: 'unavailable', problems: ['the SMTP listeners are not up', 'the store does not answer'] });
      expect(down.text).not.toContain(error);
      expect(lines.find((l) => l.msg === '/readyz: the store does not answer')?.error).toBe(error);
      expect((await get('/healthz')).body).toEqual({ status: 'ok' });
    } finally {
      await admin.stop();
    }
  });

  it('does not name the PostgreSQL host or user in /readyz when the database refuses the relay', async () => {
    const url = await freshDatabase();
    const role = `relay_${new URL(url).pathname.slice(1)}`;
    const superuser = async (text: string) => {
      const client = new pg.Client({ connectionString: Object.assign(new URL(url), { pathname: '/postgres' }).toString() });
      await client.connect();
      try {
        await client.query(text.replaceAll('$db', new URL(url).pathname.slice(1)).replaceAll('$role', role));
      } finally {
        await client.end();
      }
    };
    await superuser('CREATE ROLE $role LOGIN');
    await superuser('ALTER DATABASE $db OWNER TO $role');
    const store = await openPostgresStore(Object.assign(new URL(url), { username: role }).toString());
    const { log, lines } = capturedLog();
    const { admin, get } = await adminOn(store, tempDir(), () => true, log);
    try {
      expect((await get('/readyz')).body).toEqual({ status: 'ready' });
      await superuser('ALTER ROLE $role NOLOGIN');
      await superuser(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '$role'`);
      // The pool's next connection is refused for the role by name: that text stays in the log.
      await until(
        async () => {
          await get('/readyz');
          return lines.some((l) => String(l.error).includes(role));
        },
        10_000,
        () => `no refusal naming the role was logged: ${JSON.stringify(lines)}`,
      );
      const down = await get('/readyz');
      expect(down).toMatchObject({ status: 503, body: { status: 'unavailable', problems: ['the store does not answer'] } });
      expect(down.text).not.toContain(role);
      expect(down.text).not.toContain('127.0.0.1');
    } finally {
      await admin.stop();
      await superuser('ALTER ROLE $role LOGIN');
      await store.close().catch(() => undefined);
    }
  });
});

describe('/metrics and /api/session without signing in', () => {
  it('refuses /metrics without an API token by default, and serves it to a read-only token', async () => {
    const relay = await startAdminRelay();
    try {
      const anonymous = await new AdminClient(relay.base).get('/metrics');
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.get('content-type')).toContain('application/problem+json');
      expect(JSON.stringify(anonymous.body)).not.toContain('relay365_');
      const admin = new AdminClient(relay.base);
      await admin.login();
      const { body } = await admin.post<{ token: string }>('/api/tokens', { name: 'prometheus', role: 'read-only' });
      const scrape = await new AdminClient(relay.base, body.token).get<string>('/metrics');
      expect(scrape.status).toBe(200);
      expect(scrape.body).toContain('relay365_queue_messages');
    } finally {
      await relay.stop();
    }
  });

  it('serves /metrics to anyone with admin.metrics: public', async () => {
    const relay = await startAdminRelay({ metrics: 'public' });
    try {
      const scrape = await new AdminClient(relay.base).get<string>('/metrics');
      expect(scrape.status).toBe(200);
      expect(scrape.body).toContain('relay365_queue_messages');
    } finally {
      await relay.stop();
    }
  });

  it('tells an anonymous caller of /api/session only that nobody is signed in, not the node\'s name', async () => {
    const relay = await startAdminRelay();
    try {
      const anonymous = await new AdminClient(relay.base).get('/api/session');
      expect(anonymous.body).toEqual({ user: null, via: null, role: null, csrfToken: null, needsSetup: false });
      const signedIn = new AdminClient(relay.base);
      await signedIn.login();
      expect((await signedIn.get('/api/session')).body).toMatchObject({ user: 'ops', role: 'admin', node: 'relay.test' });
    } finally {
      await relay.stop();
    }
  });
});
