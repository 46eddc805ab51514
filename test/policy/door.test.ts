/**
 * Who may send what, decided at the SMTP door with replies the sending application logs:
 * an open-relay battery, sender and recipient rules, SCOT's default domain, rewriting,
 * per-app rate limits and an IPv6 allow-list entry. (Password guessing: password-guessing.test.ts.)
 */
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/policy/passwords.js';
import { startSink, until, type Sink } from '../helpers/sink.js';
import { SmtpTalk } from '../helpers/smtp-talk.js';
import { routeTo, startTestRelay, type TestRelay } from '../helpers/relay.js';

let sink: Sink;
let relay: TestRelay;
let v4: number; // listener on 127.0.0.1
let v6: number; // listener on ::1

beforeAll(async () => {
  sink = await startSink();
  relay = await startTestRelay({
    listeners: {
      v4: { host: '127.0.0.1', port: 0 },
      v6: { host: '::1', port: 0, tls: { mode: 'none' } },
    },
    apps: {
      erp: { auth: { passwordHash: await hashPassword('erp-secret') }, senders: ['*@contoso.example'], from: ['*@contoso.example'], limits: { messagesPerMinute: 3 } },
      mfp: {
        auth: { passwordHash: await hashPassword('mfp-secret') },
        senders: ['scan@contoso.example'],
        recipients: { allowDomains: ['contoso.example'], maxPerMessage: 2 },
        limits: { maxMessageSize: 2000, recipientsPerDay: 3 },
      },
      scot: { networks: ['::1'], defaultDomain: 'contoso.example', recipients: { denyDomains: ['example.org'] }, rewrite: { to: 'sap@contoso.example', envelope: true, from: true } },
    },
    routes: { upstream: routeTo(sink.port) },
  });
  v4 = relay.relay.listeners.get('v4')!.port;
  v6 = relay.relay.listeners.get('v6')!.port;
});
afterAll(async () => {
  await relay.stop();
  await sink.stop();
});

async function greeted(port: number, host = '127.0.0.1') {
  const talk = await SmtpTalk.open(port, host);
  await talk.reply();
  await talk.command('EHLO app.example');
  return talk;
}

function client(auth?: { user: string; pass: string }) {
  return nodemailer.createTransport({ host: '127.0.0.1', port: v4, requireTLS: true, tls: { rejectUnauthorized: false }, auth, logger: false });
}

describe('the open-relay battery', () => {
  it('refuses an unauthenticated client from an address no app lists: 530 5.7.0', async () => {
    const talk = await greeted(v4);
    expect(await talk.command('MAIL FROM:<spam@example.net>')).toBe(
      '530 5.7.0 Authentication required: 127.0.0.1 is not in the networks of any app, so it must AUTH',
    );
    talk.close();
  });

  it('refuses AUTH before STARTTLS: 530 5.7.0', async () => {
    const talk = await greeted(v4);
    expect(await talk.command(`AUTH PLAIN ${Buffer.from('\0erp\0erp-secret').toString('base64')}`)).toBe('530 5.7.0 Must issue a STARTTLS command first');
    talk.close();
  });

  it('refuses a wrong password: 535 5.7.8, and the message is not taken', async () => {
    const c = client({ user: 'erp', pass: 'guess' });
    await expect(c.sendMail({ envelope: { from: 'erp@contoso.example', to: ['anna@contoso.example'] }, raw: 'Subject: x\r\n\r\ny\r\n' })).rejects.toMatchObject({
      responseCode: 535,
      response: '535 5.7.8 Authentication credentials invalid',
    });
    c.close();
  });

  it('refuses a listed address sending to a denied domain: 550 5.7.1 naming the rule', async () => {
    const talk = await greeted(v6, '::1');
    expect(await talk.command('MAIL FROM:<sapadmin>')).toMatch(/^250 /);
    expect(await talk.command('RCPT TO:<someone@example.org>')).toBe(
      '550 5.7.1 Recipient domain example.org is not allowed for app scot (apps.scot.recipients.denyDomains)',
    );
    talk.close();
  });
});

describe('an authenticated app', () => {
  it('sends as its allowed senders, and is refused another sender or header From', async () => {
    const c = client({ user: 'erp', pass: 'erp-secret' });
    const ok = await c.sendMail({ envelope: { from: 'erp@contoso.example', to: ['anna@contoso.example'] }, raw: 'From: erp@contoso.example\r\nSubject: ok\r\n\r\nok\r\n' });
    expect(ok.response).toMatch(/^250 2\.0\.0 Ok: queued as/);
    const id = /queued as (\S+)/.exec(String(ok.response))?.[1] as string;
    expect((await relay.relay.store.get(id))?.app).toBe('erp');
    expect((await relay.relay.store.list({ limit: 10, app: 'erp' })).map((m) => m.id)).toContain(id);

    await expect(c.sendMail({ envelope: { from: 'ceo@fabrikam.example', to: ['anna@contoso.example'] }, raw: 'Subject: x\r\n\r\nx\r\n' })).rejects.toMatchObject({
      response: '550 5.7.1 Sender <ceo@fabrikam.example> is not allowed for app erp (apps.erp.senders: *@contoso.example)',
    });
    await expect(c.sendMail({ envelope: { from: 'erp@contoso.example', to: ['anna@contoso.example'] }, raw: 'From: CEO <ceo@fabrikam.example>\r\nSubject: x\r\n\r\nx\r\n' })).rejects.toMatchObject({
      response: '550 5.7.1 Header From <ceo@fabrikam.example> is not allowed for app erp (apps.erp.from: *@contoso.example)',
    });
    c.close();
  });

  it('is refused any From or Sender address it may not use, and a second From or Sender header', async () => {
    const c = client({ user: 'erp', pass: 'erp-secret' });
    const send = (headers: string) =>
      c.sendMail({ envelope: { from: 'erp@contoso.example', to: ['anna@contoso.example'] }, raw: `${headers}\r\nSubject: x\r\n\r\nx\r\n` }).then(
        () => 'accepted',
        (e: { response?: string }) => e.response,
      );
    const notAllowed = (header: string, address: string) => `550 5.7.1 Header ${header} <${address}> is not allowed for app erp (apps.erp.from: *@contoso.example)`;
    expect(await send('From: erp@contoso.example, ceo@fabrikam.example')).toBe(notAllowed('From', 'ceo@fabrikam.example'));
    expect(await send('From: Staff: erp@contoso.example, CEO <ceo@fabrikam.example>;')).toBe(notAllowed('From', 'ceo@fabrikam.example'));
    expect(await send('From: erp@contoso.example\r\nFrom: ceo@fabrikam.example')).toBe('550 5.6.0 The message has 2 From headers; RFC 5322 allows one');
    expect(await send('From: erp@contoso.example\r\nSender: ceo@fabrikam.example')).toBe(notAllowed('Sender', 'ceo@fabrikam.example'));
    expect(await send('From: erp@contoso.example\r\nSender: a@contoso.example\r\nSender: b@contoso.example')).toBe('550 5.6.0 The message has 2 Sender headers; RFC 5322 allows one');
    expect(await send('From: Undisclosed:;')).toMatch(/^550 5\.7\.1 The message's From header has no address; app erp may only send from \*@contoso\.example \(apps\.erp\.from\)$/);
    c.close();
  });

  it('is held to its messages per minute with 451 4.7.1 and the reason', async () => {
    const c = client({ user: 'erp', pass: 'erp-secret' });
    const send = () => c.sendMail({ envelope: { from: 'erp@contoso.example', to: ['anna@contoso.example'] }, raw: 'From: erp@contoso.example\r\nSubject: rate\r\n\r\nx\r\n' });
    const results = await Promise.allSettled([send(), send(), send(), send(), send()]);
    const refused = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason.response as string);
    expect(refused.length).toBeGreaterThanOrEqual(2); // 3 per minute, one already sent above
    expect(refused[0]).toMatch(/^451 4\.7\.1 App erp has sent \d messages in the last minute \(apps\.erp\.limits\.messagesPerMinute\); try again/);
    c.close();
  });
});

describe('an app recognised by its address (IPv6 ::1)', () => {
  it('appends the default domain and sends as the configured mailbox, keeping the original From as Reply-To', async () => {
    const talk = await greeted(v6, '::1');
    expect(await talk.command('MAIL FROM:<sapadmin>')).toMatch(/^250 /);
    expect(await talk.command('RCPT TO:<john>')).toMatch(/^250 /);
    expect(await talk.command('DATA')).toMatch(/^354/);
    expect(await talk.command('From: SAP System <sapadmin@localhost>\r\nSubject: Job finished\r\n\r\nJob ZFI done.\r\n.')).toMatch(/^250 2\.0\.0 Ok: queued as/);
    talk.close();
    const arrived = () => sink.messages.find((m) => m.raw.toString().includes('Job ZFI done.'));
    await until(() => arrived() !== undefined, 10_000, () => 'the message did not arrive');
    const message = arrived()!;
    expect(message.from).toBe('sap@contoso.example');
    expect(message.to).toEqual(['john@contoso.example']);
    const text = message.raw.toString();
    expect(text).toContain('From: "SAP System" <sap@contoso.example>\r\n');
    expect(text).toContain('Reply-To: "SAP System" <sapadmin@localhost>\r\n');
  });

  it('is refused a second From header, which the rewrite would leave in place', async () => {
    const talk = await greeted(v6, '::1');
    expect(await talk.command('MAIL FROM:<sapadmin>')).toMatch(/^250 /);
    expect(await talk.command('RCPT TO:<john>')).toMatch(/^250 /);
    expect(await talk.command('DATA')).toMatch(/^354/);
    expect(await talk.command('From: sapadmin@localhost\r\nFrom: ceo@contoso.example\r\nSubject: two\r\n\r\nx\r\n.')).toBe('550 5.6.0 The message has 2 From headers; RFC 5322 allows one');
    talk.close();
  });

  it('is not that app over IPv4: the same client from 127.0.0.1 must AUTH', async () => {
    const talk = await greeted(v4);
    expect(await talk.command('MAIL FROM:<sapadmin>')).toMatch(/^530 5\.7\.0 /);
    talk.close();
  });
});

describe('an app\'s recipient rules and limits', () => {
  it('keeps it to its recipient domains, recipients per message, size and recipients per day, each refusal naming the key', async () => {
    const c = client({ user: 'mfp', pass: 'mfp-secret' });
    const send = (to: string[], body = 'scan') =>
      c.sendMail({ envelope: { from: 'scan@contoso.example', to }, raw: `From: scan@contoso.example\r\nSubject: scan\r\n\r\n${body}\r\n` });
    const refusal = (p: Promise<unknown>) => p.then(() => 'accepted', (e: { response?: string }) => e.response ?? String(e));

    expect(await refusal(send(['someone@example.net']))).toMatch(/^550 5\.7\.1 Recipient domain example\.net is not allowed for app mfp \(apps\.mfp\.recipients\.allowDomains: contoso\.example\)/);
    const three = await send(['a@contoso.example', 'b@contoso.example', 'c@contoso.example']);
    expect(three.accepted).toEqual(['a@contoso.example', 'b@contoso.example']);
    expect((three.rejectedErrors as { response?: string }[] | undefined)?.[0]?.response).toMatch(/^452 4\.5\.3 Too many recipients: app mfp may send to at most 2 per message \(apps\.mfp\.recipients\.maxPerMessage\)/);
    expect(await refusal(send(['a@contoso.example'], 'x'.repeat(3000)))).toMatch(/^552 5\.3\.4 Message too big: 2000 bytes is the limit of app "mfp" \(apps\.mfp\.limits\.maxMessageSize\)/);
    // 2 recipients today so far (the refused ones do not count); 2 more would make 4 of 3.
    expect(await refusal(send(['a@contoso.example', 'b@contoso.example']))).toMatch(/^451 4\.7\.1 App mfp has sent 2 recipients in the last 24 hours \(apps\.mfp\.limits\.recipientsPerDay\)/);
    expect(await refusal(send(['a@contoso.example']))).toBe('accepted');
    c.close();
  });
});
