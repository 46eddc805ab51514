/**
 * A client that is not (yet) an app — not authenticated, its address in no app's networks —
 * cannot hold a session: it gets listeners.<name>.unauthenticated.maxCommands commands and
 * .timeout of time, then 421 4.7.0 and the connection is closed. An app (by AUTH or by its
 * address) is not held to either.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/policy/passwords.js';
import { registerSecrets } from '../secrets/leak-sink.js';
import { SmtpTalk } from '../helpers/smtp-talk.js';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';

const PASSWORD = 'cron-idle-secret';
registerSecrets(PASSWORD);

let relay: TestRelay;
const port = (name: string) => relay.relay.listeners.get(name)!.port;
const few = { maxCommands: 3, timeout: '1m' };

beforeAll(async () => {
  relay = await startTestRelay({
    listeners: {
      few: { host: '127.0.0.1', port: 0, unauthenticated: few },
      brief: { host: '127.0.0.1', port: 0, unauthenticated: { timeout: '300ms' } },
      trusted: { host: '127.0.0.1', port: 0, tls: { mode: 'none' }, trustedPlaintext: true, unauthenticated: few },
      v6: { host: '::1', port: 0, unauthenticated: few },
    },
    apps: {
      cron: { auth: { passwordHash: await hashPassword(PASSWORD) } },
      device: { networks: ['::1'] },
    },
  });
});
afterAll(() => relay?.stop());

async function greeted(listener: string, host = '127.0.0.1') {
  const talk = await SmtpTalk.open(port(listener), host);
  expect(await talk.reply()).toMatch(/^220 /);
  return talk;
}

describe('a client that is not (yet) an app', () => {
  it('gets maxCommands commands, then 421 4.7.0 and the connection closes', async () => {
    const talk = await greeted('few');
    for (const command of ['EHLO idle.example', 'NOOP', 'NOOP']) expect(await talk.command(command)).toMatch(/^250[ -]/);
    expect(await talk.command('NOOP')).toBe('421 4.7.0 relay.test Too many commands without authentication (listeners.few.unauthenticated.maxCommands is 3); closing the connection');
    await expect(talk.reply()).rejects.toThrow(/connection closed/);
  });

  it('gets timeout to become an app, then 421 4.7.0 and the connection closes', async () => {
    const talk = await greeted('brief');
    expect(await talk.command('EHLO idle.example')).toMatch(/^250-/);
    expect(await talk.reply(10_000)).toBe('421 4.7.0 relay.test No authentication within 0.3 s (listeners.brief.unauthenticated.timeout); closing the connection');
    await expect(talk.reply()).rejects.toThrow(/connection closed/);
  });
});

describe('an app', () => {
  it('is not held to them once authenticated', async () => {
    const talk = await greeted('trusted');
    await talk.command('EHLO cron.example');
    expect(await talk.command(`AUTH PLAIN ${Buffer.from(`\0cron\0${PASSWORD}`).toString('base64')}`)).toMatch(/^235 /);
    for (let i = 0; i < 6; i++) expect(await talk.command('NOOP')).toMatch(/^250 /);
    talk.close();
  });

  it('is not held to them when its address is in an app\'s networks', async () => {
    const talk = await greeted('v6', '::1');
    for (let i = 0; i < 6; i++) expect(await talk.command('NOOP')).toMatch(/^250 /);
    talk.close();
  });
});
