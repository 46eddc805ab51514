/**
 * The smarthost transport against real SMTP servers on loopback: STARTTLS with a private
 * CA, AUTH, and the refusals that mean the route itself is broken (held, not failed).
 */
import nodemailer from 'nodemailer';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TlsIdentity } from '../../src/ingress/tls.js';
import { startSink, until, upstreamTlsIdentity, type Sink } from '../helpers/sink.js';
import { fastRetry, routeTo, startTestRelay, type TestRelay } from '../helpers/relay.js';

let identity: TlsIdentity;
let caFile: string;
beforeAll(async () => {
  ({ identity, caFile } = await upstreamTlsIdentity());
});

let relay: TestRelay | undefined;
let sink: Sink | undefined;
afterEach(async () => {
  await relay?.stop();
  await sink?.stop();
  relay = sink = undefined;
});

async function submit(port: number, raw = 'Subject: hello\r\n\r\nbody\r\n', secure = false) {
  const client = nodemailer.createTransport({ host: '127.0.0.1', port, secure, tls: { rejectUnauthorized: false }, logger: false });
  try {
    const info = await client.sendMail({ envelope: { from: 'erp@contoso.example', to: ['anna@contoso.example'] }, raw });
    return /queued as (\S+)/.exec(String(info.response))?.[1] as string;
  } finally {
    client.close();
  }
}

async function settled(id: string, state: string) {
  await until(async () => (await relay!.relay.store.get(id))?.state === state, 10_000, () => `${id} never became ${state}`);
  return (await relay!.relay.store.get(id))!;
}

describe('smarthost transport', () => {
  it('delivers over STARTTLS (TLS 1.2+) with AUTH, trusting a private CA given in routes.<name>.ca', async () => {
    sink = await startSink({}, { tls: identity, auth: { user: 'relay@contoso.example', pass: 'pa55word' } });
    relay = await startTestRelay({
      routes: { upstream: routeTo(sink.port, { tls: 'starttls', ca: [caFile], auth: { user: 'relay@contoso.example', pass: 'pa55word' } }) },
    });
    const id = await submit(relay.port);
    await sink.waitForMessages(1);
    expect(sink.logins).toEqual([expect.stringMatching(/^(PLAIN|LOGIN) relay@contoso\.example$/)]);
    expect((await settled(id, 'delivered')).recipientDetails[0]?.route).toBe('upstream');
  });

  it('holds mail when the upstream refuses the credentials, saying which keys to check', async () => {
    sink = await startSink({}, { tls: identity, auth: { user: 'relay@contoso.example', pass: 'pa55word' } });
    relay = await startTestRelay({
      routes: { upstream: routeTo(sink.port, { tls: 'starttls', ca: [caFile], auth: { user: 'relay@contoso.example', pass: 'wrong' } }) },
    });
    const message = await settled(await submit(relay.port), 'held');
    expect(message.recipientDetails[0]).toMatchObject({ state: 'held', verdict: 'route-broken' });
    expect(message.recipientDetails[0]?.reply).toMatchObject({ code: 535, enhanced: '5.7.8' });
    expect(message.attempts[0]?.fix).toBe('Check routes.upstream.auth.user and routes.upstream.auth.pass, then: relay365 route release upstream');
  });

  it('holds mail when the upstream certificate is not trusted, pointing at routes.<name>.ca', async () => {
    sink = await startSink({}, { tls: identity });
    relay = await startTestRelay({ routes: { upstream: routeTo(sink.port, { tls: 'starttls' }) } });
    const message = await settled(await submit(relay.port), 'held');
    expect(message.recipientDetails[0]?.diagnosis).toMatch(/^TLS with 127\.0\.0\.1:\d+ failed: .*certificate/);
    expect(message.attempts[0]?.fix).toMatch(/add it to routes\.upstream\.ca/);
    expect(sink.messages).toEqual([]);
  });

  it('holds mail rather than sending it in plaintext when STARTTLS is required but not offered', async () => {
    sink = await startSink();
    relay = await startTestRelay({ routes: { upstream: routeTo(sink.port, { tls: 'starttls' }) }, delivery: fastRetry });
    const message = await settled(await submit(relay.port), 'held');
    expect(message.recipientDetails[0]?.diagnosis).toMatch(/^127\.0\.0\.1:\d+ does not offer STARTTLS \(it answered "500 Error: command not recognized"\), and routes\.upstream\.tls is starttls, which requires it\.$/);
    expect(sink.messages).toEqual([]);
  });
});

describe('listener options', () => {
  it('accepts mail on an implicit-TLS listener', async () => {
    sink = await startSink();
    relay = await startTestRelay({ listeners: { smtps: { host: '127.0.0.1', port: 0, tls: { mode: 'implicit' } } }, routes: { upstream: routeTo(sink.port) } });
    await submit(relay.port, undefined, true);
    expect((await sink.waitForMessages(1))[0]?.to).toEqual(['anna@contoso.example']);
  });

  it('stores and passes on a header-less, malformed message exactly as received', async () => {
    sink = await startSink();
    relay = await startTestRelay({ routes: { upstream: routeTo(sink.port) } });
    const raw = 'no headers at all, just text\r\n\x00\x7f binary-ish \xff line\r\n: starts with a colon\r\n';
    await submit(relay.port, raw);
    const [message] = await sink.waitForMessages(1);
    const text = message!.raw.toString('latin1');
    const afterReceived = text.search(/\r\n(?![\t ])/) + 2; // the Received header ends at the first unfolded line end
    expect(text.slice(0, afterReceived)).toMatch(/^Received: /);
    expect(text.slice(afterReceived)).toBe(Buffer.from(raw, 'utf8').toString('latin1'));
  });
});
