/**
 * Notifications to the admins, end to end: the started / stopping mails of a real
 * `relay365 serve` (the stopping one with the last log lines attached), a held route told
 * once however many messages it holds, and the webhook when no route is healthy.
 */
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { simpleParser } from 'mailparser';
import nodemailer from 'nodemailer';
import { afterEach, describe, expect, it } from 'vitest';
import { startSink, until } from '../helpers/sink.js';
import { fastRetry, routeTo, spawnRelay, startTestRelay, tempDir, writeConfig, type TestRelay } from '../helpers/relay.js';
import { DEMO, useSandbox } from '../helpers/sandbox.js';
import { createLogger } from '../../src/log.js';
import { postWebhook } from '../../src/notify/webhook.js';
import { recordForLeakScan, registerSecrets } from '../secrets/leak-sink.js';

/** The part of a webhook URL that is the credential. */
const HOOK_PATH = '/hooks/relay365/T0-incoming-Zq9x7Lp2';
registerSecrets(HOOK_PATH);

const t = useSandbox({ tenant: (tenant) => void (tenant.organization.basicAuthAllowed = true) });

function m365(password: string = DEMO.relay.password) {
  return {
    transport: 'smtp-basic',
    mailbox: DEMO.relay.address,
    password,
    host: '127.0.0.1',
    port: t.sandbox.ports.submission,
    ca: [t.sandbox.caPath],
    sender: { rewriteEnvelope: true },
  };
}

const relays: TestRelay[] = [];
afterEach(async () => {
  await Promise.all(relays.splice(0).map((r) => r.stop()));
});

async function send(relay: TestRelay, count: number): Promise<void> {
  const client = nodemailer.createTransport({ host: '127.0.0.1', port: relay.port, tls: { rejectUnauthorized: false }, logger: false });
  try {
    await Promise.all(
      Array.from({ length: count }, (_, i) =>
        client.sendMail({ envelope: { from: DEMO.alice.address, to: [DEMO.bob.address] }, raw: `From: ${DEMO.relay.address}\r\nSubject: invoice ${i}\r\n\r\nhello\r\n` }),
      ),
    );
  } finally {
    client.close();
  }
}

const inbox = (subject: string) => t.sandbox.mailboxes.list({ mailbox: DEMO.bob.address }).filter((e) => e.folder === 'Inbox' && e.subject === subject);

describe('relay365 started and stopping', () => {
  it('mails the admins when it starts, and when it stops with its last log lines attached', async () => {
    const dir = tempDir();
    writeConfig(dir, {
      routes: { m365: m365() },
      notify: { postmaster: DEMO.relay.address, admin: { recipients: [DEMO.bob.address], logLines: 50 } },
    });
    const child = await spawnRelay(dir);
    const started = await t.sandbox.mailboxes.waitFor((e) => e.mailbox === DEMO.bob.address && e.subject === '[relay365 relay.test] relay365 started', { timeoutMs: 15_000 });
    const startMail = await simpleParser((await t.sandbox.mailboxes.readRaw(started.id)) as Buffer);
    expect(startMail.from?.value[0]?.address).toBe(DEMO.relay.address);
    expect(startMail.text).toContain('with routes: m365');

    child.child.kill('SIGTERM');
    expect((await child.exited).code).toBe(0);
    // Delivered before the process exited: it is in the sandbox already.
    const stopping = t.sandbox.mailboxes.list({ mailbox: DEMO.bob.address }).find((e) => e.subject === '[relay365 relay.test] relay365 is stopping');
    expect(stopping, 'the stopping mail arrived before the relay exited').toBeDefined();
    const stopMail = await simpleParser((await t.sandbox.mailboxes.readRaw(stopping!.id)) as Buffer);
    const log = stopMail.attachments.find((a) => a.filename === 'relay365-relay.test-last-log-lines.log');
    const lines = log!.content.toString('utf8').trim().split('\n');
    expect(lines.length).toBeGreaterThan(3);
    expect(lines.length).toBeLessThanOrEqual(50);
    const messages = lines.map((l) => (JSON.parse(l) as { msg: string }).msg);
    expect(messages).toContain('relay365 starting');
    expect(messages).toContain('shutting down');
    expect(log!.content.toString()).not.toContain(DEMO.relay.password);
  });
});

describe('a route becomes held', () => {
  it('is told once, through a healthy route, however many messages it holds', async () => {
    const relay = await startTestRelay({
      routes: { broken: m365('not-the-password'), good: m365() },
      routing: { default: 'broken' },
      delivery: { poll: '200ms', probe: '1h' },
      notify: { postmaster: DEMO.relay.address, admin: { recipients: [DEMO.bob.address], routes: ['broken', 'good'], events: ['route-held'] } },
    });
    relays.push(relay);
    await send(relay, 3);
    await until(async () => (await relay.relay.store.countByState()).held >= 3, 15_000, () => 'the messages were not held');
    await send(relay, 2);
    await until(async () => (await relay.relay.store.countByState()).held >= 5, 15_000, () => 'the later messages were not held');
    const subject = '[relay365 relay.test] Route broken is held: its mail waits';
    const entry = await t.sandbox.mailboxes.waitFor((e) => e.mailbox === DEMO.bob.address && e.subject === subject, { timeoutMs: 10_000 });
    const mail = await simpleParser((await t.sandbox.mailboxes.readRaw(entry.id)) as Buffer);
    expect(mail.text).toContain('535 5.7.139'); // Microsoft's words, through relay365's diagnosis
    // The sandbox has the mail before the relay commits its delivery: wait for the commit.
    const notifications = () => relay.relay.store.list({ kind: 'notification', limit: 50 });
    await until(async () => (await notifications()).some((n) => n.state === 'delivered'), 10_000, () => 'the notification was not recorded as delivered');
    const [notification, ...more] = await notifications();
    expect(more).toEqual([]);
    expect(notification).toMatchObject({ kind: 'notification', state: 'delivered', recipients: [DEMO.bob.address] });
    expect((await relay.relay.store.get(notification!.id))?.recipientDetails[0]?.route).toBe('good');
    expect(inbox(subject)).toHaveLength(1);
  });
});

describe('a held route works again', () => {
  it('tells the admins that it recovered', async () => {
    // A smarthost that refuses the route's password, then (after the admin fixed it there) accepts it.
    let smarthost = await startSink({}, { auth: { user: 'relay', pass: 'the-new-one' } });
    try {
      const relay = await startTestRelay({
        routes: { legacy: routeTo(smarthost.port, { auth: { user: 'relay', pass: 'the-old-one' } }), m365: m365() },
        routing: { default: 'legacy', rules: [{ recipientDomains: [DEMO.domain], route: 'm365' }] },
        delivery: { poll: '200ms', probe: '1s' },
        notify: { postmaster: DEMO.relay.address, admin: { recipients: [DEMO.bob.address], routes: ['m365'], events: ['route-held', 'route-recovered'] } },
      });
      relays.push(relay);
      const client = nodemailer.createTransport({ host: '127.0.0.1', port: relay.port, tls: { rejectUnauthorized: false }, logger: false });
      await client.sendMail({ envelope: { from: DEMO.alice.address, to: ['partner@fabrikam.example'] }, raw: 'Subject: order 1\r\n\r\nhello\r\n' });
      client.close();
      await t.sandbox.mailboxes.waitFor((e) => e.mailbox === DEMO.bob.address && e.subject === '[relay365 relay.test] Route legacy is held: its mail waits', { timeoutMs: 10_000 });
      const port = smarthost.port;
      await smarthost.stop();
      smarthost = await startSink({}, { port, auth: { user: 'relay', pass: 'the-old-one' } });
      const recovered = await t.sandbox.mailboxes.waitFor((e) => e.mailbox === DEMO.bob.address && e.subject === '[relay365 relay.test] Route legacy works again', { timeoutMs: 15_000 });
      expect((await simpleParser((await t.sandbox.mailboxes.readRaw(recovered.id)) as Buffer)).text).toContain('The route legacy delivered again');
      expect(smarthost.messages).toHaveLength(1);
    } finally {
      await smarthost.stop();
    }
  });
});

describe('what the maintenance watches', () => {
  it('tells of a credential that expires within 30 days, a growing queue and a mailbox near its budget, once each', async () => {
    const slow = await startSink({ rcpt: () => ({ code: 451, text: '4.7.0 Temporary server error. Please try again later. PRX4' }) });
    try {
      const expires = new Date(Date.now() + 10 * 86_400_000).toISOString().slice(0, 10);
      const relay = await startTestRelay({
        routes: {
          m365: { ...m365(), pacing: { recipientsPerDay: 10 } },
          graph: {
            transport: 'graph',
            mailbox: DEMO.relay.address,
            credentials: { tenant: DEMO.tenantId, clientId: DEMO.appOnly.clientId, clientSecret: DEMO.appOnly.secret, secretExpires: expires, authorityHost: t.sandbox.urls.login },
            endpoint: t.sandbox.urls.graph,
            ca: [t.sandbox.caPath],
          },
          slow: routeTo(slow.port),
        },
        routing: { default: 'm365', rules: [{ recipientDomains: ['slow.example'], route: 'slow' }] },
        delivery: { ...fastRetry, lifetime: '10s' },
        notify: { postmaster: DEMO.relay.address, dsn: { enabled: false }, admin: { recipients: [DEMO.bob.address], routes: ['m365'], events: ['credential-expiry', 'queue-growing', 'mailbox-budget'], queue: { deferred: 1 }, budget: 0.1 } },
      });
      relays.push(relay);
      const expiry = await t.sandbox.mailboxes.waitFor((e) => e.mailbox === DEMO.bob.address && /^\[relay365 relay\.test\] The secret of route graph expires in (9|10) days$/.test(e.subject ?? ''), { timeoutMs: 15_000 });
      const expiryMail = await simpleParser((await t.sandbox.mailboxes.readRaw(expiry.id)) as Buffer);
      expect(expiryMail.text).toContain('credentials.clientSecret');

      const client = nodemailer.createTransport({ host: '127.0.0.1', port: relay.port, tls: { rejectUnauthorized: false }, logger: false });
      for (const to of ['a@slow.example', 'b@slow.example']) await client.sendMail({ envelope: { from: DEMO.alice.address, to: [to] }, raw: `Subject: to ${to}\r\n\r\nhello\r\n` });
      client.close();
      const growing = await t.sandbox.mailboxes.waitFor((e) => e.mailbox === DEMO.bob.address && /^\[relay365 relay\.test\] \d+ messages are deferred$/.test(e.subject ?? ''), { timeoutMs: 15_000 });
      const growingMail = await simpleParser((await t.sandbox.mailboxes.readRaw(growing.id)) as Buffer);
      expect(growingMail.text).toContain('notify.admin.queue.deferred: 1');
      // The notifications themselves went through relay@'s budget of 10 recipients a day.
      const budget = await t.sandbox.mailboxes.waitFor((e) => e.mailbox === DEMO.bob.address && /^\[relay365 relay\.test\] relay@contoso\.example used \d+% of its daily recipient budget$/.test(e.subject ?? ''), { timeoutMs: 15_000 });
      expect((await simpleParser((await t.sandbox.mailboxes.readRaw(budget.id)) as Buffer)).text).toContain('pacing.recipientsPerDay');
      // The maintenance keeps finding all three, every second; the interval keeps it to one mail each.
      await new Promise((resolve) => setTimeout(resolve, 2500));
      const kinds = (await relay.relay.store.list({ kind: 'notification', limit: 50 })).length;
      expect(kinds).toBe(3);
    } finally {
      await slow.stop();
    }
  });
});

describe('no route is healthy', () => {
  let hook: Server | undefined;
  afterEach(async () => {
    if (hook?.listening) await new Promise((resolve) => hook!.close(resolve));
    hook = undefined;
  });

  it('logs the event loudly and posts it to the webhook, given as a file: reference and never logged', async () => {
    const posts: Record<string, unknown>[] = [];
    hook = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        posts.push({ path: request.url, type: request.headers['content-type'], ...(JSON.parse(body) as Record<string, unknown>) });
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => hook!.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(hook.address() as AddressInfo).port}${HOOK_PATH}`;
    const dir = tempDir();
    writeFileSync(join(dir, 'webhook-url'), `${url}\n`);
    const relay = await startTestRelay(
      {
        routes: { broken: m365('not-the-password') },
        delivery: { poll: '200ms', probe: '1h' },
        notify: { postmaster: DEMO.relay.address, admin: { recipients: [DEMO.bob.address], webhook: 'file:webhook-url', events: ['route-held'] } },
      },
      dir,
    );
    relays.push(relay);
    await send(relay, 2);
    await until(() => posts.length >= 1, 15_000, () => 'nothing was posted to the webhook');
    expect(posts[0]).toMatchObject({ path: HOOK_PATH, type: 'application/json', event: 'route-held', route: 'broken', node: 'relay.test', subject: 'Route broken is held: its mail waits' });
    expect(JSON.stringify(relay.logs)).not.toContain(HOOK_PATH);
    expect(String(posts[0]?.text)).toContain('535 5.7.139');
    const loud = relay.logs.filter((l) => l.level === 50 && String(l.msg).startsWith('ADMIN NOTIFICATION (no healthy route to mail it)'));
    expect(loud).toHaveLength(1);
    expect(loud[0]).toMatchObject({ event: 'route-held', route: 'broken' });
    expect(await relay.relay.store.list({ kind: 'notification', limit: 10 })).toEqual([]);
  });

  it('says a webhook that cannot be reached or refuses by its scheme and host only', async () => {
    hook = createServer((_request, response) => response.writeHead(403).end());
    await new Promise<void>((resolve) => hook!.listen(0, '127.0.0.1', resolve));
    const port = (hook.address() as AddressInfo).port;
    const lines: string[] = [];
    const log = createLogger('debug', new Writable({ write: (chunk: Buffer, _e, done) => void (recordForLeakScan('postWebhook', chunk.toString()), lines.push(chunk.toString()), done()) }));
    const payload = { event: 'route-held', route: 'm365', node: 'relay.test', subject: 'held', text: 'held', at: new Date().toISOString() };
    expect(await postWebhook(`http://127.0.0.1:${port}${HOOK_PATH}`, payload, log)).toBe(false);
    await new Promise((resolve) => hook!.close(resolve));
    expect(await postWebhook(`http://127.0.0.1:${port}${HOOK_PATH}`, payload, log)).toBe(false); // nobody listens now
    const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logged.map((l) => [l.msg, l.to])).toEqual([
      ['the notification webhook answered HTTP 403', `http://127.0.0.1:${port}/…`],
      ['could not reach the notification webhook', `http://127.0.0.1:${port}/…`],
    ]);
    expect(lines.join('')).not.toContain(HOOK_PATH);
  });
});
