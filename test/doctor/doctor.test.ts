// relay365 doctor against the sandbox: a healthy tenant passes every check; a tenant (or network)
// broken in one place gives the one ✖ that names it, with the fix from the transports' own
// classifiers (AADSTS codes, 535 5.7.139 / 5.7.3, 5.7.60) filled in with the route's values.
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { DEMO, useSandbox } from '../helpers/sandbox.js';
import { checksOf, directSendRoute, doctorOn, oauthRoute, only, PUBLIC_IP } from './doctor-helpers.js';

const MX_HOST = 'contoso-example.mail.protection.outlook.com';
const t = useSandbox({ options: { serverNames: [MX_HOST] } });
const APP = DEMO.appOnly.clientId;
const OID = DEMO.appOnly.servicePrincipalObjectId;
const RELAY = DEMO.relay.address;

function graphRoute() {
  return {
    transport: 'graph',
    mailbox: RELAY,
    credentials: { tenant: DEMO.tenantId, clientId: APP, clientSecret: 'env:M365_SECRET', secretExpires: '2099-12-31', authorityHost: t.sandbox.urls.login },
    endpoint: t.sandbox.urls.graph,
    ca: [t.sandbox.caPath],
  };
}

/** A loopback port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('relay365 doctor: a healthy tenant', () => {
  it('passes every check of an smtp-oauth, a graph and a direct-send route', async () => {
    const report = await doctorOn(t, { m365: oauthRoute(t), graph: graphRoute(), internal: directSendRoute(t, { host: MX_HOST }) });
    const notPassed = [...report.config.checks, ...report.routes.flatMap((r) => r.checks)].filter((c) => c.status !== 'pass');
    expect(notPassed).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.routes.map((r) => [r.route, r.checks.map((c) => c.check)])).toEqual([
      ['m365', ['secrets', 'secrets', 'dns', 'tcp', 'tls', 'token', 'smtp-auth', 'sender']],
      ['graph', ['secrets', 'secrets', 'dns', 'tcp', 'tls', 'token', 'sender']],
      ['internal', ['secrets', 'dns', 'mx', 'tcp', 'tls', 'smtp-session', 'spf']],
    ]);
    expect(only(report, 'token', 'm365').detail).toBe(`aud https://outlook.office365.com, roles SMTP.SendAsApp, tid ${DEMO.tenantId}, oid ${OID}`);
    expect(only(report, 'token', 'graph').detail).toContain('roles Mail.Send');
    expect(only(report, 'tls', 'm365').detail).toMatch(/^TLSv1\.[23], certificate for localhost until \d{4}-\d\d-\d\d$/);
    expect(only(report, 'mx', 'internal').detail).toBe(`contoso.example MX 0 ${MX_HOST}`);
  });

  it('sends a real test message through the route with --send-test, and nothing during the other checks', async () => {
    const before = t.sandbox.mailboxes.list({ mailbox: DEMO.alice.address }).length;
    const relayBefore = t.sandbox.mailboxes.list({ mailbox: RELAY }).length;
    const withoutTest = await doctorOn(t, { m365: oauthRoute(t) });
    expect(withoutTest.ok).toBe(true);
    expect(only(withoutTest, 'sender').status).toBe('pass'); // the Send As probe reached DATA, then stopped
    expect(t.sandbox.mailboxes.list({ mailbox: DEMO.alice.address })).toHaveLength(before);
    expect(t.sandbox.mailboxes.list({ mailbox: RELAY })).toHaveLength(relayBefore);
    const report = await doctorOn(t, { m365: oauthRoute(t) }, { sendTest: DEMO.alice.address });
    expect(only(report, 'send-test')).toMatchObject({ status: 'pass', detail: expect.stringMatching(/^delivered from relay@contoso\.example: 250 2\.0\.0 OK/) });
    const inbox = t.sandbox.mailboxes.list({ mailbox: DEMO.alice.address });
    expect(inbox).toHaveLength(before + 1);
  });
});

describe('relay365 doctor: one thing broken', () => {
  it('wrong secret: the token check fails with AADSTS7000215 and the new-secret steps', async () => {
    const report = await doctorOn(t, { m365: oauthRoute(t) }, { env: { M365_SECRET: DEMO.appOnly.secretId } });
    expect(report.ok).toBe(false);
    const token = only(report, 'token');
    expect(token.status).toBe('fail');
    expect(token.detail).toContain('AADSTS7000215');
    expect(token.detail).toContain('"Secret ID" was copied instead of its "Value"');
    expect(token.fix).toContain('New client secret, then copy its Value');
    expect(token.fix).toContain('routes.m365.credentials.clientSecret');
    expect(only(report, 'smtp-auth')).toMatchObject({ status: 'skip', detail: 'no token to sign in with' });
  });

  it('expired secret: the secrets check (secretExpires) and the token check (AADSTS7000222) fail', async () => {
    t.edit((tenant) => {
      tenant.apps[0]!.secrets[0]!.expires = '2020-01-31';
    });
    const report = await doctorOn(t, { m365: oauthRoute(t, {}, { secretExpires: '2020-01-31' }) });
    const expiry = checksOf(report, 'secrets').find((c) => c.status === 'fail');
    expect(expiry?.detail).toBe('The secret of routes.m365.credentials.clientSecret expired on 2020-01-31: Entra ID refuses it and the route sends nothing.');
    expect(expiry?.fix).toContain('Certificates & secrets > Client secrets: New client secret');
    const token = only(report, 'token');
    expect(token).toMatchObject({ status: 'fail', detail: expect.stringContaining('has expired (AADSTS7000222)') });
    expect(token.fix).toContain('New client secret');
  });

  it('missing permission: the token carries no SMTP.SendAsApp; the fix is the API permission and admin consent', async () => {
    t.edit((tenant) => {
      tenant.apps[0]!.applicationPermissions = tenant.apps[0]!.applicationPermissions.filter((p) => !JSON.stringify(p).includes('SMTP.SendAsApp'));
    });
    const report = await doctorOn(t, { m365: oauthRoute(t) });
    const token = only(report, 'token');
    expect(token.status).toBe('fail');
    expect(token.detail).toContain('the token carries no SMTP.SendAsApp (roles: none): the permission is not granted');
    expect(token.fix).toContain('make sure the application permission SMTP.SendAsApp (Office 365 Exchange Online) is listed');
    expect(token.fix).toContain(`/adminconsent?client_id=${APP}`);
    // Exchange Online refuses the token too, and says what to do on its side.
    expect(only(report, 'smtp-auth')).toMatchObject({ status: 'fail', detail: expect.stringContaining('535 5.7.3') });
  });

  it('missing service principal: SMTP AUTH fails with 535 5.7.3 and New-ServicePrincipal with the enterprise application object id', async () => {
    t.edit((tenant) => {
      tenant.exchange.servicePrincipals = [];
    });
    const report = await doctorOn(t, { m365: oauthRoute(t) });
    expect(only(report, 'token').status).toBe('pass');
    const auth = only(report, 'smtp-auth');
    expect(auth.status).toBe('fail');
    expect(auth.detail).toContain("Exchange Online refused the app's token for relay@contoso.example (535 5.7.3 Authentication unsuccessful)");
    expect(auth.fix).toContain(`New-ServicePrincipal -AppId ${APP} -ObjectId ${OID}`);
    expect(auth.fix).toContain(`Add-MailboxPermission -Identity ${RELAY} -User ${OID} -AccessRights FullAccess`);
    expect(only(report, 'sender')).toMatchObject({ status: 'skip' });
  });

  it('SMTP AUTH disabled for the mailbox: 535 5.7.139 and Set-CASMailbox', async () => {
    t.edit((tenant) => {
      tenant.mailboxes.find((m) => m.address === RELAY)!.smtpClientAuthenticationDisabled = true;
    });
    const auth = only(await doctorOn(t, { m365: oauthRoute(t) }), 'smtp-auth');
    expect(auth).toMatchObject({ status: 'fail', detail: `SMTP AUTH is disabled for ${RELAY} (535 5.7.139: SmtpClientAuthentication is disabled for the Mailbox).` });
    expect(auth.fix).toMatch(/^Set-CASMailbox -Identity relay@contoso\.example -SmtpClientAuthenticationDisabled \$false /);
  });

  it('SMTP AUTH disabled for the tenant: 535 5.7.139 and Set-CASMailbox or Set-TransportConfig', async () => {
    t.edit((tenant) => {
      tenant.mailboxes.find((m) => m.address === RELAY)!.smtpClientAuthenticationDisabled = null;
      tenant.organization.smtpClientAuthenticationDisabled = true;
    });
    const auth = only(await doctorOn(t, { m365: oauthRoute(t) }), 'smtp-auth');
    expect(auth.status).toBe('fail');
    expect(auth.detail).toContain('SMTP AUTH is disabled for the tenant');
    expect(auth.fix).toContain(`Set-CASMailbox -Identity ${RELAY} -SmtpClientAuthenticationDisabled $false`);
    expect(auth.fix).toContain('Set-TransportConfig -SmtpClientAuthenticationDisabled $false');
  });

  it('missing Send As: MAIL FROM the other address gets 550 5.7.60; the fix is Add-RecipientPermission — and nothing is sent', async () => {
    t.edit((tenant) => {
      tenant.exchange.recipientPermissions = [];
    });
    const before = t.sandbox.mailboxes.list({ mailbox: RELAY }).length;
    const report = await doctorOn(t, { m365: oauthRoute(t) });
    const sender = only(report, 'sender');
    expect(sender.title).toBe('Send As noreply@contoso.example');
    expect(sender.status).toBe('fail');
    expect(sender.detail).toContain(`${RELAY} may not send as noreply@contoso.example`);
    expect(sender.detail).toContain('550 5.7.60');
    expect(sender.fix).toContain(`Add-RecipientPermission -Identity noreply@contoso.example -Trustee ${RELAY} -AccessRights SendAs`);
    expect(t.sandbox.mailboxes.list({ mailbox: RELAY })).toHaveLength(before);
  });

  it('unreachable port: TCP fails fast with the time taken and the typical cause; TLS and AUTH are skipped', async () => {
    const port = await closedPort();
    const report = await doctorOn(t, { m365: oauthRoute(t, { port }) });
    const tcp = only(report, 'tcp');
    expect(tcp.status).toBe('fail');
    expect(tcp.detail).toMatch(new RegExp(`^Could not connect to localhost:${port} \\(127\\.0\\.0\\.1: refused after \\d+ ms\\): nothing listens on localhost:${port}, or a firewall rejects the connection\\.$`));
    expect(tcp.fix).toContain(`Open outbound TCP ${port} from this host to localhost`);
    expect(tcp.ms).not.toBeNull();
    expect(only(report, 'tls')).toMatchObject({ status: 'skip', detail: 'the port did not answer' });
    expect(only(report, 'smtp-auth').status).toBe('skip');
  });

  it('SPF without the relay\'s IP: the SPF check fails with the record to publish', async () => {
    t.edit((tenant) => {
      tenant.dns.records = [{ name: 'contoso.example', type: 'TXT', value: 'v=spf1 include:spf.protection.outlook.com -all', priority: 0 }];
    });
    const spf = only(await doctorOn(t, { internal: directSendRoute(t, { host: MX_HOST }) }), 'spf');
    expect(spf.status).toBe('fail');
    expect(spf.detail).toContain(`does not include this relay's public IP ${PUBLIC_IP}`);
    expect(spf.fix).toBe(`Change the TXT record of contoso.example to: v=spf1 ip4:${PUBLIC_IP} include:spf.protection.outlook.com -all`);
  });

  it('an MX that does not point at Exchange Online Protection fails with the record to set', async () => {
    t.edit((tenant) => {
      tenant.dns.records = [{ name: 'contoso.example', type: 'MX', value: 'mail.contoso.example', priority: 10 }];
    });
    const mx = only(await doctorOn(t, { internal: directSendRoute(t, { host: MX_HOST }) }), 'mx');
    expect(mx.status).toBe('fail');
    expect(mx.detail).toContain('does not point at Exchange Online Protection');
    expect(mx.fix).toContain(`MX 0 ${MX_HOST}`);
  });

  it('an endpoint name that does not resolve fails the DNS check and skips the rest', async () => {
    const report = await doctorOn(t, { m365: oauthRoute(t, { host: 'smtp.nowhere.example' }) });
    expect(only(report, 'dns')).toMatchObject({ status: 'fail', detail: expect.stringContaining('smtp.nowhere.example does not exist (NXDOMAIN)') });
    expect(only(report, 'tcp').status).toBe('skip');
  });
});
