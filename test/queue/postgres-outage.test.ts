/**
 * "250" is a promise on PostgreSQL too: while the database refuses the relay (its connections
 * cut, its role not allowed to log in), clients hear 452 4.3.1 and nothing is kept; once it is
 * back, mail is accepted and delivered again without restarting the relay.
 */
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { SmtpTalk } from '../helpers/smtp-talk.js';
import { routeTo, startTestRelay, type TestRelay } from '../helpers/relay.js';
import { startSink, until, type Sink } from '../helpers/sink.js';
import { freshDatabase } from '../helpers/postgres.js';

let relay: TestRelay | undefined;
let sink: Sink | undefined;
afterEach(async () => {
  await relay?.stop().catch(() => undefined);
  await sink?.stop();
  relay = sink = undefined;
});

async function send(port: number, subject: string): Promise<string> {
  const talk = await SmtpTalk.open(port);
  await talk.reply();
  await talk.command('EHLO app.example');
  await talk.command('MAIL FROM:<app@contoso.example>');
  await talk.command('RCPT TO:<anna@contoso.example>');
  await talk.command('DATA');
  const reply = await talk.command(`Subject: ${subject}\r\n\r\nbody\r\n.`, 20_000);
  talk.close();
  return reply;
}

/** Runs SQL as the superuser; $db and $role stand for the test's database and the relay's role. */
async function admin(url: string, role: string, text: string) {
  const target = new URL(url);
  const client = new pg.Client({ connectionString: Object.assign(new URL(url), { pathname: '/postgres' }).toString() });
  await client.connect();
  try {
    await client.query(text.replaceAll('$db', target.pathname.slice(1)).replaceAll('$role', role));
  } finally {
    await client.end();
  }
}

describe('when PostgreSQL refuses the relay', () => {
  it('answers 452 4.3.1 and keeps nothing, then accepts and delivers again once it is back', async () => {
    sink = await startSink();
    const url = await freshDatabase();
    // The relay signs in as a role of its own, as in production (a superuser would get in regardless).
    const role = `relay_${new URL(url).pathname.slice(1)}`;
    await admin(url, role, 'CREATE ROLE $role LOGIN');
    await admin(url, role, 'ALTER DATABASE $db OWNER TO $role');
    const relayUrl = Object.assign(new URL(url), { username: role }).toString();
    relay = await startTestRelay({ store: relayUrl, listeners: { default: { host: '127.0.0.1', port: 0, tls: { mode: 'none' } } }, routes: { upstream: routeTo(sink.port) } });
    expect(await send(relay.port, 'before')).toMatch(/^250 2\.0\.0 Ok: queued as/);
    await sink.waitForMessages(1);

    await admin(url, role, 'ALTER ROLE $role NOLOGIN');
    await admin(url, role, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '$role'`);
    expect(await send(relay.port, 'during')).toBe('452 4.3.1 Insufficient system storage: the message could not be stored; try again later');

    await admin(url, role, 'ALTER ROLE $role LOGIN');
    expect(await send(relay.port, 'after')).toMatch(/^250 2\.0\.0 Ok: queued as/);
    await sink.waitForMessages(2);
    expect(sink.messages.map((m) => /Subject: (\w+)/.exec(m.raw.toString())?.[1])).toEqual(['before', 'after']);
    // The sink has the message before the relay commits its attempt (lazily, in a group): wait for the commit.
    const states = async () => (await relay!.relay.store.list({ limit: 10 })).map((m) => m.state);
    await until(async () => (await states()).every((s) => s === 'delivered'), 10_000, () => 'not both recorded as delivered');
    expect(await states()).toEqual(['delivered', 'delivered']);
  });
});
