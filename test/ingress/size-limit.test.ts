/**
 * The size limit is kept while the message streams in, not after it was stored: a message far
 * over the limit (the listener's or the app's, whichever is smaller) never puts more than the
 * limit into the store's body writer — so neither the spool folder nor PostgreSQL's chunks
 * fill up —, the rest of DATA is read and dropped, and the client gets 552 5.3.4 naming the
 * limit and its key, with the session still usable. A client that declares the size at MAIL FROM
 * (SIZE=, RFC 1870) is told the same before it sends a byte of the message.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Store } from '../../src/queue/store.js';
import { freshDatabase } from '../helpers/postgres.js';
import { SmtpTalk } from '../helpers/smtp-talk.js';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';

let relay: TestRelay | undefined;
afterEach(async () => {
  await relay?.stop();
  relay = undefined;
});

const KB = 1024;
const LINE = `${'x'.repeat(1022)}\r\n`; // 1 KB a line
/** The Message-ID line relay365 adds at the door to a message that has none (src/mime/message-id.ts). */
const ADDED = 'Message-ID: <01kbm3x0000000000000@relay.test>\r\n'.length;

/** Counts the bytes the relay writes into the store's body writers (the real ones, observed). */
function bodyBytes(store: Store): { bytes: number } {
  const seen = { bytes: 0 };
  const create = store.createBodyWriter.bind(store);
  store.createBodyWriter = (id) => {
    const writer = create(id);
    const write = writer.write.bind(writer) as (chunk: Buffer, ...rest: unknown[]) => boolean;
    writer.write = ((chunk: Buffer, ...rest: unknown[]) => {
      seen.bytes += chunk.length;
      return write(chunk, ...rest);
    }) as typeof writer.write;
    return writer;
  };
  return seen;
}

/** Sends a message of `kb` KB over `talk` (already greeted) and returns the reply to its end. */
async function sendLarge(talk: SmtpTalk, kb: number): Promise<string> {
  expect(await talk.command('MAIL FROM:<app@contoso.example>')).toMatch(/^250 /);
  expect(await talk.command('RCPT TO:<anna@contoso.example>')).toMatch(/^250 /);
  expect(await talk.command('DATA')).toMatch(/^354 /);
  talk.write('Subject: far too large\r\n\r\n');
  const block = LINE.repeat(256); // 256 KB at a time
  for (let sent = 0; sent < kb; sent += 256) talk.write(block);
  return talk.command('.', 30_000);
}

async function greeted(port: number, host = '127.0.0.1'): Promise<SmtpTalk> {
  const talk = await SmtpTalk.open(port, host);
  await talk.reply();
  await talk.command('EHLO app.example');
  return talk;
}

function spoolFiles(dir: string): string[] {
  const spool = join(dir, 'data/spool');
  if (!existsSync(spool)) return [];
  return readdirSync(spool, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name);
}

describe('a message over the size limit (SQLite, spooled bodies)', () => {
  it('stops at the listener\'s limit: nothing past it reaches the spool, 552 5.3.4 names the key, and the session goes on', async () => {
    relay = await startTestRelay({
      store: { inlineLimit: '1KB' },
      listeners: { default: { host: '127.0.0.1', port: 0, tls: { mode: 'none' }, maxMessageSize: '64KB' } },
    });
    const seen = bodyBytes(relay.relay.store);
    const talk = await greeted(relay.port);
    expect(await sendLarge(talk, 4096)).toBe('552 5.3.4 Message too big: 64 KB is the limit of listener "default" (listeners.default.maxMessageSize)');
    expect(seen.bytes).toBeLessThanOrEqual(64 * KB + ADDED);
    expect(spoolFiles(relay.dir)).toEqual([]);
    expect(await relay.relay.store.list({ limit: 10 })).toEqual([]);
    // DATA was read to its end: the same session can send the next message.
    expect(await talk.command('MAIL FROM:<app@contoso.example>')).toBe('250 2.1.0 Accepted');
    talk.close();
  });

  it('stops at the app\'s limit when it is smaller, naming apps.<app>.limits.maxMessageSize', async () => {
    relay = await startTestRelay({
      store: { inlineLimit: '1KB' },
      listeners: { default: { host: '127.0.0.1', port: 0, tls: { mode: 'none' }, maxMessageSize: '64KB' } },
      apps: { scanner: { networks: ['127.0.0.1'], limits: { maxMessageSize: '10KB' } } },
    });
    const seen = bodyBytes(relay.relay.store);
    const talk = await greeted(relay.port);
    expect(await sendLarge(talk, 2048)).toBe('552 5.3.4 Message too big: 10 KB is the limit of app "scanner" (apps.scanner.limits.maxMessageSize)');
    expect(seen.bytes).toBeLessThanOrEqual(10 * KB + ADDED);
    expect(spoolFiles(relay.dir)).toEqual([]);
    talk.close();
  });
});

describe('a message over the size limit (PostgreSQL, chunked bodies)', () => {
  it('never writes a chunk of it into the database', async () => {
    const url = await freshDatabase('size');
    relay = await startTestRelay({
      store: { url, inlineLimit: '1KB' },
      listeners: { default: { host: '127.0.0.1', port: 0, tls: { mode: 'none' }, maxMessageSize: '64KB' } },
    });
    const seen = bodyBytes(relay.relay.store);
    const talk = await greeted(relay.port);
    expect(await sendLarge(talk, 4096)).toBe('552 5.3.4 Message too big: 64 KB is the limit of listener "default" (listeners.default.maxMessageSize)');
    expect(seen.bytes).toBeLessThanOrEqual(64 * KB + ADDED);
    expect(await relay.relay.store.list({ limit: 10 })).toEqual([]);
    talk.close();
  });
});

describe('a message declared too large at MAIL FROM (SIZE=)', () => {
  it('is refused in relay365\'s words, the listener\'s limit (35 MB by default) in MB and its key, before DATA', async () => {
    relay = await startTestRelay({ listeners: { default: { host: '127.0.0.1', port: 0, tls: { mode: 'none' } } } });
    const talk = await greeted(relay.port);
    expect(await talk.command(`MAIL FROM:<app@contoso.example> SIZE=${35 * 1024 * 1024 + 1}`)).toBe('552 5.3.4 Message too big: 35 MB is the limit of listener "default" (listeners.default.maxMessageSize)');
    // At the limit it is taken, and the session goes on; a SIZE that is no number is still smtp-server's 501.
    expect(await talk.command(`MAIL FROM:<app@contoso.example> SIZE=${35 * 1024 * 1024}`)).toBe('250 2.1.0 Accepted');
    expect(await talk.command('RSET')).toMatch(/^250 /);
    expect(await talk.command('MAIL FROM:<app@contoso.example> SIZE=lots')).toMatch(/^501 .*Bad message size syntax/);
    talk.close();
  });

  it('names the app\'s limit when it is the smaller one', async () => {
    relay = await startTestRelay({
      listeners: { default: { host: '127.0.0.1', port: 0, tls: { mode: 'none' }, maxMessageSize: '64KB' } },
      apps: { erp: { networks: ['127.0.0.1'], limits: { maxMessageSize: '10KB' } } },
    });
    const talk = await greeted(relay.port);
    // Over both limits, and over the app's only: the app's limit is the one that counts.
    expect(await talk.command(`MAIL FROM:<app@contoso.example> SIZE=${100 * KB}`)).toBe('552 5.3.4 Message too big: 10 KB is the limit of app "erp" (apps.erp.limits.maxMessageSize)');
    expect(await talk.command(`MAIL FROM:<app@contoso.example> SIZE=${20 * KB}`)).toBe('552 5.3.4 Message too big: 10 KB is the limit of app "erp" (apps.erp.limits.maxMessageSize)');
    expect(await talk.command(`MAIL FROM:<app@contoso.example> SIZE=${10 * KB}`)).toBe('250 2.1.0 Accepted');
    talk.close();
  });
});
