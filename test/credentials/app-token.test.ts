// App-only tokens through the real msal-node from the sandbox's Entra ID: secret and certificate,
// tenant by id and by domain, a token endpoint template; caching, renewal before expiry and single
// flight as the sandbox's token endpoint sees them; failures not cached; Retry-After honoured.
import { rm } from 'node:fs/promises';
import { decodeJwt } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAppTokenProvider, type AppTokenProvider } from '../../src/credentials/app-token.js';
import { entraEndpoints } from '../../src/credentials/entra-endpoints.js';
import { parseRetryAfter } from '../../src/credentials/observed-network.js';
import { GRAPH_SCOPE, SMTP_SCOPE, graphScopes } from '../../src/credentials/scopes.js';
import { TokenError } from '../../src/credentials/token.js';
import { DEMO, startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { capturedLog, eventsSince, quietEvents, registeredCertificate, sandboxCredentials } from './helpers.js';

let t: TestSandbox;
const providers: AppTokenProvider[] = [];
beforeAll(async () => {
  t = await startTestSandbox();
});
afterAll(() => t.stop());
afterEach(() => {
  for (const p of providers.splice(0)) p.close();
  t.sandbox.faults.clear();
});

function provider(extra: Parameters<typeof sandboxCredentials>[1] = {}, options: { scopes?: string[]; now?: () => number; log?: ReturnType<typeof capturedLog> } = {}) {
  const p = createAppTokenProvider(sandboxCredentials(t, extra), {
    scopes: options.scopes ?? [GRAPH_SCOPE],
    extraCa: [t.sandbox.caPath],
    log: (options.log ?? capturedLog()).log,
    route: 'm365',
    ...(options.now ? { now: options.now } : {}),
  });
  providers.push(p);
  return p;
}

/** Token requests the sandbox answered since `since`. */
const tokenRequests = (since: number) => eventsSince(t, since, 'token');

async function failure(p: AppTokenProvider): Promise<TokenError> {
  const e = await p.getToken().then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(TokenError);
  return e as TokenError;
}

describe('getting a token', () => {
  it('with a client secret, tenant by id: a Graph token with Mail.Send, its expiry from expires_in', async () => {
    const before = Date.now();
    const token = await provider().getToken();
    expect(decodeJwt(token.token)).toMatchObject({ aud: 'https://graph.microsoft.com', roles: ['Mail.Send', 'Mail.Read'], tid: DEMO.tenantId, appid: DEMO.appOnly.clientId, appidacr: '1' });
    expect(token.expiresAt - before).toBeGreaterThan(3590_000);
    expect(token.expiresAt - before).toBeLessThanOrEqual(3600_000);
  });

  it('with the tenant given as its domain, and Exchange Online scope for SMTP', async () => {
    const token = await provider({ tenant: DEMO.domain }, { scopes: [SMTP_SCOPE] }).getToken();
    expect(decodeJwt(token.token)).toMatchObject({ aud: 'https://outlook.office365.com', roles: ['SMTP.SendAsApp'], tid: DEMO.tenantId });
  });

  it('from a token endpoint template with {tenant} (or enaio\'s #TenantID#), which wins over authorityHost', async () => {
    const since = await quietEvents(t);
    for (const placeholder of ['{tenant}', '#TenantID#']) {
      const p = provider({ tenant: DEMO.domain, authorityHost: 'https://login.microsoftonline.com', tokenEndpoint: `${t.sandbox.urls.origin}/${placeholder}/oauth2/v2.0/token` });
      expect(p.endpoints.tokenEndpoint).toBe(`${t.sandbox.urls.origin}/${DEMO.domain}/oauth2/v2.0/token`);
      expect(decodeJwt((await p.getToken()).token).tid).toBe(DEMO.tenantId);
    }
    // authorityMetadata is given to msal-node: no OpenID discovery request, only the token requests.
    expect((await eventsSince(t, since)).map((e) => e.endpoint)).toEqual(['token', 'token']);
  });

  it('with a certificate: msal-node signs a PS256 assertion naming the certificate by its SHA-256 thumbprint', async () => {
    const { issued, files, dir } = await registeredCertificate(t);
    try {
      const p = provider({ clientSecret: undefined, certificate: files });
      expect(p.credential).toMatchObject({ kind: 'certificate', certificate: { sha1Thumbprint: issued.sha1Thumbprint, sha256Thumbprint: issued.sha256Thumbprint } });
      expect(decodeJwt((await p.getToken()).token)).toMatchObject({ appidacr: '2', roles: ['Mail.Send', 'Mail.Read'] });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('picks the national cloud\'s Graph scope from the endpoint, and takes configured scopes as they are', () => {
    expect(graphScopes({}, 'https://graph.microsoft.com')).toEqual([GRAPH_SCOPE]);
    expect(graphScopes({}, 'https://graph.microsoft.us')).toEqual(['https://graph.microsoft.us/.default']);
    expect(graphScopes({}, 'https://microsoftgraph.chinacloudapi.cn')).toEqual(['https://microsoftgraph.chinacloudapi.cn/.default']);
    expect(graphScopes({}, t.sandbox.urls.graph)).toEqual([GRAPH_SCOPE]);
    expect(graphScopes({ scopes: ['api://x/.default'] }, 'https://graph.microsoft.com')).toEqual(['api://x/.default']);
  });
});

describe('where tokens come from', () => {
  const base = { tenant: 'contoso.onmicrosoft.us', clientId: DEMO.appOnly.clientId };
  it('builds the authority, token endpoint and consent URL of a national cloud from authorityHost', () => {
    const e = entraEndpoints({ ...base, authorityHost: 'https://login.microsoftonline.us' });
    expect(e).toMatchObject({
      authority: 'https://login.microsoftonline.us/contoso.onmicrosoft.us',
      host: 'login.microsoftonline.us',
      tokenEndpoint: 'https://login.microsoftonline.us/contoso.onmicrosoft.us/oauth2/v2.0/token',
      adminConsentUrl: `https://login.microsoftonline.us/contoso.onmicrosoft.us/adminconsent?client_id=${DEMO.appOnly.clientId}`,
    });
    expect(JSON.parse(e.authorityMetadata)).toMatchObject({ token_endpoint: e.tokenEndpoint, issuer: 'https://login.microsoftonline.us/contoso.onmicrosoft.us/v2.0' });
  });

  it('takes the host from a token endpoint template (China, 21Vianet)', () => {
    const e = entraEndpoints({ ...base, tenant: 'f00dcafe-0000-4000-8000-000000000001', authorityHost: 'https://login.microsoftonline.com', tokenEndpoint: 'https://login.chinacloudapi.cn/{tenant}/oauth2/v2.0/token' });
    expect(e.authority).toBe('https://login.chinacloudapi.cn/f00dcafe-0000-4000-8000-000000000001');
    expect(e.tokenEndpoint).toBe('https://login.chinacloudapi.cn/f00dcafe-0000-4000-8000-000000000001/oauth2/v2.0/token');
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    expect(parseRetryAfter('7')).toBe(7);
    expect(parseRetryAfter(new Date(Date.UTC(2030, 0, 1, 0, 0, 30)).toUTCString(), Date.UTC(2030, 0, 1))).toBe(30);
    expect(parseRetryAfter(undefined)).toBeNull();
    expect(parseRetryAfter('soon')).toBeNull();
  });
});

describe('caching, renewal and single flight, seen at the token endpoint', () => {
  it('serves a cached token: two deliveries, one token request', async () => {
    const p = provider();
    const since = await quietEvents(t);
    const a = await p.getToken();
    const b = await p.getToken();
    expect(b).toBe(a);
    expect(await tokenRequests(since)).toHaveLength(1);
  });

  it('makes one request for 20 concurrent callers, and all of them get its token', async () => {
    t.sandbox.faults.add({ kind: 'latency', endpoint: 'token', ms: 300, count: 1 });
    const p = provider();
    const since = await quietEvents(t);
    const tokens = await Promise.all(Array.from({ length: 20 }, () => p.getToken()));
    expect(new Set(tokens.map((x) => x.token)).size).toBe(1);
    expect(await tokenRequests(since)).toHaveLength(1);
  });

  it('renews once the token is within graceTime of its expiry (short lifetime in the sandbox)', async () => {
    const short = await startTestSandbox({ entra: { accessTokenLifetimeSeconds: 3 } });
    try {
      const p = createAppTokenProvider(sandboxCredentials(short, { graceTime: 1500 }), { scopes: [GRAPH_SCOPE], extraCa: [short.sandbox.caPem], log: capturedLog().log });
      providers.push(p);
      const since = await quietEvents(short);
      const first = await p.getToken();
      expect((await p.getToken()).token).toBe(first.token); // 3 s lifetime, 1.5 s grace: still good
      await new Promise((r) => setTimeout(r, first.expiresAt - 1500 - Date.now() + 50));
      const second = await p.getToken();
      expect(second.token).not.toBe(first.token);
      expect(second.expiresAt).toBeGreaterThan(first.expiresAt);
      expect(await eventsSince(short, since, 'token')).toHaveLength(2);
    } finally {
      await short.stop();
    }
  });

  it('keeps the token until exactly expiry minus grace (30 s by default), on the provider\'s clock', async () => {
    let offset = 0;
    const p = provider({}, { now: () => Date.now() + offset });
    const since = await quietEvents(t);
    const first = await p.getToken();
    offset = first.expiresAt - 30_000 - Date.now() - 1000;
    expect((await p.getToken()).token).toBe(first.token);
    offset = first.expiresAt - 30_000 - Date.now() + 10;
    expect((await p.getToken()).token).not.toBe(first.token);
    expect(await tokenRequests(since)).toHaveLength(2);
  });

  it('invalidate(token) drops that token only if it is still the cached one', async () => {
    const p = provider();
    const first = await p.getToken();
    p.invalidate('some-older-token');
    expect((await p.getToken()).token).toBe(first.token);
    p.invalidate(first.token);
    const second = await p.getToken();
    expect(second.token).not.toBe(first.token);
    p.invalidate(first.token); // a late caller refused with the first token does not throw away the second
    expect((await p.getToken()).token).toBe(second.token);
  });
});

describe('failures', () => {
  it('are shared by concurrent callers (one request) and never cached: the next ask reaches Entra ID again', async () => {
    const p = provider({ clientSecret: 'not-the-secret' });
    const since = await quietEvents(t);
    const errors = await Promise.all(Array.from({ length: 5 }, () => failure(p)));
    expect(new Set(errors).size).toBe(1);
    expect(errors[0]).toMatchObject({ aadsts: '7000215', error: 'invalid_client', status: 401, retryAfterSeconds: null });
    expect(errors[0]!.message).toMatch(/^Entra ID refused the token request \(HTTP 401, invalid_client\): AADSTS7000215: Invalid client secret provided\./);
    expect(errors[0]!.message).not.toMatch(/Trace ID|Correlation ID/);
    await failure(p);
    expect(await tokenRequests(since)).toHaveLength(2);
  });

  it('after a 503 with Retry-After, does not ask again before it (as msal-node would not), then does', async () => {
    const p = provider();
    t.sandbox.faults.add({ kind: 'reply', endpoint: 'token', count: 1, http: { status: 503, headers: { 'retry-after': '2' } } });
    const since = await quietEvents(t);
    const first = await failure(p);
    expect(first).toMatchObject({ status: 503, aadsts: '90033', error: 'temporarily_unavailable' });
    expect(first.retryAfterSeconds).toBeGreaterThanOrEqual(2);
    expect(first.retryAfterSeconds).toBeLessThanOrEqual(3);
    const meanwhile = await failure(p);
    expect(meanwhile.status).toBe(503);
    expect(await tokenRequests(since)).toHaveLength(1);
    await new Promise((r) => setTimeout(r, first.retryAfterSeconds! * 1000 + 100));
    await expect(p.getToken()).resolves.toMatchObject({ token: expect.any(String) });
    expect((await tokenRequests(since)).map((e) => e.status)).toEqual([503, 200]);
  });

  it('after a 429 without Retry-After, waits msal-node\'s 60 s', async () => {
    const p = provider();
    t.sandbox.faults.add({ kind: 'reply', endpoint: 'token', count: 1, http: { status: 429 } });
    const err = await failure(p);
    expect(err.status).toBe(429);
    expect(err.retryAfterSeconds).toBeGreaterThanOrEqual(60);
    expect(err.retryAfterSeconds).toBeLessThanOrEqual(61);
  });

  it('reports an unreachable Entra ID as a network error, and asks again at the next call', async () => {
    const p = provider();
    const down = t.sandbox.faults.add({ kind: 'down', endpoint: 'token' });
    const err = await failure(p);
    expect(err).toMatchObject({ error: 'network_error', aadsts: null, status: null });
    expect(err.message).toContain(`Could not reach Entra ID at ${t.sandbox.urls.authority()}/oauth2/v2.0/token`);
    if (down.ok) t.sandbox.faults.remove(down.fault.id);
    await expect(p.getToken()).resolves.toBeTruthy();
  });

  it('reports an unusable certificate once, at every ask, without calling Entra ID', async () => {
    const { files, dir } = await registeredCertificate(t, false);
    const other = await registeredCertificate(t, false);
    try {
      const since = await quietEvents(t);
      const mismatched = await failure(provider({ clientSecret: undefined, certificate: { key: other.files.key, cert: files.cert } }));
      expect(mismatched).toMatchObject({ error: 'certificate_unusable' });
      expect(mismatched.message).toBe(`routes.m365.credentials.certificate: the private key ${other.files.key} does not belong to the certificate ${files.cert}`);
      const missing = await failure(provider({ clientSecret: undefined, certificate: { key: `${dir}/nope.key`, cert: files.cert } }));
      expect(missing.message).toMatch(/^routes\.m365\.credentials\.certificate\.key: cannot read .*nope\.key: ENOENT/);
      expect(await tokenRequests(since)).toHaveLength(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
      await rm(other.dir, { recursive: true, force: true });
    }
  });
});

describe('secrets in logs', () => {
  it('never writes the client secret or a token, only their first three characters', async () => {
    const log = capturedLog();
    const p = provider({}, { log });
    const token = await p.getToken();
    await failure(provider({ clientSecret: 'wrong-secret-value' }, { log }));
    const text = log.text();
    expect(text).not.toContain(DEMO.appOnly.secret);
    expect(text).not.toContain('wrong-secret-value');
    expect(text).not.toContain(token.token);
    expect(text).toContain('"shown":"dem…"');
    expect(text).toContain(`"token":"${token.token.slice(0, 3)}…"`);
  });
});
