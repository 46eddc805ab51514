/** /readyz tells a load balancer to stop sending traffic when the store or the listeners are down; /healthz only that the process lives. */
import { join } from 'node:path';
import pino from 'pino';
import { expect, it } from 'vitest';
import { startAdmin } from '../../src/admin/server.js';
import { configSchema } from '../../src/config/schema.js';
import { SqliteStore } from '../../src/queue/sqlite/store.js';
import { tempDir } from '../helpers/relay.js';

it('answers /readyz 503 with the reasons while the listeners are down or the store does not answer', async () => {
  const dir = tempDir();
  const store = new SqliteStore({ path: join(dir, 'relay365.db'), spool: join(dir, 'spool'), inlineLimit: 1024 });
  let listening = true;
  const config = configSchema.parse({ store: { path: join(dir, 'relay365.db') }, admin: { port: 0 } });
  const admin = await startAdmin({ config, store, log: pino({ level: 'silent' }), listeners: () => new Map(), listening: () => listening });
  try {
    const get = async (path: string) => {
      const res = await fetch(`${admin.url}${path.slice(1)}`);
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    expect(await get('/readyz')).toEqual({ status: 200, body: { status: 'ready' } });
    listening = false;
    expect(await get('/readyz')).toEqual({ status: 503, body: { status: 'unavailable', problems: ['the SMTP listeners are not up'] } });
    await store.close();
    const down = await get('/readyz');
    expect(down.status).toBe(503);
    expect(down.body.problems).toEqual(['the SMTP listeners are not up', expect.stringMatching(/^the store does not answer: /)]);
    expect(await get('/healthz')).toEqual({ status: 200, body: { status: 'ok' } });
  } finally {
    await admin.stop();
  }
});
