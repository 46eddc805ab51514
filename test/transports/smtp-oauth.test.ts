// smtp-oauth against the sandbox: the app-only token from the sandbox's Entra ID (the real
// msal-node through the route's token provider), AUTH XOAUTH2 on client submission, one token for
// many messages, at most 3 connections per mailbox, a stale token renewed once, and the 535 5.7.3
// causes (service principal, FullAccess, role, audience) explained with the app's real ids.
import nodemailer from 'nodemailer';
import { describe, expect, it } from 'vitest';
import { createAppTokenProvider } from '../../src/credentials/app-token.js';
import { TokenError } from '../../src/credentials/token.js';
import { createSmtpOAuthTransport, SmtpOAuthTransport } from '../../src/transports/m365/smtp-oauth.js';
import { submissionEndpoint } from '../../src/transports/m365/smtp-submission.js';
import { until } from '../helpers/sink.js';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';
import { DEMO, useSandbox } from '../helpers/sandbox.js';
import { context, jobFor, only, received, route, silent } from './m365-smtp-helpers.js';

const RELAY = DEMO.relay.address;
const NOREPLY = 'noreply@contoso.example';
const APP = DEMO.appOnly.clientId;
const OID = DEMO.appOnly.servicePrincipalObjectId;
const t = useSandbox(); // the demo tenant: SMTP AUTH off for the tenant, on for relay@ — as Microsoft's guide sets it up
const { edit } = t;

function oauthRoute(extra: Record<string, unknown> = {}, credentials: Record<string, unknown> = {}) {
  return {
    transport: 'smtp-oauth' as const,
    mailbox: RELAY,
    credentials: { tenant: DEMO.tenantId, clientId: APP, clientSecret: DEMO.appOnly.secret, authorityHost: t.sandbox.urls.login, ...credentials },
    host: '127.0.0.1',
    port: t.sandbox.ports.submission,
    ca: [t.sandbox.caPath],
    ...extra,
  };
}

function oauth(extra: Record<string, unknown> = {}, credentials: Record<string, unknown> = {}): SmtpOAuthTransport {
  return t.closeAfterTest(createSmtpOAuthTransport('m365', route(oauthRoute(extra, credentials)), context()));
}

/** Events after `since` at one endpoint. */
const eventsSince = (since: number, endpoint: string) => t.sandbox.events.list({ endpoint, since });
const mark = () => t.sandbox.events.lastSeq;
const tokenRequests = (since: number) => eventsSince(since, 'token').filter((e) => e.action === 'client_credentials');
const signIns = (since: number) => eventsSince(since, 'submission').filter((e) => e.action === 'AUTH XOAUTH2');

const FIX_5_7_3 =
  `1. In the Microsoft Entra admin center (entra.microsoft.com) > App registrations > All applications > the app with Application (client) ID ${APP} > API permissions: the application permission SMTP.SendAsApp of Office 365 Exchange Online, with admin consent granted. ` +
  `2. Exchange Online PowerShell: New-ServicePrincipal -AppId ${APP} -ObjectId ${OID} — the object id of the ENTERPRISE APPLICATION (Entra admin center > Enterprise applications) (${OID} is the oid of the token Entra ID issued to the app), not the app registration's: registering that one is the classic mistake; Get-ServicePrincipal | Format-List AppId,ObjectId shows what is registered. ` +
  `3. Add-MailboxPermission -Identity relay@contoso.example -User ${OID} -AccessRights FullAccess (or RBAC for Applications: New-ManagementRoleAssignment -Role "Application SMTP.SendAsApp" -App ${APP} -CustomResourceScope <a management scope containing relay@contoso.example>).`;
const DIAGNOSIS_5_7_3 =
  "Exchange Online refused the app's token for relay@contoso.example (535 5.7.3 Authentication unsuccessful). It signs an app in only when the token is for https://outlook.office365.com with the role SMTP.SendAsApp, the app is registered in Exchange with New-ServicePrincipal under the enterprise application's object id, and that service principal has FullAccess on relay@contoso.example.";

describe('smtp-oauth', () => {
  it('delivers with AUTH XOAUTH2 as the route mailbox, with a token from Entra ID for https://outlook.office365.com/.default', async () => {
    const since = mark();
    const job = jobFor({ from: RELAY, to: [DEMO.alice.address], body: 'Delivery note 80004711.' });
    expect(only(await oauth().deliver(job))).toMatchObject({ verdict: 'delivered', reply: { code: 250, enhanced: '2.0.0' } });
    expect(await received(t, DEMO.alice.address, job.subject)).toContain('Delivery note 80004711.');
    expect(signIns(since)).toEqual([expect.objectContaining({ status: 235, mailbox: RELAY, appId: APP })]);
    expect(tokenRequests(since)).toHaveLength(1);
  });

  it('signs in as a shared mailbox (user= the shared mailbox) and keeps the copy in its Sent Items', async () => {
    edit((d) => {
      d.mailboxes.find((m) => m.address === NOREPLY)!.smtpClientAuthenticationDisabled = false; // Set-CASMailbox, as for any mailbox that signs in
    });
    const job = jobFor({ from: NOREPLY, to: [DEMO.bob.address] });
    expect(only(await oauth({ mailbox: NOREPLY }).deliver(job)).verdict).toBe('delivered');
    await received(t, DEMO.bob.address, job.subject);
    await received(t, NOREPLY, job.subject, 'SentItems');
  });

  it('uses one token for many messages, asked for once even when they start together', async () => {
    const since = mark();
    const transport = oauth();
    const together = await Promise.all([1, 2, 3, 4, 5].map(() => transport.deliver(jobFor({ from: RELAY, to: [DEMO.alice.address] }))));
    for (let i = 0; i < 3; i++) together.push(await transport.deliver(jobFor({ from: RELAY, to: [DEMO.bob.address] })));
    expect(together.map((r) => only(r).verdict)).toEqual(Array(8).fill('delivered'));
    expect(tokenRequests(since)).toHaveLength(1);
  });

  it('sends over one connection per slot the delivery layer hands out: 12 messages on 3 slots at once, no 432 from Exchange Online', async () => {
    const since = mark();
    const transport = oauth();
    expect(transport.pacing).toMatchObject({ key: RELAY, concurrency: 3, recipientsPerMessage: 500 });
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => transport.deliver({ ...jobFor({ from: RELAY, to: [DEMO.alice.address] }), connection: i % 3 })));
    expect(results.map((r) => only(r).verdict)).toEqual(Array(12).fill('delivered'));
    expect(eventsSince(since, 'submission').filter((e) => e.status === 432)).toEqual([]);
    expect(signIns(since).length).toBe(3);
  });

  it('a pacing.concurrency over 3 meets the real limit: the extra connections get 432 4.3.2, transient', async () => {
    const transport = oauth({ pacing: { concurrency: 6 } });
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => transport.deliver({ ...jobFor({ from: RELAY, to: [DEMO.alice.address] }), connection: i % 6 })));
    const refused = results.map((r) => only(r)).filter((o) => o.verdict !== 'delivered');
    expect(refused.length).toBeGreaterThan(0);
    for (const o of refused) {
      expect(o).toMatchObject({ verdict: 'transient', reply: { code: 432, enhanced: '4.3.2' } });
      expect(o.fix).toBe(
        'Keep routes.m365.pacing.concurrency (now 6) at 3 or less, and stop other programs signing in as relay@contoso.example at the same time — give each sending system its own mailbox.',
      );
    }
  });

  it('renews a token Exchange Online no longer accepts once (535 5.7.3), and delivers', async () => {
    const transport = oauth({ timeout: '300ms' }); // idle pooled connections close, so the next message signs in again
    const before = mark();
    expect(only(await transport.deliver(jobFor({ from: RELAY, to: [DEMO.alice.address] }))).verdict).toBe('delivered');
    const [signIn] = signIns(before);
    await t.sandbox.events.waitFor((e) => e.endpoint === 'submission' && e.action === 'close' && e.session === signIn?.session, { since: before });
    t.sandbox.clock.advance(2 * 3600_000); // the cached token has expired at Microsoft's end, not yet by relay365's clock
    const since = mark();
    const job = jobFor({ from: RELAY, to: [DEMO.alice.address] });
    expect(only(await transport.deliver(job)).verdict).toBe('delivered');
    expect(signIns(since).map((e) => [e.status, e.code])).toEqual([
      [535, '5.7.3'],
      [235, '2.7.0'],
    ]);
    expect(tokenRequests(since)).toHaveLength(1);
    await received(t, DEMO.alice.address, job.subject);
  });

  it('535 5.7.3 — service principal registered with the wrong object id: one retry with a new token, then held with the three steps and the real ids', async () => {
    edit((d) => {
      d.exchange.servicePrincipals[0]!.objectId = '11111111-2222-4333-8444-555555555555'; // the app registration's object id
    });
    const since = mark();
    const result = only(await oauth().deliver(jobFor({ from: RELAY, to: [DEMO.alice.address] })));
    expect(result).toMatchObject({ verdict: 'route-broken', reply: { code: 535, enhanced: '5.7.3' } });
    expect(result.diagnosis).toBe(DIAGNOSIS_5_7_3);
    expect(result.fix).toBe(FIX_5_7_3);
    expect(signIns(since).map((e) => e.status)).toEqual([535, 535]);
    expect(tokenRequests(since)).toHaveLength(2);
  });

  it('535 5.7.3 — no FullAccess on the mailbox (Add-MailboxPermission missing)', async () => {
    edit((d) => {
      d.exchange.mailboxPermissions = d.exchange.mailboxPermissions.filter((p) => p.mailbox !== RELAY);
    });
    const result = only(await oauth().deliver(jobFor({ from: RELAY, to: [DEMO.alice.address] })));
    expect(result).toMatchObject({ verdict: 'route-broken', diagnosis: DIAGNOSIS_5_7_3, fix: FIX_5_7_3 });
  });

  it('535 5.7.3 — the token carries no SMTP.SendAsApp role: the diagnosis says so', async () => {
    edit((d) => {
      d.apps[0]!.applicationPermissions = d.apps[0]!.applicationPermissions.filter((p) => p.resource !== 'Office 365 Exchange Online');
    });
    const result = only(await oauth().deliver(jobFor({ from: RELAY, to: [DEMO.alice.address] })));
    expect(result.verdict).toBe('route-broken');
    expect(result.diagnosis).toBe(`${DIAGNOSIS_5_7_3} The token carries no SMTP.SendAsApp role (roles: none): the permission or its admin consent is missing.`);
  });

  it('535 5.7.3 — a token for the wrong resource (credentials.scopes set to Graph): the diagnosis names the audience', async () => {
    const result = only(await oauth({}, { scopes: ['https://graph.microsoft.com/.default'] }).deliver(jobFor({ from: RELAY, to: [DEMO.alice.address] })));
    expect(result.verdict).toBe('route-broken');
    expect(result.diagnosis).toBe(
      `${DIAGNOSIS_5_7_3} The token is for https://graph.microsoft.com, not https://outlook.office365.com (scope https://outlook.office365.com/.default). The token carries no SMTP.SendAsApp role (roles: Mail.Send, Mail.Read): the permission or its admin consent is missing.`,
    );
  });

  it('535 5.7.139 — SMTP AUTH disabled for the mailbox applies to OAuth too', async () => {
    edit((d) => {
      d.mailboxes.find((m) => m.address === RELAY)!.smtpClientAuthenticationDisabled = true;
    });
    const result = only(await oauth().deliver(jobFor({ from: RELAY, to: [DEMO.alice.address] })));
    expect(result).toMatchObject({ verdict: 'route-broken', reply: { code: 535, enhanced: '5.7.139' } });
    expect(result.diagnosis).toBe('SMTP AUTH is disabled for relay@contoso.example (535 5.7.139: SmtpClientAuthentication is disabled for the Mailbox).');
    expect(result.fix).toBe(
      'Set-CASMailbox -Identity relay@contoso.example -SmtpClientAuthenticationDisabled $false (the tenant variant, Set-TransportConfig -SmtpClientAuthenticationDisabled $false, does not help here: the mailbox setting wins).',
    );
  });

  it('a refused client secret (AADSTS7000215) holds the route without contacting Exchange Online', async () => {
    const since = mark();
    const result = only(await oauth({}, { clientSecret: DEMO.appOnly.secretId }).deliver(jobFor({ from: RELAY, to: [DEMO.alice.address] })));
    expect(result.verdict).toBe('route-broken');
    expect(result.reply).toMatchObject({ code: 401, enhanced: 'AADSTS7000215' });
    expect(result.diagnosis).toMatch(/^Entra ID refused the client secret of app 3c0d7a55-2f7e-4b8e-9c1a-5e6f7a8b9c01 \(AADSTS7000215\)/);
    expect(eventsSince(since, 'submission')).toEqual([]);
  });

  it('a token that cannot be had when a new connection signs in is explained as Entra ID\'s answer, not as network trouble', async () => {
    const config = route(oauthRoute());
    const real = createAppTokenProvider(config.credentials, { scopes: ['https://outlook.office365.com/.default'], extraCa: config.ca, log: silent, route: 'm365' });
    let asked = 0;
    // The first ask (before the session) succeeds; the connection's own ask meets Entra ID refusing.
    const refusal = new TokenError('Entra ID refused the token request (HTTP 400, invalid_grant): AADSTS65001: The user or administrator has not consented to use the application.', '65001', 'invalid_grant', null, { status: 400 });
    const tokens = Object.assign(Object.create(real) as typeof real, { getToken: () => (++asked === 1 ? real.getToken() : Promise.reject(refusal)) });
    const transport = t.closeAfterTest(new SmtpOAuthTransport('m365', config, context(), tokens));
    const result = only(await transport.deliver(jobFor({ from: RELAY, to: [DEMO.alice.address] })));
    expect(result).toMatchObject({ verdict: 'route-broken', reply: { code: 400, enhanced: 'AADSTS65001' } });
    expect(result.diagnosis).toMatch(/^app 3c0d7a55-2f7e-4b8e-9c1a-5e6f7a8b9c01 has no admin consent in tenant 6f1c2b2e-7d55-4c07-9a4f-2b4f0c8a1d11 \(AADSTS65001\)/);
  });

  it('HVE is a preset: smtp.hve.mx.microsoft:587 unless host is set', () => {
    const { host: _host, ...withoutHost } = oauthRoute({ hve: true });
    expect(submissionEndpoint(route({ ...withoutHost, port: 587 }))).toEqual({ host: 'smtp.hve.mx.microsoft', port: 587 });
    const { host: _h, port: _p, ...plain } = oauthRoute();
    expect(submissionEndpoint(route(plain))).toEqual({ host: 'smtp.office365.com', port: 587 });
  });

  it('delivers through a running relay: application → relay365 → smtp-oauth → mailbox', async () => {
    let relay: TestRelay | undefined;
    try {
      relay = await startTestRelay({ routes: { m365: oauthRoute() } });
      const client = nodemailer.createTransport({ host: '127.0.0.1', port: relay.port, tls: { rejectUnauthorized: false }, logger: false });
      const info = await client.sendMail({ from: RELAY, to: DEMO.bob.address, subject: 'Workflow item approved', text: 'PO 4500012345 approved.' });
      client.close();
      const id = /queued as (\S+)/.exec(String(info.response))?.[1] as string;
      expect(await received(t, DEMO.bob.address, 'Workflow item approved')).toContain('PO 4500012345 approved.');
      await until(async () => (await relay!.relay.store.get(id))?.state === 'delivered', 10_000, () => `${id} was not delivered`);
      expect(JSON.stringify(relay.logs)).not.toContain(DEMO.appOnly.secret);
    } finally {
      await relay?.stop();
    }
  });
});
