/**
 * App passwords at SMTP AUTH: hashes made before the cost went up still let their app in, and
 * an unknown user name is checked against a dummy hash of the current cost (the same work as a
 * known one), seen through the count of password checks this process made.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword, passwordChecks } from '../../src/policy/passwords.js';
import { SmtpTalk } from '../helpers/smtp-talk.js';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';

/** `old-secret` hashed with N = 2^14, as `relay365 app passwd` made hashes before. */
const OLD_HASH = 'scrypt$16384$8$1$cmVsYXkzNjUtb2xkLXNhbA==$LJQD5Dsz1HL906xJhSfOqSbT6FBpoRClJn5cqN1gI18=';

let relay: TestRelay;

beforeAll(async () => {
  relay = await startTestRelay({
    listeners: { default: { host: '127.0.0.1', port: 0, tls: { mode: 'none' }, trustedPlaintext: true } },
    apps: { legacy: { auth: { passwordHash: OLD_HASH } }, erp: { auth: { passwordHash: await hashPassword('erp-secret') } } },
    protection: { authFailures: { max: 100 } },
  });
});
afterAll(async () => {
  await relay.stop();
});

async function authenticate(user: string, password: string): Promise<string> {
  const talk = await SmtpTalk.open(relay.port);
  try {
    await talk.reply();
    await talk.command('EHLO app.example');
    return await talk.command(`AUTH PLAIN ${Buffer.from(`\0${user}\0${password}`).toString('base64')}`);
  } finally {
    talk.close();
  }
}

describe('password hashes', () => {
  it('makes new hashes with N = 2^17, r = 8, p = 1', async () => {
    expect(await hashPassword('x')).toMatch(/^scrypt\$131072\$8\$1\$/);
  });

  it('lets an app in whose hash was made with the old cost (N = 2^14), and says at start to make a new one', async () => {
    expect(await authenticate('legacy', 'old-secret')).toMatch(/^235 /);
    expect(await authenticate('legacy', 'not-it')).toBe('535 5.7.8 Authentication credentials invalid');
    const warnings = relay.logs.filter((l) => /passwordHash was made with less scrypt work/.test(String(l.msg)));
    expect(warnings.map((l) => l.app)).toEqual(['legacy']);
    expect(String(warnings[0]!.msg)).toContain('relay365 app passwd legacy');
  });
});

describe('an unknown AUTH user', () => {
  it('costs a check against the dummy hash, as a known user costs one against its own', async () => {
    const before = { ...passwordChecks };
    expect(await authenticate('nobody-here', 'guess')).toBe('535 5.7.8 Authentication credentials invalid');
    expect(passwordChecks.ofUnknownUsers - before.ofUnknownUsers).toBe(1);
    expect(passwordChecks.ofKnownUsers - before.ofKnownUsers).toBe(0);
    expect(await authenticate('erp', 'guess')).toBe('535 5.7.8 Authentication credentials invalid');
    expect(passwordChecks.ofUnknownUsers - before.ofUnknownUsers).toBe(1);
    expect(passwordChecks.ofKnownUsers - before.ofKnownUsers).toBe(1);
  });
});
