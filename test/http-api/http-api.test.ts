/**
 * The HTTP submission API end to end: an app's token, a JSON or raw message, the door's rules,
 * the commit, and delivery through Microsoft Graph into a sandbox mailbox. Every error is a
 * problem document that names what is wrong, and nothing is kept for it.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fingerprint } from '../../src/ingress/http/idempotency.js';
import { newApiToken } from '../../src/policy/api-tokens.js';
import { registerSecrets } from '../secrets/leak-sink.js';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';
import { DEMO, startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { until } from '../helpers/sink.js';
import { received } from '../transports/m365-smtp-helpers.js';

let t: TestSandbox;
let relay: TestRelay;
let base: string;
const erp = newApiToken();
const limited = newApiToken();
registerSecrets(erp.token, limited.token);

beforeAll(async () => {
  t = await startTestSandbox();
  const app = { tenant: DEMO.tenantId, clientId: DEMO.appOnly.clientId, clientSecret: DEMO.appOnly.secret, authorityHost: t.sandbox.urls.login };
  relay = await startTestRelay({
    store: { inlineLimit: '1KB' },
    http: { host: '127.0.0.1', port: 0, maxMessageSize: '64KB' },
    apps: {
      erp: { apiTokens: [erp.hash], senders: ['*@contoso.example'], from: ['*@contoso.example'], recipients: { denyDomains: ['fabrikam.example'] } },
      limited: { apiTokens: [limited.hash], limits: { messagesPerMinute: 1 } },
    },
    routes: { graph: { transport: 'graph', mailbox: DEMO.relay.address, credentials: app, endpoint: t.sandbox.urls.graph, ca: [t.sandbox.caPath] } },
  });
  base = `http://127.0.0.1:${relay.relay.http?.port}/api/v1/messages`;
});
afterAll(async () => {
  await relay?.stop();
  await t?.stop();
});

interface Answer {
  status: number;
  type: string;
  headers: Headers;
  body: Record<string, unknown>;
}

async function post(body: unknown, init: { token?: string | null; type?: string; headers?: Record<string, string>; query?: string } = {}): Promise<Answer> {
  const token = init.token === undefined ? erp.token : init.token;
  const type = init.type ?? 'application/json';
  const response = await fetch(`${base}${init.query ?? ''}`, {
    method: 'POST',
    headers: { 'content-type': type, ...(token ? { authorization: `Bearer ${token}` } : {}), ...init.headers },
    body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
  });
  return { status: response.status, type: response.headers.get('content-type') ?? '', headers: response.headers, body: (await response.json()) as Record<string, unknown> };
}

const message = (subject: string, extra: Record<string, unknown> = {}) => ({
  from: { name: 'ERP', address: DEMO.relay.address },
  to: [DEMO.alice.address],
  subject,
  text: 'Invoice 4711 is attached.',
  ...extra,
});

async function count(): Promise<number> {
  return (await relay.relay.store.list({ limit: 1000 })).length;
}

async function delivered(id: string): Promise<void> {
  let last: unknown;
  await until(async () => ((last = await relay.relay.store.get(id)) as { state?: string } | null)?.state === 'delivered', 15_000, () => `${id} was not delivered: ${JSON.stringify(last)}`);
}

describe('submitting', () => {
  it('takes a JSON message with an attachment and a Bcc, answers 202 with the id of the committed message, and delivers it', async () => {
    const answer = await post(
      message('JSON invoice', {
        bcc: DEMO.bob.address,
        html: '<p>Invoice <b>4711</b></p>',
        attachments: [{ filename: 'invoice-4711.pdf', content: Buffer.from('%PDF-1.4 pretend').toString('base64'), contentType: 'application/pdf' }],
        headers: { 'X-ERP-Document': '4711' },
      }),
    );
    expect(answer.status).toBe(202);
    const id = answer.body.id as string;
    expect(answer.body).toEqual({ id, status: 'queued' });
    const stored = await relay.relay.store.get(id);
    expect(stored?.app).toBe('erp');
    expect(stored?.recipientDetails.map((r) => r.address).sort()).toEqual([DEMO.alice.address, DEMO.bob.address]);
    await delivered(id);
    const raw = await received(t, DEMO.alice.address, 'JSON invoice');
    expect(raw).toMatch(/^X-ERP-Document: 4711$/im);
    expect(raw).toMatch(/\(relay365\) with HTTP id /);
    expect(raw).toContain('filename=invoice-4711.pdf');
    expect(raw).toContain(Buffer.from('%PDF-1.4 pretend').toString('base64'));
    expect(raw).not.toMatch(/^Bcc:/im);
    expect(await received(t, DEMO.bob.address, 'JSON invoice')).not.toMatch(/^Bcc:/im);
  });

  it('takes a raw message (message/rfc822, LF line endings) with its recipients from the headers, Bcc removed', async () => {
    const raw = `From: ${DEMO.relay.address}\nTo: ${DEMO.alice.address}\nBcc: ${DEMO.bob.address}\nSubject: Raw invoice\n\nSent as message/rfc822.\n`;
    const answer = await post(raw, { type: 'message/rfc822' });
    expect(answer.status).toBe(202);
    const id = answer.body.id as string;
    await delivered(id);
    expect((await relay.relay.store.get(id))?.recipientDetails.map((r) => r.address).sort()).toEqual([DEMO.alice.address, DEMO.bob.address]);
    const seen = await received(t, DEMO.bob.address, 'Raw invoice');
    expect(seen).toContain('Sent as message/rfc822.');
    expect(seen).not.toMatch(/^Bcc:/im);
  });

  it('takes the envelope of a raw message from ?from= and ?to= when given', async () => {
    const raw = `From: ${DEMO.relay.address}\r\nTo: undisclosed-recipients:;\r\nSubject: Raw with envelope\r\n\r\nHello.\r\n`;
    const answer = await post(raw, { type: 'message/rfc822', query: `?from=${DEMO.relay.address}&to=${encodeURIComponent(DEMO.alice.address)}` });
    expect(answer.status).toBe(202);
    await delivered(answer.body.id as string);
    expect(await received(t, DEMO.alice.address, 'Raw with envelope')).toContain('Hello.');
  });
});

describe('problem documents', () => {
  const cases: Array<[string, () => Promise<Answer>, number, string, RegExp]> = [
    ['no token', () => post(message('x'), { token: null }), 401, 'unauthorized', /Authorization: Bearer/],
    ['an unknown token', () => post(message('x'), { token: newApiToken().token }), 401, 'unauthorized', /not one of any app/],
    ['another content type', () => post('to=alice', { type: 'application/x-www-form-urlencoded' }), 415, 'unsupported-media-type', /message\/rfc822/],
    ['broken JSON', () => post('{"from": ', { type: 'application/json' }), 400, 'invalid-json', /JSON/],
    ['an unknown field', () => post(message('x', { priority: 'high' })), 422, 'invalid-request', /priority/],
    ['no recipient', () => post(message('x', { to: [] })), 422, 'missing-recipient', /at least one recipient/],
    ['no sender', () => post({ to: DEMO.alice.address, subject: 'x', text: 'x' }), 422, 'missing-sender', /from is required/],
    ['a bad address', () => post(message('x', { to: ['alice@@contoso'] })), 422, 'bad-address', /to\[0\]: "alice@@contoso" is not an e-mail address/],
    ['a bad address in a raw message', () => post('From: erp@contoso.example\r\nTo: not an address\r\nSubject: x\r\n\r\nx\r\n', { type: 'message/rfc822' }), 422, 'bad-address', /not an e-mail address/],
    ['a raw message without recipients', () => post('From: erp@contoso.example\r\nSubject: x\r\n\r\nx\r\n', { type: 'message/rfc822' }), 422, 'missing-recipient', /no To, Cc or Bcc/],
    ['CR/LF in the subject', () => post(message('Invoice\r\nBcc: victim@fabrikam.example')), 422, 'header-injection', /subject contains a line break/],
    ['LF in a header value', () => post(message('x', { headers: { 'X-Note': 'a\nBcc: victim@fabrikam.example' } })), 422, 'header-injection', /headers\.X-Note contains a line break/],
    ['a line break in a name', () => post(message('x', { from: { name: 'ERP\r\nBcc: victim@fabrikam.example', address: 'erp@contoso.example' } })), 422, 'header-injection', /from contains a line break/],
    ['a structural header', () => post(message('x', { headers: { 'Content-Type': 'text/html' } })), 422, 'invalid-request', /own field/],
    ['a message too large', () => post(message('x', { text: 'y'.repeat(70_000) })), 413, 'too-large', /^Message too big: 64 KB is the limit of the HTTP API \(http\.maxMessageSize\)$/],
    ['a sender the app may not use', () => post(message('x', { from: 'ceo@fabrikam.example' })), 403, 'policy-refused', /apps\.erp\.senders: \*@contoso\.example/],
    ['a recipient domain the app may not send to', () => post(message('x', { to: 'partner@fabrikam.example' })), 403, 'policy-refused', /apps\.erp\.recipients\.denyDomains/],
    ['two From headers in a raw message', () => post(`From: ${DEMO.relay.address}\r\nFrom: ceo@fabrikam.example\r\nTo: ${DEMO.alice.address}\r\nSubject: x\r\n\r\nx\r\n`, { type: 'message/rfc822' }), 403, 'policy-refused', /^The message has 2 From headers; RFC 5322 allows one$/],
    ['a second From address the app may not use', () => post(`From: ${DEMO.relay.address}, ceo@fabrikam.example\r\nTo: ${DEMO.alice.address}\r\nSubject: x\r\n\r\nx\r\n`, { type: 'message/rfc822' }), 403, 'policy-refused', /Header From <ceo@fabrikam\.example> is not allowed for app erp \(apps\.erp\.from: \*@contoso\.example\)/],
    ['a Sender the app may not use', () => post(`From: ${DEMO.relay.address}\r\nSender: ceo@fabrikam.example\r\nTo: ${DEMO.alice.address}\r\nSubject: x\r\n\r\nx\r\n`, { type: 'message/rfc822' }), 403, 'policy-refused', /Header Sender <ceo@fabrikam\.example> is not allowed for app erp/],
    ['a bad Idempotency-Key', () => post(message('x'), { headers: { 'idempotency-key': 'x'.repeat(300) } }), 400, 'bad-idempotency-key', /255/],
  ];

  it.each(cases)('%s', async (_what, request, status, type, detail) => {
    const before = await count();
    const answer = await request();
    expect(answer.status).toBe(status);
    expect(answer.type).toMatch(/^application\/problem\+json/);
    expect(answer.body).toMatchObject({ type: `urn:relay365:problem:${type}`, status });
    expect(typeof answer.body.title).toBe('string');
    expect(answer.body.detail).toMatch(detail);
    expect(await count()).toBe(before);
  });

  it('says 401 with WWW-Authenticate, and 404 for anything but the submission', async () => {
    const unauthenticated = await post(message('x'), { token: null });
    expect(unauthenticated.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const response = await fetch(base.replace('/messages', '/nothing'), { headers: { authorization: `Bearer ${erp.token}` } });
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ type: 'urn:relay365:problem:not-found' });
  });

  it('refuses past the app\'s rate with 429, Retry-After and the door\'s reason', async () => {
    const first = await post(message('limited 1'), { token: limited.token });
    expect(first.status).toBe(202);
    const second = await post(message('limited 2'), { token: limited.token });
    expect(second.status).toBe(429);
    expect(second.headers.get('retry-after')).toBeTruthy();
    expect(second.body).toMatchObject({ type: 'urn:relay365:problem:rate-limited' });
    expect(second.body.detail).toMatch(/apps\.limited\.limits\.messagesPerMinute/);
    expect(second.body.reply).toMatch(/^451 4\.7\.1 /);
  });
});

describe('Idempotency-Key', () => {
  it('answers a retry with the first answer and creates no second message', async () => {
    const body = message('Idempotent', { to: DEMO.bob.address });
    const key = `invoice-4711-${Date.now()}`;
    const first = await post(body, { headers: { 'idempotency-key': key } });
    expect(first.status).toBe(202);
    const before = await count();
    const again = await post(body, { headers: { 'idempotency-key': key } });
    expect(again.status).toBe(202);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await count()).toBe(before);
    await delivered(first.body.id as string);
    expect(t.sandbox.mailboxes.list({ mailbox: DEMO.bob.address, folder: 'Inbox' }).filter((e) => e.subject === 'Idempotent')).toHaveLength(1);
  });

  it('refuses the same key for a different request with 422', async () => {
    const key = `reused-${Date.now()}`;
    expect((await post(message('first of two'), { headers: { 'idempotency-key': key } })).status).toBe(202);
    const other = await post(message('second of two'), { headers: { 'idempotency-key': key } });
    expect(other.status).toBe(422);
    expect(other.body).toMatchObject({ type: 'urn:relay365:problem:idempotency-key-reused' });
  });

  it('keeps keys per app, and lets a request that was refused be retried under its key', async () => {
    const key = `refused-then-fixed-${Date.now()}`;
    const refused = await post(message('x', { to: 'partner@fabrikam.example' }), { headers: { 'idempotency-key': key } });
    expect(refused.status).toBe(403);
    const fixed = await post(message('x', { to: 'partner@fabrikam.example' }), { headers: { 'idempotency-key': key } });
    expect(fixed.status).toBe(403); // evaluated again, not replayed: nothing was created the first time
    expect(fixed.headers.get('idempotent-replayed')).toBeNull();
  });
});

describe('Idempotency-Key after a crash', () => {
  // A claim whose request never settled it (the node died): the message it named decides.
  async function abandonedClaim(key: string, body: unknown, messageId: string) {
    const print = fingerprint('application/json', Buffer.from(JSON.stringify(body)));
    const longAgo = Date.now() - 11 * 60_000;
    expect(await relay.relay.store.claimIdempotencyKey({ key: `erp:${key}`, fingerprint: print, messageId, now: longAgo, expiresAt: Date.now() + 60_000 })).toEqual({ claimed: true });
  }

  it('answers 202 with the message the claim named when it was committed', async () => {
    const body = message('committed before the crash');
    const committed = (await post(body)).body.id as string;
    const key = `crashed-after-commit-${Date.now()}`;
    await abandonedClaim(key, body, committed);
    const before = await count();
    const retry = await post(body, { headers: { 'idempotency-key': key } });
    expect(retry.status).toBe(202);
    expect(retry.body.id).toBe(committed);
    expect(await count()).toBe(before);
  });

  it('takes the message in when the claim named one that was never committed', async () => {
    const body = message('lost in the crash');
    const key = `crashed-before-commit-${Date.now()}`;
    await abandonedClaim(key, body, '01m0000000000000');
    const retry = await post(body, { headers: { 'idempotency-key': key } });
    expect(retry.status).toBe(202);
    expect(retry.body.id).not.toBe('01m0000000000000');
    expect(await relay.relay.store.get(retry.body.id as string)).not.toBeNull();
  });
});

describe('202 is a promise', () => {
  it('answers 503 and keeps nothing when the message cannot be committed, and 202 once it can', async () => {
    const spool = join(relay.dir, 'data/spool');
    rmSync(spool, { recursive: true, force: true });
    writeFileSync(spool, 'not a folder');
    const big = message('too big for one commit', { text: 'x'.repeat(70).concat('\r\n').repeat(100) });
    const before = await count();
    try {
      const answer = await post(big, { headers: { 'idempotency-key': `spool-${Date.now()}` } });
      expect(answer.status).toBe(503);
      expect(answer.body).toMatchObject({ type: 'urn:relay365:problem:try-again' });
      expect(answer.headers.get('retry-after')).toBeTruthy();
      expect(await count()).toBe(before);
    } finally {
      rmSync(spool);
    }
    const answer = await post(big);
    expect(answer.status).toBe(202);
    expect(await relay.relay.store.get(answer.body.id as string)).not.toBeNull();
  });
});
