/**
 * What only the shared store has to get right: nodes migrating the schema at once, the
 * maintenance done by one node at a time, and bodies that stream into and out of the
 * database in chunks (a large one never whole in memory; one whose message never came is
 * removed).
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { newMessageId } from '../../src/queue/ids.js';
import { ABANDONED_UPLOAD_MS } from '../../src/queue/postgres/maintenance.js';
import { SCHEMA_VERSION } from '../../src/queue/postgres/migrations.js';
import type { PostgresStore } from '../../src/queue/postgres/store.js';
import { freshDatabase, openPostgresStore } from '../helpers/postgres.js';
import { message } from './store-contract.js';

const opened: PostgresStore[] = [];
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
});

async function open(url: string, options: Parameters<typeof openPostgresStore>[1] = {}) {
  const store = await openPostgresStore(url, options);
  opened.push(store);
  return store;
}

async function sql<T extends pg.QueryResultRow>(url: string, text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

async function put(store: PostgresStore, body: Iterable<Buffer>, receivedAt = Date.now()): Promise<string> {
  const id = newMessageId(receivedAt);
  const writer = store.createBodyWriter(id);
  await pipeline(Readable.from(body), writer);
  await store.accept(message(id, ['a@contoso.example'], receivedAt), await writer.stored);
  return id;
}

describe('the PostgreSQL store shared by several nodes', () => {
  it('migrates once when five nodes start at the same moment', async () => {
    const url = await freshDatabase();
    const stores = await Promise.all(Array.from({ length: 5 }, () => open(url)));
    // Each migration applied once (as many as there are, whoever appends the next one).
    expect(await sql<{ version: number }>(url, 'SELECT version FROM schema_version ORDER BY version')).toEqual(Array.from({ length: SCHEMA_VERSION }, (_, i) => ({ version: i + 1 })));
    const id = await put(stores[0]!, [Buffer.from('hello')]);
    expect((await stores[4]!.get(id))?.state).toBe('queued');
  });

  it('refuses a schema newer than it knows, saying to upgrade', async () => {
    const url = await freshDatabase();
    await open(url);
    await sql(url, 'INSERT INTO schema_version (version) VALUES (99)');
    await expect(openPostgresStore(url)).rejects.toThrow(new RegExp(`schema is version 99, newer than this relay365 knows \\(${SCHEMA_VERSION}\\); upgrade relay365`));
  });

  it('expires on one node at a time: two nodes at once expire each message once', async () => {
    const url = await freshDatabase();
    const [a, b] = [await open(url), await open(url)];
    const old = Date.now() - 10 * 86_400_000;
    const ids = new Set<string>();
    for (let i = 0; i < 1200; i += 100) {
      // 1,200 messages, in batches of 100 per body-less accept
      const batch = await Promise.all(Array.from({ length: 100 }, (_, j) => put(a, [], old + i + j)));
      batch.forEach((id) => ids.add(id));
    }
    const reason = () => 'Expired';
    const [fromA, fromB] = await Promise.all([a.expire(Date.now(), reason), b.expire(Date.now(), reason)]);
    const all = [...fromA, ...fromB];
    expect(all).toHaveLength(1200);
    expect(new Set(all)).toEqual(ids);
    expect((await a.countByState()).failed).toBe(1200);
  });

  it('streams a 50 MB body in and out in chunks, never holding it whole', async () => {
    const url = await freshDatabase();
    const store = await open(url);
    const part = randomBytes(64 * 1024);
    const parts = 800; // 50 MB
    const chunksStored = async () => Number((await sql<{ n: string }>(url, 'SELECT count(*) AS n FROM body_chunks'))[0]?.n);
    let storedMidway = 0;
    const id = newMessageId();
    const writer = store.createBodyWriter(id);
    await pipeline(
      Readable.from(
        (async function* () {
          for (let i = 0; i < parts; i++) {
            if (i === 320) storedMidway = await chunksStored(); // 20 MB in: already in the database
            yield part;
          }
        })(),
      ),
      writer,
    );
    await store.accept(message(id, ['a@contoso.example'], Date.now()), await writer.stored);
    expect(storedMidway).toBeGreaterThanOrEqual(18);

    const body = await store.openBody(id);
    let size = 0;
    let same = true;
    let mostBuffered = 0;
    for await (const chunk of body) {
      const buffer = chunk as Buffer;
      for (let at = 0; at < buffer.length; at += part.length) same &&= buffer.subarray(at, at + part.length).equals(part);
      size += buffer.length;
      await new Promise((r) => setTimeout(r, 2)); // a slow upstream: the reader must not run ahead
      mostBuffered = Math.max(mostBuffered, body.readableLength);
    }
    expect(size).toBe(parts * part.length);
    expect(same).toBe(true);
    expect(mostBuffered).toBeLessThanOrEqual(2 * 1024 * 1024);
    expect((await store.get(id))?.size).toBe(parts * part.length);
  });

  it('removes the chunks of a body whose message was never committed', async () => {
    const url = await freshDatabase();
    const store = await open(url);
    const chunks = async () => Number((await sql<{ n: string }>(url, 'SELECT count(*) AS n FROM body_chunks'))[0]?.n);
    // A client that went away: the writer is aborted.
    const aborted = store.createBodyWriter(newMessageId());
    await new Promise<void>((resolve) => aborted.write(randomBytes(3 * 1024 * 1024), () => resolve()));
    expect(await chunks()).toBeGreaterThan(0);
    await aborted.abort();
    expect(await chunks()).toBe(0);
    // A node that died mid-DATA: its upload stays until maintenance finds it abandoned.
    const crashed = store.createBodyWriter(newMessageId());
    await new Promise<void>((resolve) => crashed.write(randomBytes(3 * 1024 * 1024), () => resolve()));
    await store.purge(Date.now() - 1000);
    expect(await chunks()).toBeGreaterThan(0);
    await sql(url, 'UPDATE body_uploads SET started_at = started_at - $1', [ABANDONED_UPLOAD_MS + 1]);
    await store.purge(Date.now() - 1000);
    expect(await chunks()).toBe(0);
  });
});
