// Throttling and injected faults on Graph, as a client sees them: 429 ApplicationThrottled with
// Retry-After for each of Outlook's three limits per app and mailbox, and 503/504 then success.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { GraphSettings } from '../../sandbox/graph/settings.js';
import { until } from '../helpers/sink.js';
import { DEMO, demoTenant, graphAppToken, graphRequest, httpsRequest, openGraphRequest, startTestSandbox, type HttpsResponse, type TestSandbox } from '../helpers/sandbox.js';

const RELAY = DEMO.relay.address;
const NOREPLY = 'noreply@contoso.example';
const message = { message: { subject: 'Hi', body: { contentType: 'text', content: 'Hello.' }, toRecipients: [{ emailAddress: { address: DEMO.alice.address } }] } };
const errorOf = (res: HttpsResponse) => (JSON.parse(res.text) as { error: { code: string; message: string } }).error;

async function graphSandbox(graph: Partial<GraphSettings> = {}): Promise<{ t: TestSandbox; token: string }> {
  const tenant = demoTenant();
  tenant.apps.find((a) => a.appId === DEMO.appOnly.clientId)!.applicationPermissions = [{ resource: 'Microsoft Graph', roles: ['Mail.Send'] }];
  const t = await startTestSandbox({ tenant, graph });
  return { t, token: await graphAppToken(t) };
}

describe('MailboxConcurrency: at most 4 requests of one app on one mailbox at a time', () => {
  let t: TestSandbox;
  let token: string;
  beforeAll(async () => ({ t, token } = await graphSandbox()));
  afterAll(() => t.stop());

  it('answers the 5th concurrent request 429 ApplicationThrottled with Retry-After, and the 4 others 202', async () => {
    const body = Buffer.from(JSON.stringify(message));
    const headers = { 'content-type': 'application/json', 'content-length': String(body.length) };
    // Four clients send their headers and half their body, then wait: each holds its slot.
    const slow = Array.from({ length: 4 }, () => openGraphRequest(t, `/v1.0/users/${RELAY}/sendMail`, { token, headers }));
    for (const s of slow) s.request.write(body.subarray(0, 10));
    // Until all four have arrived, an empty request (refused 400, not sent) is let in; then it is throttled too.
    const probe = () => graphRequest(t, `/v1.0/users/${RELAY}/sendMail`, { token, body: {} });
    await until(async () => (await probe()).status === 429, 5000, () => 'the four slow requests did not all hold a slot');
    const fifth = await graphRequest(t, `/v1.0/users/${RELAY}/sendMail`, { token, body: message });
    expect(fifth.status).toBe(429);
    expect(errorOf(fifth)).toMatchObject({ code: 'ApplicationThrottled', message: 'Application is over its MailboxConcurrency limit.' });
    expect(fifth.headers['retry-after']).toBe('1');
    // Another mailbox is another budget.
    expect((await graphRequest(t, `/v1.0/users/${NOREPLY}/sendMail`, { token, body: message })).status).toBe(202);
    for (const s of slow) s.request.end(body.subarray(10));
    expect((await Promise.all(slow.map((s) => s.response))).map((r) => r.status)).toEqual([202, 202, 202, 202]);
    // Slots are free again.
    expect((await graphRequest(t, `/v1.0/users/${RELAY}/sendMail`, { token, body: message })).status).toBe(202);
  });
});

describe('the request and upload windows (limits lowered for the test)', () => {
  let t: TestSandbox;
  let token: string;
  beforeAll(async () => ({ t, token } = await graphSandbox({ requestsPerWindow: 3, uploadBytesPerWindow: 5_000 })));
  afterAll(() => t.stop());

  it('429 once the app made its requests of the window on the mailbox, until the window slides on', async () => {
    for (let i = 0; i < 3; i++) expect((await graphRequest(t, `/v1.0/users/${RELAY}/sendMail`, { token, body: message })).status).toBe(202);
    const over = await graphRequest(t, `/v1.0/users/${RELAY}/sendMail`, { token, body: message });
    expect(over.status).toBe(429);
    expect(errorOf(over)).toMatchObject({ code: 'ApplicationThrottled', message: 'Application is over its MailboxRequests limit.' });
    expect(Number(over.headers['retry-after'])).toBeGreaterThan(590);
    t.sandbox.clock.advance(600 * 1000);
    const fresh = await graphAppToken(t); // the old token expired while the clock moved on
    token = fresh;
    expect((await graphRequest(t, `/v1.0/users/${RELAY}/sendMail`, { token, body: message })).status).toBe(202);
  });

  it('429 IncomingBytes once the bodies uploaded in 5 minutes reach the limit', async () => {
    const big = { message: { ...message.message, body: { contentType: 'text', content: 'x'.repeat(3_000) } } };
    expect((await graphRequest(t, `/v1.0/users/${NOREPLY}/sendMail`, { token, body: big })).status).toBe(202);
    const over = await graphRequest(t, `/v1.0/users/${NOREPLY}/sendMail`, { token, body: big });
    expect(over.status).toBe(429);
    expect(errorOf(over)).toMatchObject({ code: 'ApplicationThrottled', message: 'Application is over its IncomingBytes limit.' });
    expect(Number(over.headers['retry-after'])).toBeGreaterThan(290);
  });
});

describe('injected faults', () => {
  let t: TestSandbox;
  let token: string;
  beforeAll(async () => ({ t, token } = await graphSandbox()));
  afterAll(() => t.stop());
  afterEach(() => t.sandbox.faults.clear());

  it('503 with Retry-After, then the retry succeeds', async () => {
    const added = await httpsRequest(t, `${t.sandbox.urls.api}/faults`, {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'reply', endpoint: 'graph', count: 1, http: { status: 503, headers: { 'retry-after': '2' } } }),
    });
    expect(added.status).toBe(201);
    const since = t.sandbox.events.lastSeq;
    const first = await graphRequest(t, `/v1.0/users/${RELAY}/sendMail`, { token, body: message, headers: { 'client-request-id': 'retry-1' } });
    expect(first.status).toBe(503);
    expect(first.headers['retry-after']).toBe('2');
    expect(first.headers['client-request-id']).toBe('retry-1');
    expect(first.headers['request-id']).toBeTruthy();
    expect(errorOf(first).code).toBe('ServiceNotAvailable');
    const second = await graphRequest(t, `/v1.0/users/${RELAY}/sendMail`, { token, body: message, headers: { 'client-request-id': 'retry-1' } });
    expect(second.status).toBe(202);
    expect(t.sandbox.events.list({ since, endpoint: 'graph' }).map((e) => `${e.outcome} ${e.status}`)).toEqual(['fault 503', 'ok 202']);
    expect(t.sandbox.mailboxes.list({ mailbox: DEMO.alice.address })).toHaveLength(1);
  });

  it('504 with a body of its own, and an injected 429 gets Graph’s throttling body', async () => {
    t.sandbox.faults.add({ kind: 'reply', endpoint: 'graph', count: 1, http: { status: 504 } });
    const timeout = await graphRequest(t, `/v1.0/users/${RELAY}/sendMail`, { token, body: message });
    expect(timeout.status).toBe(504);
    expect(errorOf(timeout).code).toBe('GatewayTimeout');
    t.sandbox.faults.add({ kind: 'reply', endpoint: 'graph', count: 1, http: { status: 429, headers: { 'retry-after': '7' } } });
    const throttled = await graphRequest(t, `/v1.0/users/${RELAY}/sendMail`, { token, body: message });
    expect(throttled.status).toBe(429);
    expect(throttled.headers['retry-after']).toBe('7');
    expect(errorOf(throttled)).toMatchObject({ code: 'ApplicationThrottled', message: 'Application is over its MailboxConcurrency limit.' });
    expect((await graphRequest(t, `/v1.0/users/${RELAY}/sendMail`, { token, body: message })).status).toBe(202);
  });
});
