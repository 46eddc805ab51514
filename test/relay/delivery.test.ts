/**
 * A message's whole path: a real SMTP client submits to relay365, which stores it and
 * delivers it through the smarthost transport to a real SMTP server on loopback.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync } from 'node:fs';
import nodemailer from 'nodemailer';
import { afterEach, describe, expect, it } from 'vitest';
import { startSink, until, type Sink } from '../helpers/sink.js';
import { fastRetry, routeTo, startTestRelay, type TestRelay } from '../helpers/relay.js';

const RAW = [
  'From: SAP Basis <sap@contoso.example>',
  'To: Anna <anna@contoso.example>, Ben <ben@fabrikam.example>',
  'Subject: Job ZFI_PAYMENTS finished',
  'Message-ID: <job-4711@sap.contoso.example>',
  'MIME-Version: 1.0',
  'Content-Type: text/plain; charset=utf-8',
  'Content-Transfer-Encoding: 8bit',
  '',
  'The job finished at 03:12 — 1 204 payments, total 98 765,43 €.',
  '.leading dot stays a dot',
  '..two dots stay two dots',
  '',
].join('\r\n');

let relay: TestRelay | undefined;
let sink: Sink | undefined;
afterEach(async () => {
  await relay?.stop();
  await sink?.stop().catch(() => undefined);
  relay = sink = undefined;
});

function submit(port: number, envelope: { from: string; to: string[] }, raw: string | Buffer = RAW) {
  const client = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, tls: { rejectUnauthorized: false }, logger: false });
  return client.sendMail({ envelope, raw }).finally(() => client.close());
}

const idFrom = (response: string) => /queued as (\S+)/.exec(response)?.[1] as string;

async function waitForState(id: string, state: string, timeoutMs = 10_000) {
  await until(async () => (await relay?.relay.store.get(id))?.state === state, timeoutMs, () => `message ${id} never became ${state}`);
  return (await relay?.relay.store.get(id))!;
}

describe('delivery through a smarthost', () => {
  it('delivers byte for byte, with all recipients, adding only a Received header', async () => {
    sink = await startSink();
    relay = await startTestRelay({ routes: { upstream: routeTo(sink.port) } });
    const info = await submit(relay.port, { from: 'sap@contoso.example', to: ['anna@contoso.example', 'ben@fabrikam.example'] });
    expect(info.response).toMatch(/^250 2\.0\.0 Ok: queued as /);
    const [message] = await sink.waitForMessages(1);
    expect(message?.from).toBe('sap@contoso.example');
    expect(message?.to).toEqual(['anna@contoso.example', 'ben@fabrikam.example']);
    const text = message!.raw.toString('utf8');
    const received = /^Received: [^\r\n]*(?:\r\n\t[^\r\n]*)*\r\n/.exec(text)?.[0] ?? '';
    expect(received).toMatch(/^Received: from [^\s]+ \(\[127\.0\.0\.1\]\)\r\n\tby relay\.test \(relay365\) with ESMTPS id [0-9a-z]{18}/);
    expect(message!.raw.subarray(Buffer.byteLength(received)).equals(Buffer.from(RAW))).toBe(true);
    const stored = await waitForState(idFrom(info.response), 'delivered');
    expect(stored.recipientDetails.map((r) => r.state)).toEqual(['delivered', 'delivered']);
    expect(stored.attempts[0]?.reply?.text).toMatch(/sink kept it/);
  });

  it("keeps the app's Message-ID, and gives one to a message that has none, delivered as stored", async () => {
    sink = await startSink();
    relay = await startTestRelay({ routes: { upstream: routeTo(sink.port) } });
    const kept = idFrom((await submit(relay.port, { from: 'sap@contoso.example', to: ['anna@contoso.example'] })).response);
    const bare = RAW.replace('Message-ID: <job-4711@sap.contoso.example>\r\n', '');
    const given = idFrom((await submit(relay.port, { from: 'sap@contoso.example', to: ['anna@contoso.example'] }, bare)).response);
    expect((await waitForState(kept, 'delivered')).messageIdHeader).toBe('<job-4711@sap.contoso.example>');
    const stored = await waitForState(given, 'delivered');
    expect(stored.messageIdHeader).toBe(`<${given}@relay.test>`);
    const messages = await sink.waitForMessages(2);
    const delivered = messages.map((m) => m.raw.toString('utf8')).find((t) => !t.includes('job-4711'))!;
    expect(delivered).toMatch(new RegExp(`\r\nMessage-ID: <${given}@relay\.test>\r\nFrom: SAP Basis`));
    expect(delivered.endsWith(bare)).toBe(true);
  });

  it('delivers a bounce with the null sender as MAIL FROM:<>', async () => {
    sink = await startSink();
    relay = await startTestRelay({ routes: { upstream: routeTo(sink.port) } });
    await submit(relay.port, { from: '', to: ['anna@contoso.example'] });
    const [message] = await sink.waitForMessages(1);
    expect(message?.from).toBe('');
  });

  it.skipIf(!existsSync('/usr/bin/swaks'))('takes mail from swaks (installed by .ci/run)', async () => {
    sink = await startSink();
    relay = await startTestRelay({ routes: { upstream: routeTo(sink.port) } });
    // Asynchronously: the relay runs in this process and must keep answering.
    const { stdout: out } = await promisify(execFile)('swaks', ['--server', `127.0.0.1:${relay.port}`, '--from', 'cron@contoso.example', '--to', 'ops@contoso.example', '--tls', '--header', 'Subject: nightly backup OK']);
    expect(out).toMatch(/<~ {2}250 2\.0\.0 Ok: queued as [0-9a-z]{18}/);
    const [message] = await sink.waitForMessages(1);
    expect(message?.raw.toString()).toContain('Subject: nightly backup OK');
    expect(message?.to).toEqual(['ops@contoso.example']);
  });

  it('keeps messages deferred with the reason while the upstream is down, then delivers them all', async () => {
    sink = await startSink();
    await sink.down();
    relay = await startTestRelay({ routes: { upstream: routeTo(sink.port) }, delivery: fastRetry });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(idFrom((await submit(relay.port, { from: 'erp@contoso.example', to: [`u${i}@contoso.example`] })).response));
    const deferred = await waitForState(ids[0] as string, 'deferred');
    expect(deferred.lastError).toMatch(/connection refused/);
    expect(deferred.recipientDetails[0]?.diagnosis).toMatch(new RegExp(`Could not connect to 127\\.0\\.0\\.1:${sink.port}`));
    await sink.up();
    await sink.waitForMessages(5);
    for (const id of ids) await waitForState(id, 'delivered');
    expect((await relay.relay.store.get(ids[0] as string))?.attempts.length).toBeGreaterThanOrEqual(2);
    expect(await relay.relay.store.countByState()).toMatchObject({ delivered: 5, failed: 0, deferred: 0, queued: 0 });
  });

  it('keeps each recipient’s own result when the upstream refuses some of them', async () => {
    sink = await startSink({
      rcpt: (address) =>
        address.startsWith('gone') ? { code: 550, text: '5.1.1 <gone@contoso.example>: Recipient address rejected: User unknown' }
        : address.startsWith('busy') ? { code: 451, text: '4.7.0 Temporary server error. Please try again later. PRX4' }
        : null,
    });
    relay = await startTestRelay({ routes: { upstream: routeTo(sink.port) }, delivery: { ...fastRetry, retry: { initial: '1h' } } });
    const info = await submit(relay.port, { from: 'erp@contoso.example', to: ['ok@contoso.example', 'gone@contoso.example', 'busy@contoso.example'] });
    const id = idFrom(info.response);
    await sink.waitForMessages(1);
    const message = await waitForState(id, 'deferred');
    expect(sink.messages[0]?.to).toEqual(['ok@contoso.example']);
    const [ok, gone, busy] = message.recipientDetails;
    expect(ok?.state).toBe('delivered');
    expect(gone?.state).toBe('failed');
    expect(gone?.reply).toEqual({ code: 550, enhanced: '5.1.1', text: '<gone@contoso.example>: Recipient address rejected: User unknown' });
    expect(gone?.diagnosis).toMatch(/refused it/);
    expect(busy?.state).toBe('deferred');
    expect(busy?.reply?.code).toBe(451);
    expect(busy?.retryAt).toBeGreaterThan(Date.now() + 30 * 60_000);
  });

  it('fails a message the upstream refuses for good, with the upstream’s words', async () => {
    sink = await startSink({ data: () => ({ code: 554, text: '5.6.0 Message rejected: content policy' }) });
    relay = await startTestRelay({ routes: { upstream: routeTo(sink.port) } });
    const id = idFrom((await submit(relay.port, { from: 'erp@contoso.example', to: ['a@contoso.example', 'b@contoso.example'] })).response);
    const message = await waitForState(id, 'failed');
    expect(message.recipientDetails.map((r) => r.state)).toEqual(['failed', 'failed']);
    expect(message.lastError).toBe('554 5.6.0 Message rejected: content policy');
    expect(message.attempts).toHaveLength(2);
  });

  it('fails a message that outlives delivery.lifetime, saying why', async () => {
    sink = await startSink();
    await sink.down();
    relay = await startTestRelay({ routes: { upstream: routeTo(sink.port) }, delivery: { ...fastRetry, lifetime: '1500ms' } });
    const id = idFrom((await submit(relay.port, { from: 'erp@contoso.example', to: ['a@contoso.example'] })).response);
    const message = await waitForState(id, 'failed', 10_000);
    expect(message.recipientDetails[0]?.state).toBe('failed');
    expect(message.recipientDetails[0]?.diagnosis).toMatch(/^Expired: not delivered within 1s 500ms|^Expired: not delivered within/);
    expect(message.lastError).toMatch(/last error: .*connection refused/);
  });
});
