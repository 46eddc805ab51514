/**
 * AUTH happens only where the docs promise it: on a TLS session, or in plaintext on a
 * trustedPlaintext listener (loopback only). A plaintext listener that is not trusted never
 * takes a password, whatever smtp-server would allow, and a config that contradicts itself
 * stops start-up. Checked with swaks (a real client that sends AUTH PLAIN) and raw lines.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/policy/passwords.js';
import { registerSecrets } from '../secrets/leak-sink.js';
import { startSink, type Sink } from '../helpers/sink.js';
import { SmtpTalk } from '../helpers/smtp-talk.js';
import { routeTo, startTestRelay, type TestRelay } from '../helpers/relay.js';

const PASSWORD = 'erp-door-secret';
registerSecrets(PASSWORD);
const PLAIN = Buffer.from(`\0erp\0${PASSWORD}`).toString('base64');

let sink: Sink;
let relay: TestRelay;
const port = (name: string) => relay.relay.listeners.get(name)!.port;

beforeAll(async () => {
  sink = await startSink();
  relay = await startTestRelay({
    listeners: {
      plain: { host: '127.0.0.1', port: 0, tls: { mode: 'none' } },
      starttls: { host: '127.0.0.1', port: 0, tls: { mode: 'starttls' } },
      trusted: { host: '127.0.0.1', port: 0, tls: { mode: 'none' }, trustedPlaintext: true },
    },
    apps: {
      erp: { auth: { passwordHash: await hashPassword(PASSWORD) } },
      // A network app (TEST-NET-1, never contacted) makes the plaintext listener usable at all.
      scanner: { networks: ['192.0.2.0/24'] },
    },
    routes: { upstream: routeTo(sink.port) },
  });
});
afterAll(async () => {
  await relay?.stop();
  await sink?.stop();
});

async function greeted(listener: string) {
  const talk = await SmtpTalk.open(port(listener));
  await talk.reply();
  const ehlo = await talk.command('EHLO app.example');
  return { talk, ehlo };
}

/** swaks's whole conversation and its exit code (non-zero when it could not send). */
async function swaks(args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout } = await promisify(execFile)('swaks', ['--from', 'erp@contoso.example', '--to', 'ops@contoso.example', '--header', 'Subject: door', ...args]);
    return { code: 0, out: stdout };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: `${e.stdout}\n${e.stderr}` };
  }
}

describe('a plaintext listener (tls.mode: none) that is not trustedPlaintext', () => {
  it('does not advertise AUTH and answers it 503 5.5.1, as Postfix does with smtpd_tls_auth_only', async () => {
    const { talk, ehlo } = await greeted('plain');
    expect(ehlo).not.toMatch(/AUTH/);
    expect(await talk.command(`AUTH PLAIN ${PLAIN}`)).toBe('503 5.5.1 Error: authentication not enabled');
    expect(await talk.command('AUTH LOGIN')).toBe('503 5.5.1 Error: authentication not enabled');
    expect(await talk.command('MAIL FROM:<erp@contoso.example>')).toMatch(/^530 5\.7\.0 Authentication required/);
    talk.close();
  });

  it('does not start TLS either (smtp-server would, with the test key it ships)', async () => {
    const { talk, ehlo } = await greeted('plain');
    expect(ehlo).not.toMatch(/STARTTLS/);
    expect(await talk.command('STARTTLS')).toMatch(/^5\d\d /);
    expect(await talk.command('NOOP')).toMatch(/^250 /); // still plaintext, still talking
    talk.close();
  });

  it.skipIf(!existsSync('/usr/bin/swaks'))('never answers 235 to swaks sending AUTH PLAIN with a right password', async () => {
    const result = await swaks(['--server', `127.0.0.1:${port('plain')}`, '--auth', 'PLAIN', '--auth-user', 'erp', '--auth-password', PASSWORD]);
    expect(result.out).not.toMatch(/<[-~] +235/);
    expect(result.out).not.toMatch(/queued as/);
    expect(result.code).not.toBe(0);
  });
});

describe('a STARTTLS listener', () => {
  it('answers AUTH before STARTTLS with 530 5.7.0 and takes it after', async () => {
    const { talk } = await greeted('starttls');
    expect(await talk.command(`AUTH PLAIN ${PLAIN}`)).toBe('530 5.7.0 Must issue a STARTTLS command first');
    talk.close();
  });

  it.skipIf(!existsSync('/usr/bin/swaks'))('refuses swaks\'s AUTH PLAIN without STARTTLS, and takes it with STARTTLS', async () => {
    const server = ['--server', `127.0.0.1:${port('starttls')}`, '--auth', 'PLAIN', '--auth-user', 'erp', '--auth-password', PASSWORD];
    const clear = await swaks(server);
    expect(clear.out).toMatch(/<\*\* +530 5\.7\.0 Must issue a STARTTLS command first/);
    expect(clear.out).not.toMatch(/<[-~] +235/);
    const tls = await swaks([...server, '--tls']);
    expect(tls.out).toMatch(/<~ +235 /);
    expect(tls.out).toMatch(/<~ +250 2\.0\.0 Ok: queued as [0-9a-z]{18}/);
    expect(tls.code).toBe(0);
  });
});

describe('a trustedPlaintext listener on loopback', () => {
  it.skipIf(!existsSync('/usr/bin/swaks'))('takes swaks\'s AUTH PLAIN without TLS', async () => {
    const result = await swaks(['--server', `127.0.0.1:${port('trusted')}`, '--auth', 'PLAIN', '--auth-user', 'erp', '--auth-password', PASSWORD]);
    expect(result.out).toMatch(/<- +235 /);
    expect(result.out).toMatch(/<- +250 2\.0\.0 Ok: queued as/);
  });
});

describe('a listener where no app logs in', () => {
  it('answers AUTH 503 5.5.1 (RFC 4954), not 500', async () => {
    const quiet = await startTestRelay({ apps: { scanner: { networks: ['127.0.0.1'] } } });
    try {
      const talk = await SmtpTalk.open(quiet.port);
      await talk.reply();
      expect(await talk.command('EHLO app.example')).not.toMatch(/AUTH/);
      expect(await talk.command(`AUTH PLAIN ${PLAIN}`)).toBe('503 5.5.1 Error: authentication not enabled');
      talk.close();
    } finally {
      await quiet.stop();
    }
  });
});

describe('listener settings that contradict each other', () => {
  it('refuses trustedPlaintext on an implicit-TLS listener, naming the key', async () => {
    await expect(startTestRelay({ listeners: { smtps: { host: '127.0.0.1', port: 0, tls: { mode: 'implicit' }, trustedPlaintext: true } } })).rejects.toThrow(
      /listeners\.smtps\.trustedPlaintext: nothing is plaintext on a listener with tls\.mode: implicit; remove trustedPlaintext/,
    );
  });

  it('refuses a plaintext listener through which nobody could send (every app must AUTH), saying what to set', async () => {
    await expect(
      startTestRelay({
        listeners: { plain: { host: '127.0.0.1', port: 0, tls: { mode: 'none' } } },
        apps: { erp: { auth: { passwordHash: await hashPassword(PASSWORD) } } },
      }),
    ).rejects.toThrow(/listeners\.plain\.tls\.mode: none refuses AUTH .* set listeners\.plain\.tls\.mode: starttls, or listeners\.plain\.trustedPlaintext: true \(on 127\.0\.0\.1 or ::1 only\), or give an app networks/);
  });
});
