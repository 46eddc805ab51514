/**
 * App-only tokens shared through the PostgreSQL store: three nodes (three token providers,
 * each with a store of its own on one database) asking at once cause one request to Entra ID
 * (the sandbox's); a node that starts later takes the stored token; a token the upstream
 * refused is dropped for all, and the next ask fetches one new token. What the store keeps is
 * sealed with the master key (read here from the tables themselves, PostgreSQL and SQLite): a
 * node with another key, or a row in clear from an older relay365, gets no token from it.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MasterKey } from '../../src/config/master-key.js';
import { createAppTokenProvider, type AppTokenProvider } from '../../src/credentials/app-token.js';
import { GRAPH_SCOPE } from '../../src/credentials/scopes.js';
import type { PostgresStore } from '../../src/queue/postgres/store.js';
import { SqliteStore } from '../../src/queue/sqlite/store.js';
import { capturedLog, eventsSince, quietEvents, sandboxCredentials } from '../credentials/helpers.js';
import { freshDatabase, openPostgresStore } from '../helpers/postgres.js';
import { tempDir } from '../helpers/relay.js';
import { startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';

let t: TestSandbox;
const KEY = new MasterKey(randomBytes(32), 'the test key');
const stores: { close(): Promise<void> | void }[] = [];
const providers: AppTokenProvider[] = [];
beforeAll(async () => {
  t = await startTestSandbox();
});
afterAll(() => t.stop());
afterEach(async () => {
  for (const p of providers.splice(0)) p.close();
  for (const s of stores.splice(0)) await s.close();
});

async function node(url: string, log = capturedLog(), key = KEY) {
  const store = await openPostgresStore(url);
  stores.push(store);
  const provider = createAppTokenProvider(sandboxCredentials(t), { scopes: [GRAPH_SCOPE], extraCa: [t.sandbox.caPath], log: log.log, route: 'm365', shared: { store, key } });
  providers.push(provider);
  return { store, provider, log };
}

/** The access_tokens rows as the database has them. */
async function postgresRows(url: string): Promise<{ key: string; value: string | null }[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<{ key: string; value: string | null }>('SELECT key, value FROM access_tokens')).rows;
  } finally {
    await client.end();
  }
}

describe('an access token shared by the nodes', () => {
  it('is fetched once for three nodes asking at once, and taken from the store by a node that starts later', async () => {
    const url = await freshDatabase();
    const nodes = await Promise.all([node(url), node(url), node(url)]);
    const since = await quietEvents(t);
    const tokens = await Promise.all(nodes.flatMap((n) => [n.provider.getToken(), n.provider.getToken()]));
    expect(new Set(tokens.map((x) => x.token)).size).toBe(1);
    const later = await node(url);
    expect((await later.provider.getToken()).token).toBe(tokens[0]?.token);
    expect(await eventsSince(t, since, 'token')).toHaveLength(1);
    // Never in a log line, whichever node fetched it.
    for (const n of [...nodes, later]) expect(n.log.text()).not.toContain(tokens[0]?.token);
  });

  it('drops a refused token for every node: the next ask fetches one new token', async () => {
    const url = await freshDatabase();
    const [a, b] = [await node(url), await node(url)];
    const first = await a.provider.getToken();
    expect((await b.provider.getToken()).token).toBe(first.token);
    const since = await quietEvents(t);
    b.provider.invalidate(first.token); // the upstream said 535 5.7.3 to node b
    const renewed = await b.provider.getToken();
    expect(renewed.token).not.toBe(first.token);
    a.provider.invalidate(first.token); // node a was refused the same old token
    expect((await a.provider.getToken()).token).toBe(renewed.token);
    expect(await eventsSince(t, since, 'token')).toHaveLength(1);
  });
});

describe('an access token in the store', () => {
  it('is sealed with the master key: the row holds no part of the token, and a node with the same key uses it', async () => {
    const url = await freshDatabase();
    const a = await node(url);
    const token = (await a.provider.getToken()).token;
    const rows = await postgresRows(url);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.value).toMatch(new RegExp(`^${KEY.keyId}:[A-Za-z0-9_-]+$`));
    for (let i = 0; i + 20 <= token.length; i += 20) expect(rows[0]!.value!.includes(token.slice(i, i + 20))).toBe(false);
    const since = await quietEvents(t);
    const b = await node(url);
    expect((await b.provider.getToken()).token).toBe(token);
    expect(await eventsSince(t, since, 'token')).toHaveLength(0);
  });

  it('is not used by a node with another master key: it fetches its own, and says why once', async () => {
    const url = await freshDatabase();
    const a = await node(url);
    const first = (await a.provider.getToken()).token;
    const since = await quietEvents(t);
    const other = new MasterKey(randomBytes(32), 'another key');
    const b = await node(url, capturedLog(), other);
    const own = (await b.provider.getToken()).token;
    expect(own).not.toBe(first);
    expect(await eventsSince(t, since, 'token')).toHaveLength(1);
    const said = b.log.lines().filter((l) => String(l.msg).startsWith('the access token in the store was sealed with another master key'));
    expect(said).toHaveLength(1);
    expect(said[0]).toMatchObject({ storedKeyId: KEY.keyId, keyId: other.keyId });
    // What b stored is sealed with b's key now; a, with its own token cached, is not disturbed.
    expect((await postgresRows(url))[0]!.value).toMatch(new RegExp(`^${other.keyId}:`));
    expect((await a.provider.getToken()).token).toBe(first);
  });

  it('in clear (stored by a relay365 before tokens were sealed) counts as none: a new token is fetched and stored sealed', async () => {
    const url = await freshDatabase();
    const a = await node(url);
    const token = (await a.provider.getToken()).token;
    const [row] = await postgresRows(url);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query('UPDATE access_tokens SET value = $2 WHERE key = $1', [row!.key, token]).finally(() => client.end());
    const since = await quietEvents(t);
    const b = await node(url);
    const fresh = (await b.provider.getToken()).token;
    expect(fresh).not.toBe(token);
    expect(await eventsSince(t, since, 'token')).toHaveLength(1);
    expect((await postgresRows(url))[0]!.value).toMatch(new RegExp(`^${KEY.keyId}:`));
  });

  it('is sealed in the SQLite store too (read from the database file)', async () => {
    const dir = tempDir();
    const path = join(dir, 'relay365.db');
    const open = () => {
      const store = new SqliteStore({ path, spool: join(dir, 'spool'), inlineLimit: 256 * 1024 });
      stores.push(store);
      const provider = createAppTokenProvider(sandboxCredentials(t), { scopes: [GRAPH_SCOPE], extraCa: [t.sandbox.caPath], log: capturedLog().log, route: 'm365', shared: { store, key: KEY } });
      providers.push(provider);
      return provider;
    };
    const token = (await open().getToken()).token;
    const db = new Database(path, { readonly: true });
    const rows = db.prepare('SELECT value FROM access_tokens').all() as { value: string }[];
    db.close();
    expect(rows).toHaveLength(1);
    expect(rows[0]!.value).toMatch(new RegExp(`^${KEY.keyId}:[A-Za-z0-9_-]+$`));
    expect(rows[0]!.value.includes(token.slice(-20))).toBe(false);
    const since = await quietEvents(t);
    expect((await open().getToken()).token).toBe(token);
    expect(await eventsSince(t, since, 'token')).toHaveLength(0);
  });
});
