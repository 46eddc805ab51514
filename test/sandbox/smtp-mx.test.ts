// The MX endpoint (<tenant>.mail.protection.outlook.com:25): Direct Send, RejectDirectSend, and
// relay connectors recognised by IP address or by TLS client certificate.
import nodemailer from 'nodemailer';
import { describe, expect, it } from 'vitest';
import { issueCertificate } from '../../sandbox/pki/index.js';
import { DEMO, useSandbox } from '../helpers/sandbox.js';
import { errorReply, messageData, MS, queuedReply, RawSmtpClient, securedClient, sendMessage } from '../helpers/sandbox-smtp.js';

const EXTERNAL = 'partner@fabrikam.example';
const t = useSandbox(); // the demo tenant, put back before each test
const { edit } = t;

async function plainClient(): Promise<RawSmtpClient> {
  const client = await RawSmtpClient.connect(t.sandbox.ports.mx!);
  await client.read();
  await client.command('EHLO printer.contoso.example');
  return client;
}

const mail = (from: string, to: string[], subject: string) => ({ envelope: { from, to }, data: messageData({ From: from, To: to.join(', '), Subject: subject }) });

describe('protocol', () => {
  it('greets as Exchange Online Protection and offers STARTTLS but never AUTH', async () => {
    const client = await RawSmtpClient.connect(t.sandbox.ports.mx!);
    expect(await client.read()).toMatch(new RegExp(`^220 ${MS.machine}\\.mail\\.protection\\.outlook\\.com Microsoft ESMTP MAIL Service ready at ${MS.rfcDate} \\[${MS.sessionId}\\]$`));
    const keywords = ['SIZE 157286400', 'PIPELINING', 'DSN', 'ENHANCEDSTATUSCODES', 'STARTTLS', '8BITMIME', 'BINARYMIME', 'CHUNKING', 'SMTPUTF8'];
    const ehlo = await client.command('EHLO printer.contoso.example');
    expect(ehlo).toMatch(new RegExp(`^250-${MS.machine}\\.mail\\.protection\\.outlook\\.com Hello \\[127\\.0\\.0\\.1\\]\r\n`));
    expect(ehlo.split('\r\n').slice(1).map((l) => l.slice(4))).toEqual(keywords);
    expect(await client.command('AUTH LOGIN')).toMatch(errorReply('504 5.7.4 Unrecognized authentication type'));
    expect(await client.startTls(t.sandbox.caPem)).toBe('220 2.0.0 SMTP server ready');
    const after = await client.command('EHLO printer.contoso.example');
    expect(after.split('\r\n').slice(1).map((l) => l.slice(4))).toEqual(keywords.filter((k) => k !== 'STARTTLS'));
    expect(await client.command('AUTH LOGIN')).toMatch(errorReply('504 5.7.4 Unrecognized authentication type'));
    client.close();
  });
});

describe('Direct Send', () => {
  it('delivers from an accepted-domain sender to tenant mailboxes, with or without TLS', async () => {
    const client = await plainClient();
    const m = mail('scanner@contoso.example', [DEMO.alice.address], 'Scan to mail');
    const replies = await sendMessage(client, m.envelope, m.data);
    expect(replies.slice(0, 3)).toEqual(['250 2.1.0 Sender OK', '250 2.1.5 Recipient OK', '354 Start mail input; end with <CRLF>.<CRLF>']);
    expect(replies[3]).toMatch(queuedReply());
    client.close();
    expect(t.sandbox.mailboxes.list({ mailbox: DEMO.alice.address }).find((e) => e.subject === 'Scan to mail')).toMatchObject({ via: 'mx', folder: 'Inbox' });
    // nodemailer without credentials, upgrading with STARTTLS as offered.
    const mailer = nodemailer.createTransport({ host: '127.0.0.1', port: t.sandbox.ports.mx!, tls: { ca: t.sandbox.caPem, servername: 'localhost' }, logger: false });
    const info = await mailer.sendMail({ from: 'app@contoso.example', to: DEMO.bob.address, subject: 'Direct send over TLS', text: 'hello' });
    expect(info.response).toMatch(queuedReply(info.messageId));
    await t.sandbox.mailboxes.waitFor((e) => e.mailbox === DEMO.bob.address && e.subject === 'Direct send over TLS');
    mailer.close();
  });

  it('refuses external recipients with 550 5.7.64 and unknown tenant addresses with 550 5.4.1', async () => {
    const client = await plainClient();
    expect(await client.command('MAIL FROM:<scanner@contoso.example>')).toBe('250 2.1.0 Sender OK');
    expect(await client.command(`RCPT TO:<${EXTERNAL}>`)).toMatch(errorReply('550 5.7.64 TenantAttribution; Relay Access Denied'));
    expect(await client.command('RCPT TO:<nobody@contoso.example>')).toMatch(errorReply('550 5.4.1 Recipient address rejected: Access denied. AS(201806281)'));
    client.close();
  });

  it('with RejectDirectSend refuses accepted-domain senders with 550 5.7.68; internet senders still reach mailboxes', async () => {
    edit((d) => {
      d.organization.rejectDirectSend = true;
    });
    const client = await plainClient();
    expect(await client.command('MAIL FROM:<scanner@contoso.example>')).toMatch(
      errorReply('550 5.7.68 TenantInboundAttribution; Direct Send not allowed for this organization from unauthorized sources'),
    );
    const m = mail(EXTERNAL, [DEMO.alice.address], 'From a partner');
    expect((await sendMessage(client, m.envelope, m.data)).at(-1)).toMatch(queuedReply());
    client.close();
  });
});

describe('relay connectors', () => {
  it('relays to external recipients for a server whose IP address a connector lists, even with RejectDirectSend', async () => {
    edit((d) => {
      d.organization.rejectDirectSend = true;
      d.inboundConnectors.push({ name: 'Loopback app server', enabled: true, senderIpAddresses: ['127.0.0.0/8'], requireTls: false });
    });
    const client = await plainClient();
    const m = mail('app@contoso.example', [EXTERNAL, DEMO.bob.address], 'Relayed by IP');
    expect((await sendMessage(client, m.envelope, m.data)).at(-1)).toMatch(queuedReply());
    client.close();
    expect(t.sandbox.mailboxes.list({ mailbox: 'internet' }).find((e) => e.subject === 'Relayed by IP')?.envelope.rcptTo).toEqual([EXTERNAL]);
    expect(t.sandbox.mailboxes.list({ mailbox: DEMO.bob.address }).some((e) => e.subject === 'Relayed by IP')).toBe(true);
  });

  it('relays for a TLS client certificate whose CN/SAN is the connector domain, and only over TLS', async () => {
    const cert = await t.sandbox.context.pki.issue({ commonName: 'relay.contoso.example', dnsNames: ['relay.contoso.example'], usage: 'client' });
    const client = await securedClient(t, 'mx', cert);
    const m = mail('app@contoso.example', [EXTERNAL], 'Relayed by certificate');
    expect((await sendMessage(client, m.envelope, m.data)).at(-1)).toMatch(queuedReply());
    client.close();
    expect(t.sandbox.mailboxes.list({ mailbox: 'internet' }).some((e) => e.subject === 'Relayed by certificate')).toBe(true);
    const plain = await plainClient(); // same host, no certificate: Direct Send rules
    await plain.command('MAIL FROM:<app@contoso.example>');
    expect(await plain.command(`RCPT TO:<${EXTERNAL}>`)).toMatch(errorReply('550 5.7.64 TenantAttribution; Relay Access Denied'));
    plain.close();
  });

  it('refuses a certificate for another domain, or one that does not chain to a trusted CA, with 550 5.7.64', async () => {
    const other = await t.sandbox.context.pki.issue({ commonName: 'mail.fabrikam.example', dnsNames: ['mail.fabrikam.example'], usage: 'client' });
    const selfSigned = await issueCertificate('self-signed', { commonName: 'relay.contoso.example', dnsNames: ['relay.contoso.example'], usage: 'client' });
    for (const cert of [other, selfSigned]) {
      const client = await securedClient(t, 'mx', cert);
      expect(await client.command('MAIL FROM:<app@contoso.example>')).toBe('250 2.1.0 Sender OK');
      expect(await client.command(`RCPT TO:<${EXTERNAL}>`)).toMatch(errorReply('550 5.7.64 TenantAttribution; Relay Access Denied'));
      client.close();
    }
    const notes = t.sandbox.events.list({ endpoint: 'mx' }).filter((e) => e.action === 'STARTTLS' && e.message?.startsWith('client certificate'));
    expect(notes.map((e) => e.message).slice(-2)).toEqual(['client certificate for mail.fabrikam.example', expect.stringMatching(/^client certificate ignored: /)]);
  });
});
