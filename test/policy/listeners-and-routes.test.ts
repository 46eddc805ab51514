/**
 * The rest of the door: restricted listeners, AUTH in plaintext on a trusted local
 * listener, connections per address, refusals predicted from the app's route, per-app
 * routes and the fallback route used while an app's route is held.
 */
import nodemailer from 'nodemailer';
import { afterEach, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/policy/passwords.js';
import { startSink, until, type Sink } from '../helpers/sink.js';
import { SmtpTalk } from '../helpers/smtp-talk.js';
import { fastRetry, routeTo, startTestRelay, type TestRelay } from '../helpers/relay.js';

let relay: TestRelay | undefined;
const sinks: Sink[] = [];
afterEach(async () => {
  await relay?.stop();
  for (const s of sinks.splice(0)) await s.stop().catch(() => undefined);
  relay = undefined;
});

async function sink(behaviour = {}) {
  const s = await startSink(behaviour);
  sinks.push(s);
  return s;
}

describe('listeners', () => {
  it('a restricted listener refuses addresses no app lists before the greeting: 554 5.7.1', async () => {
    relay = await startTestRelay({
      listeners: { default: { host: '127.0.0.1', port: 0, restricted: true } },
      apps: { device: { networks: ['::1'] } },
    });
    const talk = await SmtpTalk.open(relay.port);
    expect(await talk.reply()).toBe('554 5.7.1 127.0.0.1 may not use this relay: listener default only takes connections from the networks of configured apps');
    talk.close();
  });

  it('a trusted local listener takes AUTH without TLS', async () => {
    const upstream = await sink();
    relay = await startTestRelay({
      listeners: { local: { host: '127.0.0.1', port: 0, tls: { mode: 'none' }, trustedPlaintext: true } },
      apps: { cron: { auth: { passwordHash: await hashPassword('cron-pass') } } },
      routes: { up: routeTo(upstream.port) },
    });
    const client = nodemailer.createTransport({ host: '127.0.0.1', port: relay.port, ignoreTLS: true, auth: { user: 'cron', pass: 'cron-pass' }, logger: false });
    const info = await client.sendMail({ envelope: { from: 'cron@host.example', to: ['ops@contoso.example'] }, raw: 'Subject: backup\r\n\r\nok\r\n' });
    client.close();
    expect(info.response).toMatch(/^250 2\.0\.0/);
  });

  it('refuses a config that allows plaintext AUTH on a network listener, naming the key', async () => {
    await expect(
      startTestRelay({ listeners: { default: { host: '0.0.0.0', port: 0, trustedPlaintext: true } } }),
    ).rejects.toThrow(/listeners\.default\.trustedPlaintext: only for a listener on 127\.0\.0\.1 or ::1 \(this one is on 0\.0\.0\.0\)/);
  });

  it('limits connections per address: 421 4.7.0 beyond', async () => {
    relay = await startTestRelay({ protection: { connectionsPerAddress: 2 } });
    const a = await SmtpTalk.open(relay.port);
    const b = await SmtpTalk.open(relay.port);
    expect(await a.reply()).toMatch(/^220 /);
    expect(await b.reply()).toMatch(/^220 /);
    const c = await SmtpTalk.open(relay.port);
    expect(await c.reply()).toBe('421 4.7.0 Too many connections from 127.0.0.1; try again in a moment');
    a.close();
    await until(async () => {
      const d = await SmtpTalk.open(relay!.port);
      const greeting = await d.reply();
      d.close();
      return greeting.startsWith('220 ');
    }, 5000, () => 'the freed place was not given back');
    b.close();
    c.close();
  });
});

describe('refusals known at the door', () => {
  it('refuses at RCPT a recipient outside the tenant when the app only has Direct Send', async () => {
    relay = await startTestRelay({
      apps: { scanner: { networks: ['127.0.0.1'] } },
      routes: { internal: { transport: 'direct-send', domain: 'contoso.example', host: '127.0.0.1' } },
    });
    const talk = await SmtpTalk.open(relay.port);
    await talk.reply();
    await talk.command('EHLO scanner');
    await talk.command('MAIL FROM:<scanner@contoso.example>');
    expect(await talk.command('RCPT TO:<anna@contoso.example>')).toMatch(/^250 /);
    expect(await talk.command('RCPT TO:<partner@fabrikam.example>')).toBe(
      "550 5.7.1 Recipient <partner@fabrikam.example> is outside the tenant (contoso.example): app scanner's mail goes by Direct Send (routes.internal), which only reaches mailboxes in the tenant; routes.internal.fallback can name a route for the rest",
    );
    talk.close();
  });

  it('refuses at MAIL an envelope sender the route mailbox may not send as', async () => {
    relay = await startTestRelay({
      apps: { erp: { networks: ['127.0.0.1'] } },
      routes: {
        m365: {
          transport: 'smtp-basic',
          mailbox: 'relay@contoso.example',
          password: 'x',
          host: '127.0.0.1',
          sender: { allowed: ['*@contoso.example'] },
        },
      },
    });
    const talk = await SmtpTalk.open(relay.port);
    await talk.reply();
    await talk.command('EHLO erp');
    expect(await talk.command('MAIL FROM:<erp@fabrikam.example>')).toBe(
      '550 5.7.60 Sender <erp@fabrikam.example> cannot go through routes.m365: relay@contoso.example may not send as it (routes.m365.sender.allowed), and Exchange Online would refuse it (550 5.7.60); list it there once the mailbox has Send As on it, or set routes.m365.sender.rewriteEnvelope: true',
    );
    expect(await talk.command('MAIL FROM:<erp@contoso.example>')).toMatch(/^250 /);
    talk.close();
  });

  it('refuses after DATA a header From a Graph route mailbox may not send as, instead of a bounce later', async () => {
    relay = await startTestRelay({
      apps: { erp: { networks: ['127.0.0.1'] } },
      routes: {
        m365: {
          transport: 'graph',
          mailbox: 'relay@contoso.example',
          credentials: { tenant: 'contoso.example', clientId: 'app', clientSecret: 'x', authorityHost: 'https://127.0.0.1:1' },
          endpoint: 'https://127.0.0.1:1',
          sender: { allowed: ['noreply@contoso.example'] },
        },
      },
    });
    const talk = await SmtpTalk.open(relay.port);
    await talk.reply();
    await talk.command('EHLO erp');
    const data = async (from: string) => {
      await talk.command('MAIL FROM:<erp@contoso.example>'); // Graph has no envelope sender: only the header counts
      await talk.command('RCPT TO:<anna@contoso.example>');
      await talk.command('DATA');
      return talk.command(`From: ${from}\r\nSubject: x\r\n\r\nx\r\n.`);
    };
    expect(await data('ERP <erp@contoso.example>')).toBe(
      '550 5.7.60 Header From <erp@contoso.example> cannot go through routes.m365: relay@contoso.example may not send as it (routes.m365.sender.allowed: noreply@contoso.example), and Exchange Online would refuse it (SendAsDenied); list it there once the mailbox has Send As on it, or set routes.m365.sender.rewriteFrom: when-not-allowed to send it as relay@contoso.example with Reply-To <erp@contoso.example>',
    );
    expect(await data('noreply@contoso.example')).toMatch(/^250 /);
    talk.close();
  });
});

describe('an app’s routes', () => {
  async function send(port: number, to: string[]) {
    const client = nodemailer.createTransport({ host: '127.0.0.1', port, tls: { rejectUnauthorized: false }, logger: false });
    try {
      const info = await client.sendMail({ envelope: { from: 'erp@contoso.example', to }, raw: `Subject: for ${to.join(' ')}\r\n\r\nx\r\n` });
      return /queued as (\S+)/.exec(String(info.response))?.[1] as string;
    } finally {
      client.close();
    }
  }

  it('sends by recipient domain, and through its fallback while its route is held', async () => {
    const internal = await sink();
    const external = await sink({ rcpt: () => ({ code: 535, text: '5.7.8 not used' }) });
    const spare = await sink();
    relay = await startTestRelay({
      apps: { erp: { networks: ['127.0.0.1'], route: 'outside', routes: [{ recipientDomains: ['contoso.example'], route: 'inside' }], fallback: 'spare' } },
      routes: { inside: routeTo(internal.port), outside: routeTo(external.port), spare: routeTo(spare.port) },
      routing: { default: 'inside' },
      delivery: fastRetry,
    });
    await relay.relay.store.setRouteState('outside', 'held', Date.now(), { reason: 'test: held', fix: 'none', probeAt: Date.now() + 3_600_000 });
    const id = await send(relay.port, ['anna@contoso.example', 'partner@fabrikam.example']);
    await until(async () => (await relay!.relay.store.get(id))?.state === 'delivered', 10_000, () => 'not delivered');
    expect(internal.messages.map((m) => m.to)).toEqual([['anna@contoso.example']]);
    expect(spare.messages.map((m) => m.to)).toEqual([['partner@fabrikam.example']]);
    expect(external.messages).toEqual([]);
    const detail = (await relay.relay.store.get(id))!;
    expect(detail.recipientDetails[1]?.diagnosis).toMatch(/^The route "outside" is held: test: held .*Sent through the app's fallback route spare instead: /);
  });
});
