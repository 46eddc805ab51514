// Every Graph row of M365-FACTS.md, produced by the sandbox (tenant state, or fault injection where
// only Microsoft's side can fail), delivered through the graph transport, and classified: verdict,
// diagnosis and the fix with the route's values.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { eventsSince, quietEvents } from '../credentials/helpers.js';
import { demoTenant, DEMO } from '../helpers/sandbox.js';
import { ALICE, composeToBuffer, graphRoute, graphTransport, jobFor, only, RELAY, useGraphSandbox, type GraphUnderTest } from './graph-fixture.js';

const t = useGraphSandbox(); // the demo tenant put back and faults cleared for each test
let g: GraphUnderTest | undefined;

const APP = DEMO.appOnly.clientId;
const note = () => composeToBuffer({ to: ALICE, subject: 'Status', text: 'All jobs ran.' });

async function deliver(extra: Record<string, unknown> = {}, message?: Buffer, credentials: Record<string, unknown> = {}) {
  g = graphTransport(graphRoute(t, extra, credentials));
  const result = await g.transport.deliver(jobFor(message ?? (await note()), [ALICE]));
  return result.get(0)!;
}

describe('refusals of this message only: permanent', () => {
  it('403 ErrorSendAsDenied: the From is another mailbox the route\'s mailbox has no Send As on', async () => {
    const o = await deliver({}, await composeToBuffer({ from: ALICE, to: ALICE, text: 'x' }));
    expect(o.verdict).toBe('permanent');
    expect(o.reply).toEqual({ code: 403, enhanced: 'ErrorSendAsDenied', text: expect.stringContaining('does not have the right to send mail on behalf of the specified sending account') });
    expect(o.diagnosis).toMatch(/^Mailbox relay@contoso\.example may not send as alice@contoso\.example \(403 ErrorSendAsDenied: /);
    expect(o.fix).toContain('Add-RecipientPermission -Identity alice@contoso.example -Trustee relay@contoso.example -AccessRights SendAs -Confirm:$false');
    expect(o.fix).toContain('routes.m365.sender.allowed');
    expect(o.fix).toContain('routes.m365.sender.rewriteFrom: when-not-allowed');
  });

  it('413 ErrorMessageSizeExceeded: larger than the mailbox may send', async () => {
    t.sandbox.tenant.update((d) => (d.mailboxes.find((m) => m.address === RELAY)!.maxSendSize = 1024 * 1024));
    const big = await composeToBuffer({ to: ALICE, text: 'scan', attachments: [{ filename: 'scan.pdf', content: randomBytes(1024 * 1024) }] });
    const o = await deliver({}, big);
    expect(o.verdict).toBe('permanent');
    expect(o.reply).toMatchObject({ code: 413, enhanced: 'ErrorMessageSizeExceeded' });
    expect(o.diagnosis).toMatch(/^The message \(1\.\d MB\) is larger than mailbox relay@contoso\.example may send \(413 ErrorMessageSizeExceeded: The message exceeds the maximum supported size\.\)/);
    expect(o.fix).toContain('Set-Mailbox -Identity relay@contoso.example -MaxSendSize 150MB');
  });

  it('400 ErrorMimeContentInvalidBase64String (the transport always encodes correctly, so Graph\'s answer is injected)', async () => {
    const body = { error: { code: 'ErrorMimeContentInvalidBase64String', message: 'Invalid base64 string for MIME content.' } };
    t.sandbox.faults.add({ kind: 'reply', endpoint: 'graph', count: 1, http: { status: 400, body } });
    const o = await deliver();
    expect(o.verdict).toBe('permanent');
    expect(o.reply).toEqual({ code: 400, enhanced: 'ErrorMimeContentInvalidBase64String', text: 'Invalid base64 string for MIME content.' });
    expect(o.diagnosis).toContain('Graph refuses an empty or unreadable message');
  });

  it('an empty message is not refused: its envelope recipients are added as Bcc, so Graph has someone to send it to', async () => {
    g = graphTransport(graphRoute(t));
    const o = (await g.transport.deliver(jobFor(Buffer.alloc(0), [ALICE], { received: false }))).get(0)!;
    expect(o.verdict).toBe('delivered');
    expect(only(t, ALICE).from).toBe(RELAY);
  });
});

describe('refusals every message of the route would get: route-broken (held, not failed)', () => {
  it('403 ErrorAccessDenied from an Application Access Policy that leaves the mailbox out', async () => {
    t.sandbox.tenant.update((d) => d.exchange.applicationAccessPolicies.push({ appId: APP, accessRight: 'RestrictAccess', mailboxes: [ALICE] }));
    const o = await deliver();
    expect(o.verdict).toBe('route-broken');
    expect(o.reply).toMatchObject({ code: 403, enhanced: 'ErrorAccessDenied', text: 'Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly AccessPolicy settings.' });
    expect(o.diagnosis).toBe(`An Application Access Policy keeps app ${APP} away from mailbox ${RELAY} (403 ErrorAccessDenied: Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly AccessPolicy settings.).`);
    expect(o.fix).toContain(`New-ApplicationAccessPolicy -AppId ${APP} -PolicyScopeGroupId <group containing ${RELAY}> -AccessRight RestrictAccess`);
    expect(o.fix).toContain(`Test-ApplicationAccessPolicy -Identity ${RELAY} -AppId ${APP}`);
    expect(o.fix).toContain(`New-ManagementRoleAssignment -Role "Application Mail.Send" -App ${APP}`);
    expect(o.fix).toContain('Changes take 30–60 minutes to apply');
  });

  it('403 ErrorAccessDenied without Mail.Send; once granted, the next attempt fetches a token with the new role', async () => {
    t.sandbox.tenant.update((d) => (d.apps[0]!.applicationPermissions = d.apps[0]!.applicationPermissions.filter((p) => p.resource !== 'Microsoft Graph')));
    g = graphTransport(graphRoute(t));
    const job = jobFor(await note(), [ALICE]);
    const o = (await g.transport.deliver(job)).get(0)!;
    expect(o.verdict).toBe('route-broken');
    expect(o.reply).toEqual({ code: 403, enhanced: 'ErrorAccessDenied', text: 'Access is denied. Check credentials and try again.' });
    expect(o.diagnosis).toContain(`App ${APP} may not send mail from ${RELAY} through Graph`);
    expect(o.diagnosis).toContain('lacks the application permission Mail.Send');
    expect(o.fix).toContain(`${t.sandbox.urls.origin}/${DEMO.tenantId}/adminconsent?client_id=${APP}`);
    expect(o.fix).toContain('Mail.Send (Microsoft Graph)');

    t.sandbox.tenant.replace(demoTenant());
    const since = await quietEvents(t);
    expect((await g.transport.deliver(jobFor(await note(), [ALICE]))).get(0)!.verdict).toBe('delivered');
    expect(await eventsSince(t, since, 'token')).toHaveLength(1);
  });

  it('404 MailboxNotEnabledForRESTAPI: an accepted-domain address without an Exchange Online mailbox', async () => {
    const o = await deliver({ mailbox: 'ghost@contoso.example' });
    expect(o.verdict).toBe('route-broken');
    expect(o.reply).toMatchObject({ code: 404, enhanced: 'MailboxNotEnabledForRESTAPI' });
    expect(o.diagnosis).toMatch(/^ghost@contoso\.example has no Exchange Online mailbox Graph can send from/);
    expect(o.fix).toContain('routes.m365.mailbox');
    expect(o.fix).toContain('Exchange Online license');
  });

  it('404 ErrorInvalidUser: a mailbox Graph does not know at all', async () => {
    const o = await deliver({ mailbox: 'relay@fabrikam.example' });
    expect(o).toMatchObject({ verdict: 'route-broken', reply: { code: 404, enhanced: 'ErrorInvalidUser' } });
    expect(o.fix).toBe('Set routes.m365.mailbox to the mailbox\'s user principal name or primary SMTP address.');
  });

  it('413 on sendMail because largeMessages.threshold lets a request over 4 MB through', async () => {
    const big = await composeToBuffer({ to: ALICE, text: 'scan', attachments: [{ filename: 'scan.pdf', content: randomBytes(2_600_000) }] });
    const o = await deliver({ largeMessages: { threshold: '5MB' } }, big);
    expect(o.verdict).toBe('route-broken');
    expect(o.diagnosis).toMatch(/^The sendMail request \(4\.\d MB of base64\) was over Graph's 4 MB request limit/);
    expect(o.fix).toContain('Set routes.m365.largeMessages.threshold to 3MB');
  });

  it('a token Entra ID refuses (here: a wrong secret) is classified as the token error it is', async () => {
    const o = await deliver({}, undefined, { clientSecret: 'wrong' });
    expect(o).toMatchObject({ verdict: 'route-broken', reply: { code: 401, enhanced: 'AADSTS7000215' } });
    expect(o.fix).toContain('routes.m365.credentials.clientSecret');
  });
});

describe('401 InvalidAuthenticationToken', () => {
  it('once: the token is dropped, a fresh one fetched, the request sent again, and the message delivered', async () => {
    g = graphTransport(graphRoute(t));
    expect((await g.transport.deliver(jobFor(await note(), [ALICE]))).get(0)!.verdict).toBe('delivered');
    t.sandbox.clock.advance(2 * 3600 * 1000); // the cached token is expired for Graph, not yet for the relay's clock
    const since = await quietEvents(t);
    const o = (await g.transport.deliver(jobFor(await note(), [ALICE]))).get(0)!;
    expect(o.verdict).toBe('delivered');
    const events = await eventsSince(t, since);
    expect(events.map((e) => `${e.endpoint} ${e.status}`)).toEqual(['graph 401', 'token 200', 'graph 202']);
    expect(g.log.text()).toContain('Graph refused the access token: fetching a new one and sending again');
  });

  it('again with the fresh token (a token for another resource): route-broken, with the scope fix', async () => {
    const o = await deliver({}, undefined, { scopes: ['https://outlook.office365.com/.default'] });
    expect(o.verdict).toBe('route-broken');
    expect(o.reply).toEqual({ code: 401, enhanced: 'InvalidAuthenticationToken', text: 'Access token validation failure. Invalid audience.' });
    expect(o.diagnosis).toBe('Graph refused the access token again after relay365 fetched a fresh one (401 InvalidAuthenticationToken: Access token validation failure. Invalid audience.).');
    expect(o.fix).toContain('remove routes.m365.credentials.scopes');
  });
});

describe('Microsoft busy or away: transient', () => {
  it('429 ApplicationThrottled with Retry-After: retried at exactly that time', async () => {
    t.sandbox.faults.add({ kind: 'reply', endpoint: 'graph', count: 1, http: { status: 429, headers: { 'retry-after': '7' } } });
    const before = Date.now();
    const o = await deliver();
    expect(o.verdict).toBe('transient');
    expect(o.reply).toEqual({ code: 429, enhanced: 'ApplicationThrottled', text: 'Application is over its MailboxConcurrency limit.' });
    expect(o.retryAt! - before).toBeGreaterThanOrEqual(7000);
    expect(o.retryAt! - Date.now()).toBeLessThanOrEqual(7000);
    expect(o.diagnosis).toContain('relay365 tries again after the 7 s Graph asked for');
  });

  it('503 and 504: transient, Retry-After honoured when given', async () => {
    t.sandbox.faults.add({ kind: 'reply', endpoint: 'graph', count: 1, http: { status: 503, headers: { 'retry-after': '30' } } });
    const a = await deliver();
    expect(a).toMatchObject({ verdict: 'transient', reply: { code: 503, enhanced: 'ServiceNotAvailable' } });
    expect(a.retryAt! - Date.now()).toBeGreaterThan(28_000);
    await g!.close();
    t.sandbox.faults.add({ kind: 'reply', endpoint: 'graph', count: 1, http: { status: 504 } });
    const b = await deliver();
    expect(b).toMatchObject({ verdict: 'transient', retryAt: null, reply: { code: 504, enhanced: 'GatewayTimeout' } });
    expect(b.diagnosis).toMatch(/^Microsoft Graph is temporarily unavailable \(504 GatewayTimeout: /);
  });

  it('Graph unreachable: transient, with the network check', async () => {
    t.sandbox.faults.add({ kind: 'down', endpoint: 'graph' });
    const o = await deliver();
    expect(o.verdict).toBe('transient');
    expect(o.diagnosis).toMatch(/^Microsoft Graph \(localhost:\d+\) did not answer the sendMail request: /);
    expect(o.fix).toContain('routes.m365.ca');
  });

  it('afterwards the same transport delivers again', async () => {
    expect((await deliver()).verdict).toBe('delivered');
    expect(only(t, ALICE).subject).toBe('Status');
  });
});
