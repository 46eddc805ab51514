// Fault injection on the token endpoint and tenant reload, as a client (msal-node) sees them.
import { mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defaultTenantFile } from '../../sandbox/options.js';
import { until } from '../helpers/sink.js';
import { aadstsOf, confidentialClient, DEMO, EXCHANGE_DEFAULT_SCOPE, failureOf, httpsRequest, startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';

describe('fault injection on the token endpoint', () => {
  let t: TestSandbox;
  beforeAll(async () => {
    t = await startTestSandbox();
  });
  afterAll(() => t.stop());
  afterEach(() => t.sandbox.faults.clear());

  // Each attempt uses a new client, as a relay restarting its attempt would: msal-node remembers a
  // 5xx for Retry-After seconds and would otherwise answer the retry itself, without asking.
  const acquire = () => confidentialClient(t, { clientId: DEMO.appOnly.clientId, clientSecret: DEMO.appOnly.secret }).acquireTokenByClientCredential({ scopes: [EXCHANGE_DEFAULT_SCOPE] });

  it('answers the next two token requests with 503, then serves tokens again', async () => {
    const since = t.sandbox.events.lastSeq;
    const added = await httpsRequest(t, `${t.sandbox.urls.api}/faults`, {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'reply', endpoint: 'token', count: 2, http: { status: 503, headers: { 'retry-after': '1' } } }),
    });
    expect(added.status).toBe(201);
    for (let i = 0; i < 2; i++) {
      const err = await failureOf(acquire);
      expect(err.errorCode).toBe('temporarily_unavailable');
      expect(aadstsOf(err)).toBe('AADSTS90033');
    }
    await expect(acquire()).resolves.toMatchObject({ tokenType: 'Bearer' });
    expect(t.sandbox.events.list({ since, endpoint: 'token' }).map((e) => `${e.outcome} ${e.status}`)).toEqual(['fault 503', 'fault 503', 'ok 200']);
    expect(t.sandbox.faults.list()).toEqual([]);
  });

  it('adds latency to the token endpoint', async () => {
    t.sandbox.faults.add({ kind: 'latency', endpoint: 'token', ms: 400 });
    const started = Date.now();
    await acquire();
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
  });

  it('goes down (connections closed) and comes back when the fault is cleared', async () => {
    const down = t.sandbox.faults.add({ kind: 'down', endpoint: 'token' });
    const err = await failureOf(acquire);
    expect(err.errorCode).toBe('network_error');
    expect(down.ok && t.sandbox.faults.remove(down.fault.id)).toBe(true);
    await expect(acquire()).resolves.toBeTruthy();
  });

  it('takes the whole HTTPS server down for a while', async () => {
    t.sandbox.faults.add({ kind: 'down', endpoint: 'https', durationMs: 300 });
    await expect(httpsRequest(t, `${t.sandbox.urls.authority()}/v2.0/.well-known/openid-configuration`)).rejects.toThrow();
    const status = () => httpsRequest(t, `${t.sandbox.urls.authority()}/v2.0/.well-known/openid-configuration`).then((r) => r.status, () => 0);
    await until(async () => (await status()) === 200, 5000, () => 'the HTTPS server did not come back after its 300 ms down');
  });

  it('refuses an invalid fault with a reason', async () => {
    const res = await httpsRequest(t, `${t.sandbox.urls.api}/faults`, { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ kind: 'reply', endpoint: 'token' }) });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text)).toMatchObject({ error: { code: 'fault_invalid' } });
  });
});

describe('tenant reload', () => {
  it('sees an edited tenant file on the next request: a rotated secret takes effect at once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'relay365-tenant-'));
    const file = join(dir, 'tenant.yaml');
    await writeFile(file, await readFile(defaultTenantFile(), 'utf8'));
    const t = await startTestSandbox({ tenant: file });
    try {
      const withSecret = (clientSecret: string) => confidentialClient(t, { clientId: DEMO.appOnly.clientId, clientSecret }).acquireTokenByClientCredential({ scopes: [EXCHANGE_DEFAULT_SCOPE] });
      await expect(withSecret(DEMO.appOnly.secret)).resolves.toBeTruthy();
      const rotated = 'a-new~secret-value';
      await writeFile(file, (await readFile(file, 'utf8')).replace(DEMO.appOnly.secret, rotated));
      const later = new Date(Date.now() + 2000);
      await utimes(file, later, later); // a distinct mtime even on coarse-grained file systems
      expect(aadstsOf(await failureOf(() => withSecret(DEMO.appOnly.secret)))).toBe('AADSTS7000215');
      await expect(withSecret(rotated)).resolves.toBeTruthy();
      // A broken edit keeps the last good tenant in force and says why.
      await writeFile(file, 'tenantId: not-a-guid\n');
      const latest = new Date(Date.now() + 4000);
      await utimes(file, latest, latest);
      await expect(withSecret(rotated)).resolves.toBeTruthy();
      expect(t.sandbox.tenant.lastError?.message).toContain('tenantId');
    } finally {
      await t.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
