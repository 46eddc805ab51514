/**
 * The HTTP submission API takes on only so much at once: http.maxConcurrent submissions and
 * http.maxBuffered bytes of their bodies. Beyond either, a submission gets a 503 problem
 * document (busy) with Retry-After before its body is read, and the places and bytes come
 * back as soon as the submissions in progress are answered.
 */
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newApiToken } from '../../src/policy/api-tokens.js';
import { registerSecrets } from '../secrets/leak-sink.js';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';
import { until } from '../helpers/sink.js';

const KB = 1024;
const erp = newApiToken();
registerSecrets(erp.token);

let relay: TestRelay;
let port: number;

beforeAll(async () => {
  relay = await startTestRelay({
    http: { host: '127.0.0.1', port: 0, maxMessageSize: '64KB', maxConcurrent: 2, maxBuffered: '100KB' },
    apps: { erp: { apiTokens: [erp.hash] } },
  });
  port = relay.relay.http!.port;
});
afterAll(() => relay?.stop());

interface Answer {
  status: number;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
}

function answerOf(req: ClientRequest): Promise<Answer> {
  return new Promise((resolve, reject) => {
    req.once('error', reject);
    req.once('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(Buffer.concat(chunks).toString() || '{}') as Record<string, unknown> }));
    });
  });
}

/** A raw submission of `size` bytes whose body is sent only in part until finish() is called. */
function held(size: number) {
  const head = `From: erp@contoso.example\r\nTo: anna@contoso.example\r\nSubject: held\r\n\r\n`;
  const message = Buffer.from(head + 'x'.repeat(size - head.length));
  const req = httpRequest({
    host: '127.0.0.1',
    port,
    method: 'POST',
    path: '/api/v1/messages',
    headers: { authorization: `Bearer ${erp.token}`, 'content-type': 'message/rfc822', 'content-length': String(message.length) },
  });
  const answer = answerOf(req);
  req.write(message.subarray(0, 1000));
  return {
    answer,
    finish: () => {
      req.end(message.subarray(1000));
      return answer;
    },
  };
}

/** A submission that is refused as not JSON (400) once it is let in: nothing is ever stored for it. */
async function probe(size: number): Promise<Answer> {
  const req = httpRequest({
    host: '127.0.0.1',
    port,
    method: 'POST',
    path: '/api/v1/messages',
    headers: { authorization: `Bearer ${erp.token}`, 'content-type': 'application/json', 'content-length': String(size) },
  });
  const answer = answerOf(req);
  req.end(Buffer.from('{'.padEnd(size, ' ')));
  return answer;
}

describe('the HTTP API under load', () => {
  it('answers 503 (busy, Retry-After) beyond http.maxBuffered, before reading the body, and lets small ones in', async () => {
    const big = held(60 * KB);
    // 60 KB announced and held: 50 KB more would be 110 KB of 100 KB.
    let last: Answer | undefined;
    await until(async () => (last = await probe(50 * KB).catch(() => undefined))?.status === 503, 10_000, () => `never refused: ${JSON.stringify(last)}`);
    expect(last!.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(last!.headers['retry-after']).toBe('5');
    expect(last!.body).toMatchObject({ type: 'urn:relay365:problem:busy', status: 503 });
    expect(last!.body.detail).toMatch(/fill the memory set aside for them; try again in a few seconds \(http\.maxConcurrent is 2 submissions, http\.maxBuffered 102400 bytes\)/);
    expect((await probe(1)).status).toBe(400); // 61 KB: it fits
    expect((await big.finish()).status).toBe(202);
    expect((await probe(50 * KB)).status).toBe(400); // the bytes were given back
  });

  it('counts a body sent without Content-Length (chunked) as it arrives', async () => {
    const big = held(60 * KB);
    const chunked = async () => {
      const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/api/v1/messages', headers: { authorization: `Bearer ${erp.token}`, 'content-type': 'application/json' } });
      const answer = answerOf(req);
      for (let i = 0; i < 50; i++) req.write(' '.repeat(KB));
      req.end('{');
      return answer;
    };
    let last: Answer | undefined;
    await until(async () => (last = await chunked().catch(() => undefined))?.status === 503, 10_000, () => `never refused: ${JSON.stringify(last)}`);
    expect(last!.body).toMatchObject({ type: 'urn:relay365:problem:busy' });
    expect((await big.finish()).status).toBe(202);
    expect((await chunked()).status).toBe(400);
  });

  it('answers 503 (busy) beyond http.maxConcurrent submissions, and takes them again once those are answered', async () => {
    const first = held(2 * KB);
    const second = held(2 * KB);
    let last: Answer | undefined;
    await until(async () => (last = await probe(1).catch(() => undefined))?.status === 503, 10_000, () => `never refused: ${JSON.stringify(last)}`);
    expect(last!.body).toMatchObject({ type: 'urn:relay365:problem:busy', detail: expect.stringMatching(/^2 submissions are being taken in already; try again/) });
    expect(last!.headers['retry-after']).toBe('5');
    expect((await first.finish()).status).toBe(202);
    expect((await second.finish()).status).toBe(202);
    expect((await probe(1)).status).toBe(400);
  });
});
