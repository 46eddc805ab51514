// Client submission over a raw socket: every greeting, EHLO and AUTH reply checked byte for byte
// against shared/design/M365-FACTS.md ("SMTP AUTH client submission"), the variable parts (host,
// date, session id, timestamp) by precise patterns.
import { beforeEach, describe, expect, it } from 'vitest';
import { confidentialClient, DEMO, useSandbox } from '../helpers/sandbox.js';
import { appOnlyToken, b64, errorReply, messageData, MS, queuedReply, RawSmtpClient, securedClient, sendMessage, xoauth2 } from '../helpers/sandbox-smtp.js';

const t = useSandbox();
let token: string;
// Some tests move the sandbox clock forward: each starts with a token valid on it.
beforeEach(async () => {
  token = await appOnlyToken(t);
});

const EHLO_BEFORE_TLS = ['SIZE 157286400', 'PIPELINING', 'DSN', 'ENHANCEDSTATUSCODES', 'STARTTLS', '8BITMIME', 'BINARYMIME', 'CHUNKING', 'SMTPUTF8'];
const EHLO_AFTER_TLS = ['SIZE 157286400', 'PIPELINING', 'DSN', 'ENHANCEDSTATUSCODES', 'AUTH LOGIN XOAUTH2', '8BITMIME', 'BINARYMIME', 'CHUNKING', 'SMTPUTF8'];

/** `250-<host> Hello [127.0.0.1]` then the keywords, the last with `250 `. */
function ehloReply(keywords: string[]): RegExp {
  const lines = keywords.map((k, i) => `250${i === keywords.length - 1 ? ' ' : '-'}${k}`).join('\r\n');
  return new RegExp(`^250-${MS.machine}\\.outlook\\.office365\\.com Hello \\[127\\.0\\.0\\.1\\]\r\n${lines.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
}

async function connected(): Promise<{ client: RawSmtpClient; greeting: string }> {
  const client = await RawSmtpClient.connect(t.sandbox.ports.submission!);
  return { client, greeting: await client.read() };
}

describe('greeting and EHLO', () => {
  it('greets as an Exchange Online front end, with the RFC date and a 16-hex session id', async () => {
    const { client, greeting } = await connected();
    expect(greeting).toMatch(new RegExp(`^220 ${MS.machine}\\.outlook\\.office365\\.com Microsoft ESMTP MAIL Service ready at ${MS.rfcDate} \\[${MS.sessionId}\\]$`));
    const date = Date.parse(/ready at (.+) \[/.exec(greeting)![1]!);
    expect(Math.abs(date - t.sandbox.clock.now())).toBeLessThan(5000);
    client.close();
  });

  it('lists the facts file EHLO keywords before TLS, and AUTH LOGIN XOAUTH2 in place of STARTTLS after it', async () => {
    const { client } = await connected();
    expect(await client.command('EHLO client.example')).toMatch(ehloReply(EHLO_BEFORE_TLS));
    expect(await client.startTls(t.sandbox.caPem)).toBe('220 2.0.0 SMTP server ready');
    expect(client.secure).toBe(true);
    expect(await client.command('EHLO client.example')).toMatch(ehloReply(EHLO_AFTER_TLS));
    expect(await client.command('QUIT')).toBe('221 2.0.0 Service closing transmission channel');
    await client.closed;
  });

  it('answers a bad EHLO argument with 501 5.5.4 Invalid domain name and the error trailer of its own session', async () => {
    const { client, greeting } = await connected();
    const sessionId = /\[([0-9A-F]{16})\]$/.exec(greeting)![1]!;
    for (const line of ['EHLO', 'EHLO bad!name', 'EHLO two words']) {
      const reply = await client.command(line);
      expect(reply).toMatch(errorReply('501 5.5.4 Invalid domain name'));
      expect(reply.endsWith(` ${sessionId}]`)).toBe(true);
    }
    expect(await client.command('EHLO [127.0.0.1]')).toMatch(/^250-/);
    client.close();
  });

  it('stamps error trailers with the sandbox clock, in ISO-8601 with milliseconds', async () => {
    const { client } = await connected();
    t.sandbox.clock.advance(36 * 60 * 60 * 1000);
    const reply = await client.command('EHLO');
    const stamp = / (\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z) [0-9A-F]{16}\]$/.exec(reply)![1]!;
    expect(Math.abs(Date.parse(stamp) - t.sandbox.clock.now())).toBeLessThan(5000);
    client.close();
  });
});

describe('AUTH', () => {
  it('refuses every mechanism before TLS with 504 5.7.4, and MAIL without AUTH with 530 5.7.57', async () => {
    const { client } = await connected();
    await client.command('EHLO client.example');
    for (const line of ['AUTH LOGIN', `AUTH XOAUTH2 ${xoauth2(DEMO.relay.address, token)}`, 'AUTH PLAIN']) {
      expect(await client.command(line)).toMatch(errorReply('504 5.7.4 Unrecognized authentication type'));
    }
    expect(await client.command(`MAIL FROM:<${DEMO.relay.address}>`)).toMatch(errorReply('530 5.7.57 Client not authenticated to send mail.'));
    client.close();
  });

  it('offers only LOGIN and XOAUTH2 after TLS: PLAIN and CRAM-MD5 get 504 5.7.4; MAIL still needs AUTH', async () => {
    const client = await securedClient(t);
    expect(await client.command(`AUTH PLAIN ${b64(`\0${DEMO.relay.address}\0${DEMO.relay.password}`)}`)).toMatch(errorReply('504 5.7.4 Unrecognized authentication type'));
    expect(await client.command('AUTH CRAM-MD5')).toMatch(errorReply('504 5.7.4 Unrecognized authentication type'));
    expect(await client.command(`MAIL FROM:<${DEMO.relay.address}>`)).toMatch(errorReply('530 5.7.57 Client not authenticated to send mail.'));
    client.close();
  });

  it('prompts LOGIN with 334 VXNlcm5hbWU6 and 334 UGFzc3dvcmQ6', async () => {
    const client = await securedClient(t);
    expect(await client.command('AUTH LOGIN')).toBe('334 VXNlcm5hbWU6');
    expect(await client.command(b64(DEMO.relay.address))).toBe('334 UGFzc3dvcmQ6');
    // The demo tenant's authentication policy blocks basic auth.
    expect(await client.command(b64(DEMO.relay.password))).toMatch(errorReply('535 5.7.139 Authentication unsuccessful, basic authentication is disabled.'));
    client.close();
  });

  it('takes XOAUTH2 inline, on one command line long enough for the whole JWT', async () => {
    const client = await securedClient(t);
    const line = `AUTH XOAUTH2 ${xoauth2(DEMO.relay.address, token)}`;
    expect(line.length).toBeGreaterThan(1000);
    expect(await client.command(line)).toBe('235 2.7.0 Authentication successful');
    client.close();
  });

  it('takes XOAUTH2 after an empty "334 " challenge', async () => {
    const client = await securedClient(t);
    expect(await client.command('AUTH XOAUTH2')).toBe('334 ');
    expect(await client.command(xoauth2(DEMO.relay.address, token))).toBe('235 2.7.0 Authentication successful');
    client.close();
  });

  it('answers 535 5.7.3 for a forged, a wrong-audience and an expired token', async () => {
    const [header, payload] = token.split('.');
    const forged = `${header}.${payload}.${Buffer.from('not the signature').toString('base64url')}`;
    const graph = await confidentialClient(t, { clientId: DEMO.appOnly.clientId, clientSecret: DEMO.appOnly.secret }).acquireTokenByClientCredential({ scopes: ['https://graph.microsoft.com/.default'] });
    for (const bad of [forged, graph!.accessToken, 'not-a-jwt']) {
      const client = await securedClient(t);
      expect(await client.command(`AUTH XOAUTH2 ${xoauth2(DEMO.relay.address, bad)}`)).toMatch(errorReply('535 5.7.3 Authentication unsuccessful'));
      client.close();
    }
    const since = t.sandbox.events.lastSeq;
    t.sandbox.clock.advance(2 * 60 * 60 * 1000);
    const client = await securedClient(t);
    expect(await client.command(`AUTH XOAUTH2 ${xoauth2(DEMO.relay.address, token)}`)).toMatch(errorReply('535 5.7.3 Authentication unsuccessful'));
    const refused = t.sandbox.events.list({ since, endpoint: 'submission' }).find((e) => e.action === 'AUTH XOAUTH2');
    expect(refused).toMatchObject({ outcome: 'refused', status: 535, code: '5.7.3' });
    expect(String(refused?.detail?.reason)).toContain('expired');
    client.close();
  });
});

describe('a whole submission', () => {
  it('answers each step with the facts file success replies and stores the message', async () => {
    const client = await securedClient(t);
    expect(await client.command(`AUTH XOAUTH2 ${xoauth2(DEMO.relay.address, token)}`)).toBe('235 2.7.0 Authentication successful');
    const replies = await sendMessage(
      client,
      { from: DEMO.relay.address, to: [DEMO.alice.address] },
      messageData({ From: DEMO.relay.address, To: DEMO.alice.address, Subject: 'Raw protocol', 'Message-ID': '<raw-1@contoso.example>' }),
    );
    expect(replies.slice(0, 3)).toEqual(['250 2.1.0 Sender OK', '250 2.1.5 Recipient OK', '354 Start mail input; end with <CRLF>.<CRLF>']);
    expect(replies[3]).toMatch(queuedReply('<raw-1@contoso.example>'));
    expect(await client.command('QUIT')).toBe('221 2.0.0 Service closing transmission channel');
    const inbox = t.sandbox.mailboxes.list({ mailbox: DEMO.alice.address, folder: 'Inbox' });
    expect(inbox.find((m) => m.messageId === '<raw-1@contoso.example>')).toMatchObject({ subject: 'Raw protocol', via: 'submission' });
    expect(t.sandbox.mailboxes.list({ mailbox: DEMO.relay.address, folder: 'SentItems' }).some((m) => m.messageId === '<raw-1@contoso.example>')).toBe(true);
  });

  it('gives a message without a Message-ID one of its own, and names it in the 250', async () => {
    const client = await securedClient(t);
    await client.command(`AUTH XOAUTH2 ${xoauth2(DEMO.relay.address, token)}`);
    const replies = await sendMessage(client, { from: DEMO.relay.address, to: [DEMO.bob.address] }, messageData({ From: DEMO.relay.address, Subject: 'No id' }));
    const id = /OK (<[^>]+>)/.exec(replies[3]!)![1]!;
    expect(replies[3]).toMatch(queuedReply(id));
    const stored = t.sandbox.mailboxes.list({ mailbox: DEMO.bob.address }).find((m) => m.subject === 'No id');
    expect(stored?.messageId).toBe(id);
    client.close();
  });

  it('logs each command and its reply as sandbox events, never the credentials', async () => {
    const since = t.sandbox.events.lastSeq;
    const client = await securedClient(t);
    await client.command(`AUTH XOAUTH2 ${xoauth2(DEMO.relay.address, token)}`);
    await client.command('QUIT');
    await client.closed;
    const events = t.sandbox.events.list({ since, endpoint: 'submission' });
    expect(events.map((e) => e.action)).toEqual(['CONNECT', 'EHLO', 'STARTTLS', 'EHLO', 'AUTH XOAUTH2', 'QUIT']);
    expect(events[4]).toMatchObject({ outcome: 'ok', status: 235, appId: DEMO.appOnly.clientId, mailbox: DEMO.relay.address });
    expect(JSON.stringify(events)).not.toContain(token.slice(0, 40));
  });
});
