/**
 * Domain rules hold for every spelling of a domain: upper case, a trailing dot, Unicode or
 * punycode (IDN) are the same domain to recipients.denyDomains/allowDomains, senders and from
 * patterns, and routing rules. An address literal (u@[192.0.2.1]) or an IP address is no
 * domain a rule could judge, so it is refused at MAIL FROM (553 5.1.7) and RCPT TO (553 5.1.3).
 * (smtp-server refuses a trailing dot in SMTP itself; the HTTP API takes it, so that spelling
 * is tested there.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newApiToken } from '../../src/policy/api-tokens.js';
import { registerSecrets } from '../secrets/leak-sink.js';
import { startSink, until, type Sink } from '../helpers/sink.js';
import { SmtpTalk } from '../helpers/smtp-talk.js';
import { routeTo, startTestRelay, type TestRelay } from '../helpers/relay.js';

let inside: Sink;
let outside: Sink;
let relay: TestRelay;
let v4: number;
let v6: number;
const scotToken = newApiToken();
const deviceToken = newApiToken();
registerSecrets(scotToken.token, deviceToken.token);

beforeAll(async () => {
  inside = await startSink();
  outside = await startSink();
  relay = await startTestRelay({
    listeners: { v4: { host: '127.0.0.1', port: 0 }, v6: { host: '::1', port: 0 } },
    http: { host: '127.0.0.1', port: 0 },
    apps: {
      scot: { networks: ['127.0.0.1'], apiTokens: [scotToken.hash], recipients: { denyDomains: ['example.org', 'bücher.example', '*.evil.example'] } },
      device: { networks: ['::1'], apiTokens: [deviceToken.hash], senders: ['*@xn--mller-kva.example', 'scan@Contoso.Example'], recipients: { allowDomains: ['contoso.example'] } },
    },
    routes: { inside: routeTo(inside.port), outside: routeTo(outside.port) },
    routing: { default: 'outside', rules: [{ recipientDomains: ['contoso.example'], route: 'inside' }] },
  });
  v4 = relay.relay.listeners.get('v4')!.port;
  v6 = relay.relay.listeners.get('v6')!.port;
});
afterAll(async () => {
  await relay?.stop();
  await inside?.stop();
  await outside?.stop();
});

async function session(port: number, host: string, from: string) {
  const talk = await SmtpTalk.open(port, host);
  await talk.reply();
  await talk.command('EHLO app.example');
  const mail = await utf8(talk, `MAIL FROM:<${from}> SMTPUTF8`);
  return { talk, mail };
}

/** A command with non-ASCII characters, sent as UTF-8 (SMTPUTF8). */
function utf8(talk: SmtpTalk, line: string): Promise<string> {
  talk.write(Buffer.from(`${line}\r\n`, 'utf8'));
  return talk.reply();
}

/** A raw message through the HTTP API as `token`'s app, its envelope in ?from= and ?to=. */
async function post(token: string, from: string, to: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const query = `?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`;
  const response = await fetch(`http://127.0.0.1:${relay.relay.http!.port}/api/v1/messages${query}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'message/rfc822' },
    body: 'Subject: over HTTP\r\n\r\nx\r\n',
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('recipients.denyDomains', () => {
  it.each([
    ['upper case', 'someone@EXAMPLE.Org', 'example.org'],
    ['the punycode form of a Unicode rule', 'someone@xn--bcher-kva.example', 'xn--bcher-kva.example'],
    ['the Unicode form of a Unicode rule, in another case', 'someone@BÜCHER.example', 'xn--bcher-kva.example'],
    ['a subdomain in upper case', 'someone@MAIL.evil.example', 'mail.evil.example'],
  ])('holds over SMTP for %s', async (_what, address, shown) => {
    const { talk, mail } = await session(v4, '127.0.0.1', 'sap@contoso.example');
    expect(mail).toMatch(/^250 /);
    expect(await utf8(talk, `RCPT TO:<${address}>`)).toBe(`550 5.7.1 Recipient domain ${shown} is not allowed for app scot (apps.scot.recipients.denyDomains)`);
    talk.close();
  });

  it.each([
    ['a trailing dot', 'someone@example.org.', 'example.org'],
    ['a subdomain with a trailing dot', 'someone@mail.evil.example.', 'mail.evil.example'],
  ])('holds over HTTP for %s', async (_what, address, shown) => {
    const answer = await post(scotToken.token, 'sap@contoso.example', address);
    expect(answer.status).toBe(403);
    expect(answer.body.detail).toBe(`Recipient domain ${shown} is not allowed for app scot (apps.scot.recipients.denyDomains)`);
  });
});

describe('address literals and IP addresses', () => {
  it('are refused as recipients: 553 5.1.3', async () => {
    const { talk } = await session(v4, '127.0.0.1', 'sap@contoso.example');
    expect(await talk.command('RCPT TO:<someone@[192.0.2.1]>')).toBe('553 5.1.3 Recipient <someone@[192.0.2.1]>: address literals are not accepted; use a domain name');
    expect(await talk.command('RCPT TO:<someone@[IPv6:2001:db8::1]>')).toBe('553 5.1.3 Recipient <someone@[IPv6:2001:db8::1]>: address literals are not accepted; use a domain name');
    expect(await talk.command('RCPT TO:<someone@192.0.2.1>')).toBe('553 5.1.3 Recipient <someone@192.0.2.1>: an IP address is not a domain name; use a domain name');
    talk.close();
  });

  it('are refused as senders: 553 5.1.7', async () => {
    const { talk, mail } = await session(v4, '127.0.0.1', 'sap@[192.0.2.1]');
    expect(mail).toBe('553 5.1.7 Sender <sap@[192.0.2.1]>: address literals are not accepted; use a domain name');
    talk.close();
  });

  it('are refused over HTTP, as is a domain with an empty label', async () => {
    expect((await post(scotToken.token, 'sap@contoso.example', 'someone@[192.0.2.1]')).status).toBe(422);
    const empty = await post(scotToken.token, 'sap@contoso.example', 'someone@example.org..');
    expect(empty.status).toBe(422);
    expect(empty.body.detail).toBe('Recipient <someone@example.org..>: "example.org.." is not a domain name');
  });
});

describe('allowDomains, senders and routing rules', () => {
  it('match every spelling of the domains they name', async () => {
    const { talk, mail } = await session(v6, '::1', 'scan@MÜLLER.example');
    expect(mail).toMatch(/^250 /);
    expect(await talk.command('RCPT TO:<anna@CONTOSO.example>')).toMatch(/^250 /);
    expect(await talk.command('RCPT TO:<anna@contoso.example.evil>')).toMatch(/^550 5\.7\.1 Recipient domain contoso\.example\.evil is not allowed for app device \(apps\.device\.recipients\.allowDomains/);
    talk.close();
    const answer = await post(deviceToken.token, 'scan@müller.example.', 'anna@contoso.example.');
    expect(answer.status).toBe(202);
    // The routing rule for contoso.example takes the recipient written with a trailing dot.
    const id = answer.body.id as string;
    let route: string | null | undefined;
    await until(async () => Boolean((route = (await relay.relay.store.get(id))?.recipientDetails[0]?.route)), 10_000, () => `${id} was never routed`);
    expect(route).toBe('inside');
    expect(outside.messages).toEqual([]);
  });

  it('refuse a sender outside them, and take an exact sender in another spelling', async () => {
    const other = await session(v6, '::1', 'scan@other.example');
    expect(other.mail).toMatch(/^550 5\.7\.1 Sender <scan@other\.example> is not allowed for app device/);
    other.talk.close();
    const exact = await session(v6, '::1', 'SCAN@contoso.EXAMPLE');
    expect(exact.mail).toMatch(/^250 /);
    exact.talk.close();
    expect((await post(deviceToken.token, 'scan@contoso.example.', 'anna@contoso.example')).status).toBe(202);
  });
});
