/**
 * Password guessing at SMTP AUTH, over real connections from several loopback addresses
 * (127.0.0.x): attempts are counted before their password is checked, so ten at once get no more
 * checks than protection.authFailures.max; one app's right password does not reset the count of
 * guesses at another's; a guessed-at user is slowed down, never locked out, and not at all at an
 * address it signed in from; checks at once are capped per address and per node; a user name
 * that is not an app's is logged masked. (Which address an attempt counts against: client-key.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maskSecret } from '../../src/config/secrets.js';
import { hashPassword, passwordChecks } from '../../src/policy/passwords.js';
import { registerSecrets } from '../secrets/leak-sink.js';
import { SmtpTalk } from '../helpers/smtp-talk.js';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';

const plain = { port: 0, tls: { mode: 'none' }, trustedPlaintext: true };
const APPS = ['race', 'app-a', 'app-b', 'scanner', 'busy'] as const;

let relay: TestRelay;
/** The same apps, at most one check at once per address, two more waiting. */
let narrow: TestRelay;

beforeAll(async () => {
  const hashes = await Promise.all(APPS.map((app) => hashPassword(`${app}-secret`)));
  const apps = Object.fromEntries(APPS.map((app, i) => [app, { auth: { passwordHash: hashes[i] } }]));
  relay = await startTestRelay({
    listeners: { v4: { host: '127.0.0.1', ...plain } },
    apps,
    protection: { authFailures: { max: 3, window: '10m', coolDown: '10m', perUser: 3, slowDown: '1m' }, authAtOnce: { perAddress: 10, perUser: 10, waiting: 10 } },
  });
  narrow = await startTestRelay({
    listeners: { v4: { host: '127.0.0.1', ...plain } },
    apps,
    protection: { authAtOnce: { perAddress: 1, perUser: 10, waiting: 2 } },
  });
}, 60_000);
afterAll(async () => {
  await relay?.stop();
  await narrow?.stop();
});

const portOf = (r: TestRelay) => r.relay.listeners.get('v4')!.port;

/** A connection from `from`, greeted and past EHLO; or the greeting when it refuses. */
async function open(from: string, r = relay): Promise<SmtpTalk | string> {
  const talk = await SmtpTalk.open(portOf(r), '127.0.0.1', from);
  const greeting = await talk.reply();
  if (!greeting.startsWith('220')) {
    talk.close();
    return greeting;
  }
  await talk.command('EHLO app.example');
  return talk;
}

async function auth(talk: SmtpTalk | string, user: string, password: string): Promise<string> {
  if (typeof talk === 'string') return talk;
  try {
    return await talk.command(`AUTH PLAIN ${Buffer.from(`\0${user}\0${password}`).toString('base64')}`, 20_000);
  } finally {
    talk.close();
  }
}

const authFrom = async (from: string, user: string, password: string, r = relay) => auth(await open(from, r), user, password);
const WRONG = '535 5.7.8 Authentication credentials invalid';

describe('AUTH attempts racing each other', () => {
  it('checks no more than max (3) of ten wrong passwords sent at once from one address; the rest are turned away, and the address cools down', async () => {
    const talks = await Promise.all(Array.from({ length: 10 }, () => open('127.0.0.2')));
    const before = passwordChecks.ofKnownUsers;
    const replies = await Promise.all(talks.map((talk, i) => auth(talk, 'race', `guess-${i}`)));
    expect(passwordChecks.ofKnownUsers - before).toBe(3);
    for (const reply of replies) expect(reply).toMatch(/^(535 5\.7\.8|421 4\.7\.0|454 4\.7\.0) /);
    expect(replies.filter((r) => r.startsWith('421 4.7.0 Too many failed AUTH attempts from 127.0.0.2'))).not.toHaveLength(0);
    expect(await authFrom('127.0.0.2', 'race', 'race-secret')).toMatch(/^421 4\.7\.0 Too many failed AUTH attempts from 127\.0\.0\.2; try again after /);
  });
});

describe("one app's right password", () => {
  it("does not reset the count of guesses at another app's password from the same address", async () => {
    expect(await authFrom('127.0.0.3', 'app-b', 'guess-1')).toBe(WRONG);
    expect(await authFrom('127.0.0.3', 'app-b', 'guess-2')).toBe(WRONG);
    expect(await authFrom('127.0.0.3', 'app-a', 'app-a-secret')).toMatch(/^235 /);
    expect(await authFrom('127.0.0.3', 'app-b', 'guess-3')).toMatch(/^421 4\.7\.0 Too many failed AUTH attempts from 127\.0\.0\.3; try again after /);
  });
});

describe('a guessed-at user', () => {
  it('is slowed down from other addresses, never locked out, and signs in at once from an address it signed in from', async () => {
    expect(await authFrom('127.0.0.4', 'scanner', 'scanner-secret')).toMatch(/^235 /);
    // Three guesses from three addresses: none of them cools down, but the user is slowed down.
    for (const from of ['127.0.0.5', '127.0.0.6', '127.0.0.7']) expect(await authFrom(from, 'scanner', 'guess')).toBe(WRONG);
    expect(await authFrom('127.0.0.8', 'SCANNER', 'guess')).toMatch(/^454 4\.7\.0 Too many failed AUTH attempts for this user; try again after /);
    expect(await authFrom('127.0.0.8', 'scanner', 'scanner-secret')).toMatch(/^454 4\.7\.0 Too many failed AUTH attempts for this user; try again after /);
    // Its own address is not slowed down; its sign-in ends the slow-down everywhere.
    expect(await authFrom('127.0.0.4', 'scanner', 'scanner-secret')).toMatch(/^235 /);
    expect(await authFrom('127.0.0.8', 'scanner', 'scanner-secret')).toMatch(/^235 /);
  });
});

describe('checks at once', () => {
  it('checks one AUTH at a time from an address (authAtOnce.perAddress 1), lets two more wait, and turns the rest away with 454 4.7.0', async () => {
    const talks = await Promise.all(Array.from({ length: 6 }, () => open('127.0.0.10', narrow)));
    passwordChecks.mostAtOnce = passwordChecks.running;
    const replies = await Promise.all(talks.map((talk) => auth(talk, 'busy', 'busy-secret')));
    expect(replies.filter((r) => r.startsWith('235 '))).toHaveLength(3);
    expect(replies.filter((r) => r === '454 4.7.0 Too many AUTH attempts at once from 127.0.0.10; try again in a moment')).toHaveLength(3);
    expect(passwordChecks.mostAtOnce).toBe(1);
  });

  it('checks at most two passwords at once on the node, whoever asks; the others wait their turn', async () => {
    const talks = await Promise.all(Array.from({ length: 6 }, (_, i) => open(`127.0.0.${20 + i}`, narrow)));
    passwordChecks.mostAtOnce = passwordChecks.running;
    const replies = await Promise.all(talks.map((talk) => auth(talk, 'busy', 'busy-secret')));
    expect(replies.every((r) => r.startsWith('235 '))).toBe(true);
    expect(passwordChecks.mostAtOnce).toBe(2);
  });
});

describe('the AUTH user in the log', () => {
  it("is an app's user as it is, and anything else masked: it may be a password typed in the wrong field", async () => {
    const typed = 'Tr0ub4dor&3-typed-as-user';
    registerSecrets(typed);
    expect(await authFrom('127.0.0.30', typed, 'guess')).toBe(WRONG);
    expect(await authFrom('127.0.0.30', 'busy', 'guess')).toBe(WRONG);
    const failed = relay.logs.filter((l) => l.msg === 'AUTH failed' && l.client === '127.0.0.30');
    expect(failed.map((l) => l.user)).toEqual([maskSecret(typed), 'busy']);
    expect(JSON.stringify(relay.logs)).not.toContain(typed);
  });
});
