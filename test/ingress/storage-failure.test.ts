/**
 * "250" is a promise: when the store cannot commit (the database locked by someone else,
 * the spool unwritable), the client hears 452 4.3.1 and nothing is half stored.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { SmtpTalk } from '../helpers/smtp-talk.js';
import { spawnRelay, startTestRelay, tempDir, writeConfig, type TestRelay } from '../helpers/relay.js';

let relay: TestRelay | undefined;
afterEach(async () => {
  await relay?.stop();
  relay = undefined;
});

/** `timeoutMs` for every reply: a relay waiting on a locked SQLite database is slow to answer anything. */
async function send(port: number, body: string, timeoutMs?: number): Promise<string> {
  const talk = await SmtpTalk.open(port);
  await talk.reply(timeoutMs);
  await talk.command('EHLO app.example', timeoutMs);
  await talk.command('MAIL FROM:<app@contoso.example>', timeoutMs);
  await talk.command('RCPT TO:<anna@contoso.example>', timeoutMs);
  await talk.command('DATA', timeoutMs);
  const reply = await talk.command(`Subject: t\r\n\r\n${body}\r\n.`, timeoutMs);
  talk.close();
  return reply;
}

describe('when the store cannot commit', () => {
  it('answers 452 4.3.1 if the spool cannot be written, keeps nothing, and accepts again once it can', async () => {
    relay = await startTestRelay({ store: { inlineLimit: '1KB' }, listeners: { default: { host: '127.0.0.1', port: 0, tls: { mode: 'none' } } } });
    const spool = join(relay.dir, 'data/spool');
    rmSync(spool, { recursive: true, force: true });
    writeFileSync(spool, 'not a folder');
    const big = 'x'.repeat(70).concat('\r\n').repeat(100);
    expect(await send(relay.port, big)).toBe('452 4.3.1 Insufficient system storage: the message could not be stored; try again later');
    expect(await relay.relay.store.list({ limit: 10 })).toEqual([]);
    rmSync(spool);
    expect(await send(relay.port, big)).toMatch(/^250 2\.0\.0 Ok: queued as/);
  });

  it('answers 452 4.3.1 if the database stays locked, and keeps nothing', async () => {
    // The relay runs as its own process: SQLite waits for a lock synchronously.
    const dir = tempDir();
    writeConfig(dir, { listeners: { default: { host: '127.0.0.1', port: 0, tls: { mode: 'none' } } }, routes: { keep: { transport: 'capture' } } });
    const child = await spawnRelay(dir);
    const other = new Database(join(dir, 'data/relay365.db'));
    try {
      other.exec('BEGIN EXCLUSIVE');
      expect(await send(child.port, 'hello', 15_000)).toMatch(/^452 4\.3\.1 /);
      other.exec('ROLLBACK');
      expect(other.prepare('SELECT count(*) AS n FROM messages').get()).toEqual({ n: 0 });
      expect(await send(child.port, 'hello again', 15_000)).toMatch(/^250 2\.0\.0 /);
    } finally {
      if (other.inTransaction) other.exec('ROLLBACK');
      other.close();
      child.child.kill('SIGKILL');
    }
  }, 30_000);
});
