// Delegated sign-ins in the store: the SQLite store's compare-and-set, the sealing with the master
// key (bound to the route, naming the key that sealed it), and two nodes refreshing the same
// sign-in at once against the sandbox's strict refresh-token rotation: both get tokens, and the
// refresh token left in the store is the newest one (a third node can still refresh with it).
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { MasterKey } from '../../src/config/master-key.js';
import { createDelegatedTokenProvider } from '../../src/credentials/delegated-token.js';
import { openSignIn, sealSignIn } from '../../src/credentials/token-cache.js';
import { TokenError } from '../../src/credentials/token.js';
import { SqliteStore } from '../../src/queue/sqlite/store.js';
import { tempDir } from '../helpers/relay.js';
import { DEMO, useSandbox } from '../helpers/sandbox.js';
import { ALICE, browserSignIn, delegatedRoute, delegatedTenant, relayPlace, silent, smtpRouteConfig } from '../auth/helpers.js';
import { capturedLog } from './helpers.js';
import { tokenCacheContract } from './token-cache-contract.js';

tokenCacheContract('SQLite', async () => {
  const dir = tempDir();
  return new SqliteStore({ path: join(dir, 'relay365.db'), spool: join(dir, 'spool'), inlineLimit: 256 * 1024 });
});

describe('sealing', () => {
  const key = new MasterKey(Buffer.alloc(32, 7), 'a test key');
  const other = new MasterKey(Buffer.alloc(32, 8), 'RELAY365_MASTER_KEY');
  const record = { v: 1 as const, msal: '{"Account":{}}', signedInAt: 1, flow: 'browser' as const };
  const row = (data: string, route = 'alice') => ({ route, data, version: 1, updatedAt: 1 });

  it('opens with the key and route it was sealed for', () => {
    expect(openSignIn(key, row(sealSignIn(key, 'alice', record)))).toEqual(record);
  });

  it('names both key ids when another master key sealed it, and calls a tampered or moved value damaged', () => {
    const sealed = sealSignIn(key, 'alice', record);
    expect(() => openSignIn(other, row(sealed))).toThrow(`sealed with another master key (key id ${key.keyId}); this node's key, from RELAY365_MASTER_KEY, has key id ${other.keyId}`);
    const moved = (() => {
      try {
        openSignIn(key, row(sealed, 'bob'));
      } catch (e) {
        return e as TokenError;
      }
    })();
    expect(moved).toMatchObject({ error: 'token_cache_unreadable' });
    expect(moved?.message).toContain('it is damaged');
    const flipped = sealed.slice(0, -2) + (sealed.endsWith('A') ? 'BB' : 'AA');
    expect(() => openSignIn(key, row(flipped))).toThrow('damaged');
  });
});

describe('two nodes refreshing one sign-in at once', () => {
  // 2-minute access tokens are inside msal-node's 5-minute renewal window: every silent call refreshes.
  const t = useSandbox({ tenant: delegatedTenant(), options: { entra: { accessTokenLifetimeSeconds: 120 } } });

  it('both get tokens, and the refresh token left in the store is the newest', async () => {
    const place = relayPlace(tempDir(), { routes: { alice: smtpRouteConfig(t) } });
    try {
      await browserSignIn(t, place, 'alice', DEMO.alice);
      const route = delegatedRoute(place.config, 'alice');
      const logs = [capturedLog(), capturedLog()];
      const nodes = logs.map((l) => createDelegatedTokenProvider(route, { store: place.store, key: place.key, log: l.log }));
      const since = t.sandbox.events.lastSeq;
      // Both nodes read the same refresh token; the first request to arrive is held back, so the
      // other node redeems that refresh token first and the held one arrives with a used-up token.
      t.sandbox.faults.add({ kind: 'latency', endpoint: 'token', ms: 300, count: 1 });
      const tokens = await Promise.all(nodes.map((n) => n.getToken()));
      for (const token of tokens) expect(decodeJwt(token.token).upn).toBe(ALICE);
      const refreshes = t.sandbox.events.list({ since, endpoint: 'token' }).filter((e) => e.action === 'refresh_token');
      // The sandbox refuses the second use of a refresh token (strict rotation, AADSTS70000): the node
      // that lost the race took the tokens the other node stored instead of reporting a broken sign-in.
      expect(refreshes.map((e) => `${e.outcome} ${e.code ?? ''}`.trim())).toEqual(expect.arrayContaining(['ok', expect.stringMatching(/AADSTS70000/)]));
      expect(logs.map((l) => l.text()).join('\n')).toContain('another node refreshed the route');
      // A third node refreshes with what is stored: it must be the refresh token Entra ID issued last.
      const third = createDelegatedTokenProvider(route, { store: place.store, key: place.key, log: silent });
      const before = t.sandbox.events.lastSeq;
      expect(decodeJwt((await third.getToken()).token).upn).toBe(ALICE);
      expect(t.sandbox.events.list({ since: before, endpoint: 'token' }).map((e) => `${e.action} ${e.outcome}`)).toEqual(['refresh_token ok']);
      for (const n of [...nodes, third]) n.close();
    } finally {
      await place.close();
    }
  });

  it('a refresh token someone else used is not lost: the node reads the newer tokens and goes on', async () => {
    const place = relayPlace(tempDir(), { routes: { alice: smtpRouteConfig(t) } });
    try {
      await browserSignIn(t, place, 'alice', DEMO.alice);
      const route = delegatedRoute(place.config, 'alice');
      const a = createDelegatedTokenProvider(route, { store: place.store, key: place.key, log: silent });
      const b = createDelegatedTokenProvider(route, { store: place.store, key: place.key, log: silent });
      await a.getToken(); // a refreshes: the refresh token b read at its start is now used up
      await b.getToken(); // b reads the store first: no stale refresh token is sent
      a.invalidate();
      await a.getToken();
      const versions = (await place.store.loadTokenCache('alice'))!.version;
      expect(versions).toBeGreaterThanOrEqual(3);
      a.close();
      b.close();
    } finally {
      await place.close();
    }
  });
});
