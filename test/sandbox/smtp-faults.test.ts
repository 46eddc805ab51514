// Fault injection on the SMTP endpoints, as a client sees it: an injected transient reply, a
// connection dropped in the middle of DATA, and the endpoint going down and coming back.
import { connect } from 'node:net';
import nodemailer from 'nodemailer';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEMO, httpsRequest, useSandbox } from '../helpers/sandbox.js';
import { appOnlyToken, errorReply, messageData, MS, queuedReply, RawSmtpClient, sendMessage, signedInClient } from '../helpers/sandbox-smtp.js';

const t = useSandbox(); // faults cleared after each test
let token: string;
beforeAll(async () => {
  token = await appOnlyToken(t);
});

const PRX4 = { code: 451, text: '4.7.0 Temporary server error. Please try again later. PRX4' };

/** Resolves true once a TCP connection to the port is refused, false once it is accepted; polls until `want`. */
async function until(port: number, want: 'refused' | 'accepted', timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = await new Promise<'refused' | 'accepted'>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve('accepted');
      });
      socket.once('error', () => resolve('refused'));
    });
    if (state === want) return;
    if (Date.now() > deadline) throw new Error(`port ${port} still ${state} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('injected replies', () => {
  it('answers the next MAIL FROM with an injected 451 4.7.0 ... PRX4, then works again', async () => {
    t.sandbox.faults.add({ kind: 'reply', endpoint: 'submission', stage: 'MAIL', smtp: PRX4 });
    const client = await signedInClient(t, DEMO.relay.address, token);
    expect(await client.command(`MAIL FROM:<${DEMO.relay.address}>`)).toMatch(errorReply('451 4.7.0 Temporary server error. Please try again later. PRX4'));
    expect(await client.command(`MAIL FROM:<${DEMO.relay.address}>`)).toBe('250 2.1.0 Sender OK');
    client.close();
    expect(t.sandbox.events.list({ endpoint: 'submission' }).find((e) => e.status === 451)).toMatchObject({ outcome: 'fault', action: 'MAIL FROM' });
  });

  it('lets nodemailer see a 451 after DATA (injected through the sandbox API) and succeed on retry', async () => {
    const added = await httpsRequest(t, `${t.sandbox.urls.api}/faults`, {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'reply', endpoint: 'submission', stage: 'DATA-END', smtp: PRX4 }),
    });
    expect(added.status).toBeLessThan(300);
    const mailer = nodemailer.createTransport({ host: '127.0.0.1', port: t.sandbox.ports.submission!, requireTLS: true, tls: { ca: t.sandbox.caPem, servername: 'localhost' }, auth: { type: 'OAuth2', user: DEMO.relay.address, accessToken: token }, logger: false });
    const message = { from: DEMO.relay.address, to: DEMO.alice.address, subject: 'retry me', text: 'x' };
    const err = (await mailer.sendMail(message).catch((e: unknown) => e)) as { responseCode?: number; response?: string };
    expect(err.responseCode).toBe(451);
    expect(err.response).toMatch(errorReply('451 4.7.0 Temporary server error. Please try again later. PRX4'));
    expect(t.sandbox.mailboxes.list({ mailbox: DEMO.alice.address }).some((e) => e.subject === 'retry me')).toBe(false);
    expect((await mailer.sendMail(message)).response).toMatch(queuedReply());
    mailer.close();
  });

  it('can replace the greeting with 421 4.3.2 Service not available and close', async () => {
    t.sandbox.faults.add({ kind: 'reply', endpoint: 'submission', stage: 'CONNECT', smtp: { code: 421, text: '4.3.2 Service not available' } });
    const client = await RawSmtpClient.connect(t.sandbox.ports.submission!);
    expect(await client.read()).toMatch(errorReply('421 4.3.2 Service not available'));
    await client.closed;
  });
});

describe('dropped connections', () => {
  it('drops the connection mid-DATA: the client gets no reply and nothing is delivered', async () => {
    t.sandbox.faults.add({ kind: 'drop', endpoint: 'submission' });
    const client = await signedInClient(t, DEMO.relay.address, token);
    expect(await client.command(`MAIL FROM:<${DEMO.relay.address}>`)).toBe('250 2.1.0 Sender OK');
    expect(await client.command(`RCPT TO:<${DEMO.bob.address}>`)).toBe('250 2.1.5 Recipient OK');
    expect(await client.command('DATA')).toBe('354 Start mail input; end with <CRLF>.<CRLF>');
    client.write(`From: ${DEMO.relay.address}\r\nSubject: dropped\r\n\r\nfirst half`);
    await client.closed;
    await expect(client.read(200)).rejects.toThrow(/no SMTP reply/);
    expect(t.sandbox.mailboxes.list({ mailbox: DEMO.bob.address }).some((e) => e.subject === 'dropped')).toBe(false);
    const again = await signedInClient(t, DEMO.relay.address, token);
    expect((await sendMessage(again, { from: DEMO.relay.address, to: [DEMO.bob.address] }, messageData({ From: DEMO.relay.address, Subject: 'not dropped' }))).at(-1)).toMatch(queuedReply());
    again.close();
  });
});

describe('the endpoint going down', () => {
  it('refuses connections while down (refuse) and listens again on the same port when the fault is cleared', async () => {
    const port = t.sandbox.ports.submission!;
    const added = t.sandbox.faults.add({ kind: 'down', endpoint: 'submission', mode: 'refuse' });
    await until(port, 'refused');
    await expect(RawSmtpClient.connect(port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    t.sandbox.faults.remove(added.ok ? added.fault.id : '');
    await until(port, 'accepted');
    const client = await RawSmtpClient.connect(port);
    expect(await client.read()).toMatch(new RegExp(`^220 ${MS.machine}\\.outlook\\.office365\\.com `));
    client.close();
  });

  it('comes back by itself after durationMs', async () => {
    const port = t.sandbox.ports.mx!;
    t.sandbox.faults.add({ kind: 'down', endpoint: 'mx', mode: 'refuse', durationMs: 300 });
    await until(port, 'refused');
    await until(port, 'accepted', 3000);
  });

  it('closes new connections before the greeting (close), and sessions already open at their next command', async () => {
    const open = await signedInClient(t, DEMO.relay.address, token);
    t.sandbox.faults.add({ kind: 'down', endpoint: 'submission', mode: 'close' });
    const client = await RawSmtpClient.connect(t.sandbox.ports.submission!);
    await client.closed;
    await expect(client.read(100)).rejects.toThrow(/no SMTP reply/);
    open.write(`MAIL FROM:<${DEMO.relay.address}>\r\n`);
    await open.closed;
    t.sandbox.faults.clear('submission');
    const back = await RawSmtpClient.connect(t.sandbox.ports.submission!);
    expect(await back.read()).toMatch(/^220 /);
    back.close();
  });
});
