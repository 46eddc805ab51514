/**
 * A route that fails in a way retrying cannot fix is held, with its messages: they are
 * not tried and not failed. Releasing the route (or its next probe succeeding) delivers
 * them; pausing a route holds its mail the same way.
 */
import nodemailer from 'nodemailer';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TlsIdentity } from '../../src/ingress/tls.js';
import { startSink, until, upstreamTlsIdentity, type Sink } from '../helpers/sink.js';
import { fastRetry, routeTo, startTestRelay, type TestRelay } from '../helpers/relay.js';

let identity: TlsIdentity;
let caFile: string;
beforeAll(async () => {
  ({ identity, caFile } = await upstreamTlsIdentity());
});

let relay: TestRelay | undefined;
let sink: Sink | undefined;
afterEach(async () => {
  await relay?.stop();
  await sink?.stop();
  relay = sink = undefined;
});

async function submit(to: string) {
  const client = nodemailer.createTransport({ host: '127.0.0.1', port: relay!.port, tls: { rejectUnauthorized: false }, logger: false });
  try {
    const info = await client.sendMail({ envelope: { from: 'erp@contoso.example', to: [to] }, raw: `Subject: for ${to}\r\n\r\nbody\r\n` });
    return /queued as (\S+)/.exec(String(info.response))?.[1] as string;
  } finally {
    client.close();
  }
}

const state = async (id: string) => (await relay!.relay.store.get(id))!;
const settled = async (id: string, wanted: string) => {
  await until(async () => (await state(id)).state === wanted, 10_000, () => `${id} never became ${wanted}`);
  return state(id);
};

async function brokenRoute(probe = '1h') {
  const auth = { user: 'relay@contoso.example', pass: 'new-password' };
  sink = await startSink({}, { tls: identity, auth });
  relay = await startTestRelay({
    routes: { upstream: routeTo(sink.port, { tls: 'starttls', ca: [caFile], auth: { user: 'relay@contoso.example', pass: 'old-password' } }) },
    delivery: { ...fastRetry, probe },
  });
  return auth;
}

describe('a held route', () => {
  it('holds its messages without trying them, and delivers them all when released', async () => {
    const auth = await brokenRoute();
    const first = await settled(await submit('anna@contoso.example'), 'held');
    expect(first.attempts).toHaveLength(1);
    const status = await relay!.relay.store.routeStatus('upstream');
    expect(status).toMatchObject({ state: 'held', fix: 'Check routes.upstream.auth.user and routes.upstream.auth.pass, then: relay365 route release upstream' });
    expect(status.reason).toMatch(/refused the route's credentials: 535 5\.7\.8/);

    const second = await settled(await submit('ben@contoso.example'), 'held');
    expect(second.attempts).toHaveLength(0); // not tried: the route is held
    expect(second.recipientDetails[0]?.diagnosis).toMatch(/^The route "upstream" is held: .*refused the route's credentials/);
    expect(sink!.messages).toEqual([]);

    auth.pass = 'old-password'; // the admin fixes the upstream side
    await relay!.relay.store.setRouteState('upstream', 'active', Date.now());
    expect(await relay!.relay.store.releaseHeld(Date.now(), 'upstream')).toBe(2);
    relay!.relay.scheduler.wake();
    await sink!.waitForMessages(2);
    await settled(first.id, 'delivered');
    await settled(second.id, 'delivered');
    expect((await relay!.relay.store.routeStatus('upstream')).state).toBe('active');
  });

  it('tries one message now and then, and releases the rest when it works again', async () => {
    const auth = await brokenRoute('1s');
    const ids = [await submit('anna@contoso.example')];
    await settled(ids[0] as string, 'held');
    ids.push(await submit('ben@contoso.example'), await submit('cem@contoso.example'));
    for (const id of ids) await settled(id, 'held');
    auth.pass = 'old-password';
    await sink!.waitForMessages(3, 15_000);
    for (const id of ids) await settled(id, 'delivered');
    expect(relay!.logs.some((l) => l.msg === 'route works again: its held messages are queued')).toBe(true);
  });
});

describe('a paused route', () => {
  it('holds new mail until it is resumed', async () => {
    sink = await startSink();
    relay = await startTestRelay({ routes: { upstream: routeTo(sink.port) }, delivery: fastRetry });
    await relay.relay.store.setRouteState('upstream', 'paused', Date.now(), { reason: 'paused by an admin', fix: 'relay365 route resume upstream' });
    const message = await settled(await submit('anna@contoso.example'), 'held');
    expect(message.recipientDetails[0]?.diagnosis).toMatch(/^The route "upstream" is paused by an admin/);
    await relay.relay.store.setRouteState('upstream', 'active', Date.now());
    await relay.relay.store.releaseHeld(Date.now(), 'upstream');
    relay.relay.scheduler.wake();
    await sink.waitForMessages(1);
  });
});
