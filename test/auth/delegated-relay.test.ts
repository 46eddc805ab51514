// Delegated routes in a running relay: a user signed in once (relay365 auth login, or the module
// API), the relay delivers through smtp-oauth (XOAUTH2 as the user) and graph with the user's
// tokens from the store, rotates the refresh token on every use and keeps it across a restart;
// a revoked sign-in or a Conditional Access block holds the route with "sign in again" and the
// command, and a new sign-in (the CLI, while the relay runs) releases it.
import nodemailer from 'nodemailer';
import { afterEach, describe, expect, it } from 'vitest';
import { fastRetry, startTestRelay, tempDir, type TestRelay } from '../helpers/relay.js';
import { DEMO, redirectFromConsentPage, useSandbox } from '../helpers/sandbox.js';
import { until } from '../helpers/sink.js';
import { received } from '../transports/m365-smtp-helpers.js';
import { ALICE, BOB, browserSignIn, delegatedTenant, freePort, graphRouteConfig, relayPlace, smtpRouteConfig, startCli } from './helpers.js';

// 2-minute access tokens: inside msal-node's 5-minute renewal window, so each new relay (and each
// token after the relay's own 90 s) refreshes — the rotation the tests look at.
const t = useSandbox({ tenant: delegatedTenant(), options: { entra: { accessTokenLifetimeSeconds: 120 } } });
let relay: TestRelay | undefined;
afterEach(async () => {
  await relay?.stop();
  relay = undefined;
});

const config = (routes: Record<string, unknown>) => ({ delivery: { ...fastRetry, probe: '500ms' }, routes, routing: { default: Object.keys(routes)[0] } });

/** Signs alice in for the route into the store of the relay that will run in `dir`. */
async function signedIn(dir: string, routes: Record<string, unknown>, route: string, user = DEMO.alice) {
  const place = relayPlace(dir, config(routes));
  try {
    return await browserSignIn(t, place, route, user);
  } finally {
    await place.close();
  }
}

async function submit(subject: string, from: string = ALICE, to: string = BOB): Promise<string> {
  const client = nodemailer.createTransport({ host: '127.0.0.1', port: relay!.port, secure: false, tls: { rejectUnauthorized: false }, logger: false });
  try {
    const info = await client.sendMail({ envelope: { from, to: [to] }, raw: `From: ${from}\r\nTo: ${to}\r\nSubject: ${subject}\r\n\r\nSent with a delegated sign-in.\r\n` });
    return /queued as (\S+)/.exec(String(info.response))![1]!;
  } finally {
    client.close();
  }
}

async function settled(id: string, state: string, timeoutMs = 15_000) {
  let last = '';
  await until(
    async () => {
      const m = await relay!.relay.store.get(id);
      last = `${m?.state}: ${m?.recipientDetails.map((r) => r.diagnosis).join('; ')}`;
      return m?.state === state;
    },
    timeoutMs,
    () => `message ${id} never became ${state} (${last})`,
  );
  return (await relay!.relay.store.get(id))!;
}

const tokenEvents = (since: number) => t.sandbox.events.list({ since, endpoint: 'token' }).map((e) => `${e.action} ${e.outcome}${e.code ? ` ${e.code}` : ''}`);

describe('delivery with the signed-in user\'s tokens', () => {
  it('smtp-oauth: AUTH XOAUTH2 as alice with her SMTP.Send token', async () => {
    const dir = tempDir();
    const routes = { alice: smtpRouteConfig(t) };
    await signedIn(dir, routes, 'alice');
    const since = t.sandbox.events.lastSeq;
    relay = await startTestRelay(config(routes), dir);
    const id = await submit('delegated smtp-oauth');
    expect((await settled(id, 'delivered')).recipientDetails[0]).toMatchObject({ state: 'delivered', route: 'alice', reply: { code: 250 } });
    expect(await received(t, BOB, 'delegated smtp-oauth')).toContain('Sent with a delegated sign-in.');
    const auth = t.sandbox.events.list({ since, endpoint: 'submission' }).filter((e) => e.action === 'AUTH XOAUTH2');
    expect(auth).toEqual([expect.objectContaining({ status: 235, mailbox: ALICE })]);
    expect(relay.logs.some((l) => l.msg === 'delegated credentials ready: tokens of the signed-in user, kept in the store')).toBe(true);
  });

  it('graph: sendMail as alice with her Mail.Send token', async () => {
    const dir = tempDir();
    const routes = { mail: graphRouteConfig(t) };
    await signedIn(dir, routes, 'mail');
    relay = await startTestRelay(config(routes), dir);
    const id = await submit('delegated graph');
    expect((await settled(id, 'delivered')).recipientDetails[0]).toMatchObject({ state: 'delivered', route: 'mail', reply: { code: 202 } });
    expect(await received(t, BOB, 'delegated graph')).toContain('Sent with a delegated sign-in.');
  });

  it('rotates the refresh token on use and keeps it across a restart (the old one is dead by then)', async () => {
    const dir = tempDir();
    const routes = { alice: smtpRouteConfig(t) };
    await signedIn(dir, routes, 'alice');
    const since = t.sandbox.events.lastSeq;
    relay = await startTestRelay(config(routes), dir);
    await settled(await submit('before the restart'), 'delivered');
    const afterFirst = (await relay.relay.store.loadTokenCache('alice'))!.version;
    expect(afterFirst).toBe(2); // the sign-in, then the first refresh's rotated tokens
    await relay.stop();

    relay = await startTestRelay(config(routes), dir);
    await settled(await submit('after the restart'), 'delivered');
    expect((await relay.relay.store.loadTokenCache('alice'))!.version).toBe(3);
    // Two refreshes, each with the refresh token the one before stored; the sandbox refuses reuse.
    expect(tokenEvents(since)).toEqual(['refresh_token ok', 'refresh_token ok']);
    await received(t, BOB, 'after the restart');
  });
});

describe('a lost sign-in holds the route, with "sign in again" and the command', () => {
  it('nobody signed in yet: held, with relay365 auth login', async () => {
    relay = await startTestRelay(config({ alice: smtpRouteConfig(t) }));
    const held = await settled(await submit('not signed in'), 'held');
    expect(held.recipientDetails[0]!.diagnosis).toContain('Nobody has signed in for the route "alice" yet');
    expect(held.attempts.at(-1)!.fix).toContain('relay365 auth login alice (on a server without a browser: relay365 auth login alice --device-code)');
  });

  it('a revoked refresh token (AADSTS50173) holds the route; a new sign-in with the CLI, while the relay runs, releases it', async () => {
    const port = await freePort();
    const redirectUri = `http://localhost:${port}/`;
    t.edit((d) => d.apps.find((a) => a.appId === DEMO.delegated.clientId)!.redirectUris.push(redirectUri));
    const dir = tempDir();
    const routes = { alice: smtpRouteConfig(t, ALICE, { redirectUri }) };
    await signedIn(dir, routes, 'alice');
    t.sandbox.context.entra.revokeUserGrants(ALICE); // a password change
    relay = await startTestRelay(config(routes), dir);
    const id = await submit('while revoked');
    const held = await settled(id, 'held');
    const detail = held.recipientDetails[0]!;
    expect(detail).toMatchObject({ state: 'held', verdict: 'route-broken', reply: { enhanced: 'AADSTS50173' } });
    expect(detail.diagnosis).toContain('was revoked');
    expect(detail.diagnosis).toContain('Sign in again');
    expect(held.attempts.at(-1)!.fix).toContain('relay365 auth login alice');
    expect(await relay.relay.store.routeStatus('alice')).toMatchObject({ state: 'held', fix: expect.stringContaining('relay365 auth login alice') });

    // The admin signs alice in again with the CLI, on the same store, while the relay runs.
    const login = startCli(dir, ['auth', 'login', 'alice']);
    const [, url] = await login.waitFor(/^\s+(https:\S+)$/m);
    const back = await redirectFromConsentPage(t, url!, DEMO.alice);
    expect(`${back.origin}${back.pathname}`).toBe(`http://localhost:${port}/`);
    const page = await fetch(back);
    expect(await page.text()).toContain('Signed in');
    expect(await login.exited).toBe(0);
    expect(login.stdout()).toContain(`Signed in as ${ALICE} for route "alice"`);
    // 1 held message, or 0 when the relay's own probe (every 500 ms here) has it in hand at that moment.
    expect(login.stdout()).toMatch(/Route "alice" was held .*; it is active again and [01] held messages? queued again\./);
    await settled(id, 'delivered');
    await received(t, BOB, 'while revoked');
  });

  it('a user signed in for a mailbox that is not theirs: 535 5.7.3 explained with the FullAccess to grant', async () => {
    const dir = tempDir();
    const routes = { shared: smtpRouteConfig(t, DEMO.relay.address) };
    const done = await signedIn(dir, routes, 'shared', DEMO.alice);
    expect(done.warning).toContain(`signed in as ${ALICE}, but the route sends as ${DEMO.relay.address}`);
    relay = await startTestRelay(config(routes), dir);
    const held = await settled(await submit('not her mailbox', DEMO.relay.address), 'held');
    expect(held.recipientDetails[0]).toMatchObject({ verdict: 'route-broken', reply: { code: 535, enhanced: '5.7.3' } });
    expect(held.recipientDetails[0]!.diagnosis).toContain(`Exchange Online refused the token of ${ALICE} for ${DEMO.relay.address}`);
    expect(held.attempts.at(-1)!.fix).toBe(`Exchange Online PowerShell: Add-MailboxPermission -Identity ${DEMO.relay.address} -User ${ALICE} -AccessRights FullAccess; or sign in as ${DEMO.relay.address}: relay365 auth login shared.`);
  });

  it('Conditional Access blocking the user (AADSTS53003) holds the route with the policy to change and "sign in again"', async () => {
    const dir = tempDir();
    const routes = { alice: smtpRouteConfig(t) };
    await signedIn(dir, routes, 'alice');
    t.edit((d) => (d.mailboxes.find((m) => m.address === ALICE)!.conditionalAccessBlocked = true));
    relay = await startTestRelay(config(routes), dir);
    const held = await settled(await submit('blocked'), 'held');
    expect(held.recipientDetails[0]!.reply?.enhanced).toBe('AADSTS53003');
    expect(held.recipientDetails[0]!.diagnosis).toContain('Conditional Access policy blocks tokens');
    expect(held.attempts.at(-1)!.fix).toContain('Conditional Access');
    expect(held.attempts.at(-1)!.fix).toContain('relay365 auth login alice');
  });
});
