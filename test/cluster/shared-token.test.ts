/**
 * App-only tokens shared through the PostgreSQL store: three nodes (three token providers,
 * each with a store of its own on one database) asking at once cause one request to Entra ID
 * (the sandbox's); a node that starts later takes the stored token; a token the upstream
 * refused is dropped for all, and the next ask fetches one new token.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAppTokenProvider, type AppTokenProvider } from '../../src/credentials/app-token.js';
import { GRAPH_SCOPE } from '../../src/credentials/scopes.js';
import type { PostgresStore } from '../../src/queue/postgres/store.js';
import { capturedLog, eventsSince, quietEvents, sandboxCredentials } from '../credentials/helpers.js';
import { freshDatabase, openPostgresStore } from '../helpers/postgres.js';
import { startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';

let t: TestSandbox;
const stores: PostgresStore[] = [];
const providers: AppTokenProvider[] = [];
beforeAll(async () => {
  t = await startTestSandbox();
});
afterAll(() => t.stop());
afterEach(async () => {
  for (const p of providers.splice(0)) p.close();
  for (const s of stores.splice(0)) await s.close();
});

async function node(url: string, log = capturedLog()) {
  const store = await openPostgresStore(url);
  stores.push(store);
  const provider = createAppTokenProvider(sandboxCredentials(t), { scopes: [GRAPH_SCOPE], extraCa: [t.sandbox.caPath], log: log.log, route: 'm365', shared: store });
  providers.push(provider);
  return { store, provider, log };
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
