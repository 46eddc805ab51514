/**
 * The SMTP door, as scenarios: a line of client input, the reply expected. Includes the
 * guard for the greeting delay (smtp-server's 100 ms early-talker wait must stay off on
 * relay365's listeners unless configured) and the enhanced status codes relay365 sends.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SmtpTalk } from '../helpers/smtp-talk.js';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';

describe('SMTP listener protocol', () => {
  let relay: TestRelay;
  beforeAll(async () => {
    relay = await startTestRelay({
      listeners: { default: { host: '127.0.0.1', port: 0, maxMessageSize: '10KB', maxRecipients: 3, tls: { mode: 'starttls' } } },
    });
  });
  afterAll(() => relay.stop());

  it('greets at once: a client that speaks before the greeting is not refused as an early talker', async () => {
    const talk = await SmtpTalk.open(relay.port);
    talk.write('EHLO early.example\r\n');
    expect(await talk.reply()).toMatch(/^220 relay\.test ESMTP relay365 ready$/);
    const ehlo = await talk.reply();
    expect(ehlo).toMatch(/^250-relay\.test/);
    expect(ehlo).not.toMatch(/too soon/i);
    talk.close();
  });

  it('advertises what applications rely on', async () => {
    const talk = await SmtpTalk.open(relay.port);
    await talk.reply();
    const ehlo = await talk.command('EHLO app.example');
    for (const feature of ['PIPELINING', '8BITMIME', 'SMTPUTF8', 'ENHANCEDSTATUSCODES', 'STARTTLS', 'SIZE 10240']) {
      expect(ehlo.split('\n').map((l) => l.slice(4))).toContain(feature);
    }
    expect(ehlo).not.toMatch(/AUTH/);
    talk.close();
  });

  it('answers a committed message with 250 2.0.0 and its queue id', async () => {
    const talk = await SmtpTalk.open(relay.port);
    await talk.reply();
    await talk.command('EHLO app.example');
    expect(await talk.command('MAIL FROM:<app@example.com>')).toBe('250 2.1.0 Accepted');
    expect(await talk.command('RCPT TO:<user@example.com>')).toBe('250 2.1.5 Accepted');
    expect(await talk.command('DATA')).toMatch(/^354 /);
    const reply = await talk.command('Subject: hi\r\n\r\nhello\r\n.');
    expect(reply).toMatch(/^250 2\.0\.0 Ok: queued as [0-9a-z]{18}$/);
    const id = reply.slice(-18);
    const stored = await relay.relay.store.get(id);
    expect(stored?.mailFrom).toBe('app@example.com');
    expect(stored?.recipients).toEqual(['user@example.com']);
    talk.close();
  });

  it('refuses a message larger than the SIZE limit with 552 5.3.4 and keeps nothing', async () => {
    const before = (await relay.relay.store.list({ limit: 1000 })).length;
    const talk = await SmtpTalk.open(relay.port);
    await talk.reply();
    await talk.command('EHLO app.example');
    expect(await talk.command('MAIL FROM:<app@example.com> SIZE=20000')).toMatch(/^552 5\.3\.4 /);
    await talk.command('MAIL FROM:<app@example.com>');
    await talk.command('RCPT TO:<user@example.com>');
    await talk.command('DATA');
    const reply = await talk.command(`Subject: big\r\n\r\n${'x'.repeat(76)}\r\n`.repeat(200) + '.');
    expect(reply).toMatch(/^552 5\.3\.4 /);
    expect((await relay.relay.store.list({ limit: 1000 })).length).toBe(before);
    talk.close();
  });

  it('limits recipients per message with 452 4.5.3', async () => {
    const talk = await SmtpTalk.open(relay.port);
    await talk.reply();
    await talk.command('EHLO app.example');
    await talk.command('MAIL FROM:<app@example.com>');
    for (const n of [1, 2, 3]) expect(await talk.command(`RCPT TO:<u${n}@example.com>`)).toMatch(/^250 /);
    expect(await talk.command('RCPT TO:<u4@example.com>')).toBe(
      '452 4.5.3 Too many recipients: at most 3 per message; send the rest in another message',
    );
    talk.close();
  });
});

describe('greeting delay when configured', () => {
  it('keeps early-talker detection for a listener that asks for it', async () => {
    const relay = await startTestRelay({ listeners: { default: { host: '127.0.0.1', port: 0, greetingDelay: '300ms', tls: { mode: 'none' } } } });
    try {
      const talk = await SmtpTalk.open(relay.port);
      talk.write('EHLO early.example\r\n');
      expect(await talk.reply()).toMatch(/^421 .*You talk too soon/);
      talk.close();
    } finally {
      await relay.stop();
    }
  });
});

describe('connection limits', () => {
  it('refuses connections beyond maxConnections with 421 and disconnects idle clients', async () => {
    const relay = await startTestRelay({
      listeners: { default: { host: '127.0.0.1', port: 0, maxConnections: 2, idleTimeout: '400ms', tls: { mode: 'none' } } },
    });
    try {
      const first = await SmtpTalk.open(relay.port);
      const second = await SmtpTalk.open(relay.port);
      expect(await first.reply()).toMatch(/^220 /);
      expect(await second.reply()).toMatch(/^220 /);
      const third = await SmtpTalk.open(relay.port);
      expect(await third.reply()).toBe('421 4.7.0 relay.test Too many connected clients, try again in a moment');
      third.close();
      expect(await first.reply(2000)).toMatch(/^421 /); // idle for longer than idleTimeout
      second.close();
    } finally {
      await relay.stop();
    }
  });
});
