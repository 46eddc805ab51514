/**
 * DSNs (RFC 3464) end to end: an application submits over SMTP with DSN parameters, Microsoft
 * 365 (the sandbox) refuses a recipient or an upstream keeps deferring one, and the sender
 * finds the DSN in its sandbox Inbox — parsed back with mailparser and checked field by field.
 */
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { simpleParser, type ParsedMail } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/policy/passwords.js';
import { startSink, until, type Sink } from '../helpers/sink.js';
import { routeTo, runCli, startTestRelay, type TestRelay } from '../helpers/relay.js';
import { DEMO, useSandbox } from '../helpers/sandbox.js';

const t = useSandbox({ tenant: (tenant) => void (tenant.organization.basicAuthAllowed = true) });

/** The Microsoft 365 route (SMTP AUTH to the sandbox's submission port) and a sink that answers 451 to everything. */
function routes(slow: Sink) {
  return {
    m365: {
      transport: 'smtp-basic',
      mailbox: DEMO.relay.address,
      password: DEMO.relay.password,
      host: '127.0.0.1',
      port: t.sandbox.ports.submission,
      ca: [t.sandbox.caPath],
      sender: { rewriteEnvelope: true },
    },
    slow: routeTo(slow.port),
  };
}

interface Sent {
  id: string;
  subject: string;
}

async function send(relay: TestRelay, options: { from: string; to: string; dsn?: Record<string, unknown>; auth?: { user: string; pass: string } }): Promise<Sent> {
  const subject = `dsn test ${Math.random().toString(36).slice(2, 10)}`;
  const client = nodemailer.createTransport({ host: '127.0.0.1', port: relay.port, tls: { rejectUnauthorized: false }, logger: false, ...(options.auth ? { auth: options.auth } : {}) });
  try {
    const info = await client.sendMail({
      envelope: { from: options.from, to: [options.to] },
      ...(options.dsn ? { dsn: options.dsn } : {}),
      raw: `From: ${DEMO.relay.address}\r\nTo: ${options.to}\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/ /g, '.')}@app.test>\r\n\r\nInvoice 4711 is attached in spirit.\r\n`,
    });
    return { id: /queued as (\S+)/.exec(String(info.response))?.[1] as string, subject };
  } finally {
    client.close();
  }
}

/** The DSN about `original` in `mailbox`'s Inbox, parsed. */
async function dsnIn(mailbox: string, original: Sent, action: string, timeoutMs = 15_000): Promise<{ mail: ParsedMail; status: Map<string, string>[]; raw: string }> {
  const entry = await t.sandbox.mailboxes.waitFor(
    (e) => e.mailbox === mailbox && e.folder === 'Inbox' && (e.subject ?? '').endsWith(original.subject) && (e.subject ?? '').startsWith(action === 'delayed' ? 'Delayed' : 'Undelivered'),
    { timeoutMs },
  );
  const raw = (await t.sandbox.mailboxes.readRaw(entry.id))?.toString('utf8') ?? '';
  const mail = await simpleParser(raw, { keepDeliveryStatus: true });
  const report = mail.attachments.find((a) => a.contentType === 'message/delivery-status');
  expect(report, 'the DSN has a message/delivery-status part').toBeDefined();
  return { mail, status: fieldBlocks(report!.content.toString('utf8')), raw };
}

/** message/delivery-status: blocks of "Name: value" lines separated by blank lines. */
function fieldBlocks(text: string): Map<string, string>[] {
  return text
    .split(/\r?\n\r?\n/)
    .filter((b) => b.trim())
    .map((block) => new Map(block.split(/\r?\n/).map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()] as [string, string])));
}

/** The relay's log lines saying it queued a DSN about one of these messages. */
const dsnsQueuedFor = (...ids: string[]) => relay.logs.filter((l) => l.msg === 'DSN queued for the sender' && ids.includes(l.msgId as string));

let slow: Sink;
let relay: TestRelay;
const NO_MAILBOX = 'nobody@contoso.example';

beforeAll(async () => {
  slow = await startSink({ rcpt: () => ({ code: 451, text: '4.7.0 Temporary server error. Please try again later. PRX4' }) });
  const silent = await hashPassword('silent-app-password');
  relay = await startTestRelay({
    // The second listener, on ::1, is how the "fixed" app (networks ::1) reaches the relay.
    listeners: { default: { host: '127.0.0.1', port: 0 }, v6: { host: '::1', port: 0 } },
    routes: routes(slow),
    routing: { default: 'm365', rules: [{ recipientDomains: ['slow.example'], route: 'slow' }] },
    apps: {
      erp: { networks: ['127.0.0.1'] },
      fixed: { networks: ['::1'], dsn: DEMO.bob.address },
      silent: { auth: { passwordHash: silent }, dsn: 'none' },
    },
    delivery: { poll: '200ms', lifetime: '6s', retry: { initial: '500ms', factor: 1, max: '500ms', jitter: 0 } },
    // No notify.postmaster: DSNs come from the mailbox of the route that failed (it may send as itself).
    notify: { dsn: { delayWarning: '2s' } },
  });
});
afterAll(async () => {
  await relay?.stop();
  await slow?.stop();
});

describe('a recipient Microsoft 365 refuses for good', () => {
  it('sends the sender a DSN with the report, Microsoft\'s words, the diagnosis and the original headers', async () => {
    const sent = await send(relay, {
      from: DEMO.alice.address,
      to: NO_MAILBOX,
      dsn: { id: 'ERP-4711', return: 'headers', notify: ['failure', 'delay'], recipient: 'orig-nobody@erp.example' },
    });
    const { mail, status, raw } = await dsnIn(DEMO.alice.address, sent, 'failed');
    expect(mail.headers.get('content-type')).toMatchObject({ value: 'multipart/report', params: { 'report-type': 'delivery-status' } });
    expect(mail.from?.value[0]?.address).toBe(DEMO.relay.address);
    expect(mail.headers.get('auto-submitted')).toBe('auto-replied');
    const [perMessage, perRecipient] = status;
    expect(perMessage?.get('reporting-mta')).toBe('dns; relay.test');
    expect(perMessage?.get('original-envelope-id')).toBe('ERP-4711');
    expect(perRecipient?.get('final-recipient')).toBe(`rfc822; ${NO_MAILBOX}`);
    expect(perRecipient?.get('original-recipient')).toBe('rfc822; orig-nobody@erp.example');
    expect(perRecipient?.get('action')).toBe('failed');
    expect(perRecipient?.get('status')).toBe('5.1.10');
    expect(perRecipient?.get('diagnostic-code')).toMatch(/^smtp; 550 5\.1\.10 RESOLVER\.ADR\.RecipientNotFound/);
    // The human part: what failed, in Microsoft's words and in relay365's.
    expect(mail.text).toContain(`could not be delivered to <${NO_MAILBOX}>`);
    expect(mail.text).toContain('Microsoft 365 answered: 550 5.1.10 RESOLVER.ADR.RecipientNotFound');
    const diagnosis = (await relay.relay.store.get(sent.id))?.recipientDetails[0]?.diagnosis;
    expect(diagnosis).toBeTruthy();
    expect(mail.text).toContain(`What relay365 makes of it: ${diagnosis}`);
    // RET=HDRS: the original's headers, not its body.
    const headers = mail.attachments.find((a) => a.contentType === 'text/rfc822-headers');
    expect(headers?.content.toString()).toContain(`Subject: ${sent.subject}`);
    expect(raw).not.toContain('Invoice 4711 is attached in spirit.');
    // The DSN is in the queue like any message, marked as one, with the null sender.
    const dsns = await relay.relay.store.list({ kind: 'dsn', limit: 50 });
    const mine = dsns.find((d) => d.recipients.includes(DEMO.alice.address) && d.receivedAt >= (mail.date?.getTime() ?? 0) - 5000);
    expect(mine).toMatchObject({ kind: 'dsn', mailFrom: '' });
  });

  it('attaches the whole original with RET=FULL', async () => {
    const sent = await send(relay, { from: DEMO.alice.address, to: NO_MAILBOX, dsn: { return: 'full', notify: 'failure' } });
    const { mail } = await dsnIn(DEMO.alice.address, sent, 'failed');
    const original = mail.attachments.find((a) => a.contentType === 'message/rfc822');
    expect(original?.content.toString()).toContain('Invoice 4711 is attached in spirit.');
  });

  it('sends none for NOTIFY=NEVER, nor to the null sender', async () => {
    const never = await send(relay, { from: DEMO.alice.address, to: NO_MAILBOX, dsn: { notify: 'never' } });
    const nullSender = await send(relay, { from: '', to: NO_MAILBOX });
    for (const { id } of [never, nullSender]) {
      await until(async () => (await relay.relay.store.get(id))?.state === 'failed', 15_000, () => `${id} did not fail`);
    }
    // A later failure's DSN arriving shows the sweep ran past these two.
    const later = await send(relay, { from: DEMO.alice.address, to: NO_MAILBOX });
    await dsnIn(DEMO.alice.address, later, 'failed');
    // The sweep goes in queue id order, so both were looked at before the later one.
    expect(dsnsQueuedFor(never.id, nullSender.id)).toEqual([]);
    const subjects = t.sandbox.mailboxes.list({}).map((e) => e.subject ?? '');
    expect(subjects.filter((s) => s.endsWith(never.subject) || s.endsWith(nullSender.subject)).filter((s) => s.startsWith('Undelivered'))).toEqual([]);
    expect(dsnsQueuedFor(later.id)).toHaveLength(1);
  });
});

describe('a DSN that cannot be delivered', () => {
  it('is not bounced itself', async () => {
    const sent = await send(relay, { from: 'gone-too@contoso.example', to: NO_MAILBOX });
    await until(() => dsnsQueuedFor(sent.id).length === 1, 15_000, () => 'no DSN was written');
    const dsnId = dsnsQueuedFor(sent.id)[0]?.dsn as string;
    await until(async () => (await relay.relay.store.get(dsnId))?.state === 'failed', 15_000, () => `the DSN ${dsnId} did not fail`);
    const dsn = (await relay.relay.store.get(dsnId))!;
    expect(dsn).toMatchObject({ kind: 'dsn', mailFrom: '', recipients: ['gone-too@contoso.example'] });
    expect(dsn.recipientDetails[0]?.reply?.enhanced).toBe('5.1.10');
    // A later failure's DSN shows the sweep has looked at the failed DSN, and wrote nothing about it.
    const later = await send(relay, { from: DEMO.alice.address, to: NO_MAILBOX });
    await dsnIn(DEMO.alice.address, later, 'failed');
    expect(dsnsQueuedFor(dsnId)).toEqual([]);
  });
});

describe('where an app\'s DSNs go', () => {
  it('goes to the fixed address of apps.<app>.dsn', async () => {
    const port = relay.relay.listeners.get('v6')?.port as number;
    const client = nodemailer.createTransport({ host: '::1', port, tls: { rejectUnauthorized: false }, logger: false });
    const subject = `fixed target ${Date.now()}`;
    await client.sendMail({ envelope: { from: 'noreply@contoso.example', to: [NO_MAILBOX] }, raw: `From: ${DEMO.relay.address}\r\nSubject: ${subject}\r\n\r\nhello\r\n` });
    client.close();
    const { status } = await dsnIn(DEMO.bob.address, { id: '', subject }, 'failed');
    expect(status[1]?.get('final-recipient')).toBe(`rfc822; ${NO_MAILBOX}`);
  });

  it('goes nowhere with dsn: none', async () => {
    const sent = await send(relay, { from: DEMO.alice.address, to: NO_MAILBOX, auth: { user: 'silent', pass: 'silent-app-password' } });
    await until(async () => (await relay.relay.store.get(sent.id))?.state === 'failed', 15_000, () => `${sent.id} did not fail`);
    const later = await send(relay, { from: DEMO.alice.address, to: NO_MAILBOX });
    await dsnIn(DEMO.alice.address, later, 'failed');
    expect(dsnsQueuedFor(sent.id)).toEqual([]);
    expect(t.sandbox.mailboxes.list({}).filter((e) => (e.subject ?? '').endsWith(sent.subject))).toEqual([]);
  });
});

describe('a recipient that keeps being deferred', () => {
  it('gets one delay warning, then a DSN when the message expires', async () => {
    const sent = await send(relay, { from: DEMO.alice.address, to: 'someone@slow.example', dsn: { id: 'SLOW-1', notify: ['failure', 'delay'] } });
    const delayed = await dsnIn(DEMO.alice.address, sent, 'delayed');
    expect(delayed.status[0]?.get('original-envelope-id')).toBe('SLOW-1');
    expect(delayed.status[1]?.get('action')).toBe('delayed');
    expect(delayed.status[1]?.get('status')).toBe('4.7.0');
    expect(delayed.status[1]?.get('diagnostic-code')).toBe('smtp; 451 4.7.0 Temporary server error. Please try again later. PRX4');
    expect(delayed.status[1]?.get('will-retry-until')).toBeTruthy();
    expect(delayed.mail.text).toContain('has not yet been delivered to <someone@slow.example>');
    expect(delayed.mail.text).toContain('The upstream server answered: 451 4.7.0 Temporary server error.');

    const expired = await dsnIn(DEMO.alice.address, sent, 'failed', 20_000);
    expect(expired.status[1]?.get('action')).toBe('failed');
    expect(expired.status[1]?.get('status')).toBe('5.4.7');
    expect(expired.status[1]?.get('diagnostic-code')).toContain('451 4.7.0 Temporary server error');
    expect(expired.mail.text).toMatch(/What relay365 makes of it: Expired: not delivered within 6s/);
    // Once: a single delay warning for this message.
    const warnings = t.sandbox.mailboxes.list({ mailbox: DEMO.alice.address }).filter((e) => (e.subject ?? '') === `Delayed Mail (still being retried): ${sent.subject}`);
    expect(warnings).toHaveLength(1);
  });
});

describe('DSNs in the queue', () => {
  const cli = (args: string[]) => runCli(relay.dir, [...args, '--config', join(relay.dir, 'relay365.yaml')]);

  it('are listed with queue list --kind dsn and marked in queue show', async () => {
    const listed = await cli(['queue', 'list', '--kind', 'dsn', '--json']);
    expect(listed.code).toBe(0);
    const dsns = JSON.parse(listed.stdout) as { id: string; kind: string; mailFrom: string }[];
    expect(dsns.length).toBeGreaterThanOrEqual(3);
    expect(new Set(dsns.map((d) => [d.kind, d.mailFrom].join('|')))).toEqual(new Set(['dsn|']));
    const table = await cli(['queue', 'list', '--kind', 'dsn']);
    expect(table.stdout).toMatch(/delivered \(dsn\)/);
    const shown = await cli(['queue', 'show', dsns[0]!.id]);
    expect(shown.stdout).toContain('a DSN relay365 wrote to a sender');
    expect((await cli(['queue', 'list', '--kind', 'notification', '--json'])).stdout.trim()).toBe('[]');
    const wrong = await cli(['queue', 'list', '--kind', 'bounce']);
    expect(wrong.code).toBe(64);
    expect(wrong.stderr).toContain('unknown kind "bounce"; kinds are normal, dsn, notification');
  });
});
