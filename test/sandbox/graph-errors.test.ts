// Every Graph error of M365-FACTS.md ("Microsoft Graph sendMail"), produced by the tenant state or
// request that causes it on Microsoft 365, with its exact status, code and message; and the
// errors a client meets around them (401s, 400s on a malformed message).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tenant } from '../../sandbox/tenant/schema.js';
import { confidentialClient, DEMO, demoTenant, EXCHANGE_DEFAULT_SCOPE, graphAppToken, graphRequest, startTestSandbox, type HttpsResponse, type TestSandbox } from '../helpers/sandbox.js';

const RELAY = DEMO.relay.address;
const NOREPLY = 'noreply@contoso.example';
const ALICE = DEMO.alice.address;
const BOB = DEMO.bob.address;
const SECRET = 'test~Secret.Value-for-graph-error-apps';

/** Apps in the states that produce each refusal, beside the demo app (Graph Mail.Send + Mail.ReadWrite). */
const APPS = {
  noGraphRole: { appId: '11111111-1111-4111-8111-111111111111', spObjectId: '11111111-1111-4111-8111-aaaaaaaaaaaa' },
  policyScoped: { appId: '22222222-2222-4222-8222-222222222222', spObjectId: '22222222-2222-4222-8222-aaaaaaaaaaaa' },
  rbacOnly: { appId: '33333333-3333-4333-8333-333333333333', spObjectId: '33333333-3333-4333-8333-aaaaaaaaaaaa' },
};

function errorsTenant(): Tenant {
  const tenant = demoTenant();
  const demo = tenant.apps.find((a) => a.appId === DEMO.appOnly.clientId)!;
  demo.applicationPermissions = [{ resource: 'Microsoft Graph', roles: ['Mail.Send', 'Mail.ReadWrite'] }];
  const app = (a: { appId: string; spObjectId: string }, displayName: string, roles: string[]) => ({
    ...structuredClone(demo),
    appId: a.appId,
    displayName,
    servicePrincipalObjectId: a.spObjectId,
    secrets: [{ id: a.spObjectId.replace(/a/g, 'b'), value: SECRET, expires: '2099-12-31' }],
    applicationPermissions: [{ resource: 'Microsoft Graph', roles }],
  });
  tenant.apps.push(app(APPS.noGraphRole, 'no Graph role', []), app(APPS.policyScoped, 'scoped by a policy', ['Mail.Send']), app(APPS.rbacOnly, 'RBAC for Applications', []));
  // New-ApplicationAccessPolicy -AccessRight RestrictAccess -PolicyScopeGroupId <group with noreply@>
  tenant.exchange.applicationAccessPolicies.push({ appId: APPS.policyScoped.appId, accessRight: 'RestrictAccess', mailboxes: [NOREPLY] });
  // New-ManagementRoleAssignment -Role 'Application Mail.Send' -App <app> -CustomResourceScope <noreply@>
  tenant.exchange.managementRoleAssignments.push({ role: 'Application Mail.Send', app: APPS.rbacOnly.appId, recipients: [NOREPLY] });
  tenant.mailboxes.find((m) => m.address === BOB)!.maxSendSize = 100_000;
  return tenant;
}

const message = (extra: object = {}) => ({ subject: 'Hello', body: { contentType: 'text', content: 'Hello.' }, toRecipients: [{ emailAddress: { address: ALICE } }], ...extra });
const errorOf = (res: HttpsResponse) => (JSON.parse(res.text) as { error: { code: string; message: string; innerError: Record<string, string> } }).error;

function expectGraphError(res: HttpsResponse, status: number, code: string, text: string) {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(errorOf(res)).toMatchObject({ code, message: text });
  expect(res.headers['request-id']).toBe(errorOf(res).innerError['request-id']);
  expect(res.headers['client-request-id']).toBeTruthy();
}

let t: TestSandbox;
let token: string;
beforeAll(async () => {
  t = await startTestSandbox({ tenant: errorsTenant() });
  token = await graphAppToken(t);
});
afterAll(() => t.stop());

const sendMail = (mailbox: string, init: { token?: string; body?: unknown; headers?: Record<string, string> } = {}) =>
  graphRequest(t, `/v1.0/users/${mailbox}/sendMail`, { token, body: { message: message() }, ...init } as Parameters<typeof graphRequest>[2]);
const tokenOf = (app: { appId: string }) => graphAppToken(t, { clientId: app.appId, clientSecret: SECRET });

describe('the errors of the facts file', () => {
  it('400 ErrorMimeContentInvalidBase64String: MIME content that is not base64', async () => {
    const res = await sendMail(RELAY, { headers: { 'content-type': 'text/plain' }, body: 'From: a@b\r\nSubject: not encoded\r\n\r\nhello' });
    expectGraphError(res, 400, 'ErrorMimeContentInvalidBase64String', 'Invalid base64 string for MIME content.');
  });

  it('403 ErrorSendAsDenied: a From the mailbox holds no SendAs on', async () => {
    const res = await sendMail(RELAY, { body: { message: message({ from: { emailAddress: { address: ALICE } } }) } });
    expectGraphError(res, 403, 'ErrorSendAsDenied', 'The user account which was used to submit this request does not have the right to send mail on behalf of the specified sending account., Cannot submit message.');
  });

  it('403 ErrorAccessDenied: an Application Access Policy that leaves the mailbox out (and sending from a mailbox inside it works)', async () => {
    const scoped = await tokenOf(APPS.policyScoped);
    const res = await sendMail(RELAY, { token: scoped });
    expectGraphError(res, 403, 'ErrorAccessDenied', 'Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly AccessPolicy settings.');
    expect(errorOf(res).message).toContain('Blocked by tenant configured AppOnly AccessPolicy settings');
    expect((await sendMail(NOREPLY, { token: scoped })).status).toBe(202);
  });

  it('404 MailboxNotEnabledForRESTAPI: a user in an accepted domain without an Exchange Online mailbox', async () => {
    expectGraphError(await sendMail('nobody@contoso.example'), 404, 'MailboxNotEnabledForRESTAPI', 'The mailbox is either inactive, soft-deleted, or is hosted on-premise.');
  });

  it('413 ErrorMessageSizeExceeded: a request over about 4 MB', async () => {
    const big = message({ attachments: [{ '@odata.type': '#microsoft.graph.fileAttachment', name: 'big.bin', contentBytes: Buffer.alloc(3.5 * 1024 * 1024).toString('base64') }] });
    expectGraphError(await sendMail(RELAY, { body: { message: big } }), 413, 'ErrorMessageSizeExceeded', 'The message exceeds the maximum supported size.');
  });

  it('413 ErrorMessageSizeExceeded: a message over the mailbox’s MaxSendSize (bob: 100,000 bytes)', async () => {
    const attachment = { '@odata.type': '#microsoft.graph.fileAttachment', name: 'scan.pdf', contentBytes: Buffer.alloc(90_000, 1).toString('base64') };
    expectGraphError(await sendMail(BOB, { body: { message: message({ attachments: [attachment] }) } }), 413, 'ErrorMessageSizeExceeded', 'The message exceeds the maximum supported size.');
    expect((await sendMail(BOB)).status).toBe(202);
  });
});

describe('authentication and permissions', () => {
  it('401 InvalidAuthenticationToken without a token, with a WWW-Authenticate challenge', async () => {
    const res = await sendMail(RELAY, { token: '' });
    expectGraphError(res, 401, 'InvalidAuthenticationToken', 'Access token is empty.');
    expect(res.headers['www-authenticate']).toMatch(/^Bearer realm=""/);
  });

  it('401 for a token issued for Exchange instead of Graph, and for a token that is not one', async () => {
    const exchange = await confidentialClient(t, { clientId: DEMO.appOnly.clientId, clientSecret: DEMO.appOnly.secret }).acquireTokenByClientCredential({ scopes: [EXCHANGE_DEFAULT_SCOPE] });
    expectGraphError(await sendMail(RELAY, { token: exchange!.accessToken }), 401, 'InvalidAuthenticationToken', 'Access token validation failure. Invalid audience.');
    expectGraphError(await sendMail(RELAY, { token: 'not-a-jwt' }), 401, 'InvalidAuthenticationToken', 'CompactToken parsing failed with error code: 80049217');
  });

  it('403 ErrorAccessDenied for an app without the Mail.Send role', async () => {
    expectGraphError(await sendMail(RELAY, { token: await tokenOf(APPS.noGraphRole) }), 403, 'ErrorAccessDenied', 'Access is denied. Check credentials and try again.');
  });

  it('drafts need Mail.ReadWrite: 403 ErrorAccessDenied for an app with Mail.Send only', async () => {
    const scoped = await tokenOf(APPS.policyScoped);
    expectGraphError(await graphRequest(t, `/v1.0/users/${NOREPLY}/messages`, { token: scoped, body: message() }), 403, 'ErrorAccessDenied', 'Access is denied. Check credentials and try again.');
  });

  it('RBAC for Applications grants Mail.Send within its scope only', async () => {
    const rbac = await tokenOf(APPS.rbacOnly);
    expect((await sendMail(NOREPLY, { token: rbac })).status).toBe(202);
    expectGraphError(await sendMail(RELAY, { token: rbac }), 403, 'ErrorAccessDenied', 'Access is denied. Check credentials and try again.');
  });

  it('404 ErrorInvalidUser for a name that is no user of the tenant', async () => {
    expectGraphError(await sendMail('someone@fabrikam.example'), 404, 'ErrorInvalidUser', "The requested user 'someone@fabrikam.example' is invalid.");
  });
});

describe('malformed requests', () => {
  it('400 for JSON that does not parse, and for an empty body', async () => {
    expectGraphError(await sendMail(RELAY, { headers: { 'content-type': 'application/json' }, body: '{"message": ' }), 400, 'BadRequest', 'Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.');
    expectGraphError(await sendMail(RELAY, { headers: { 'content-type': 'application/json' }, body: '' }), 400, 'BadRequest', 'Empty Payload. JSON content expected.');
  });

  it('400 ErrorInvalidRecipients for a message without recipients, or with an address that is none', async () => {
    expectGraphError(await sendMail(RELAY, { body: { message: message({ toRecipients: [] }) } }), 400, 'ErrorInvalidRecipients', "At least one recipient is not valid., A message can't be sent because it contains no recipients.");
    const bad = await sendMail(RELAY, { body: { message: message({ toRecipients: [{ emailAddress: { address: 'alice' } }] }) } });
    expectGraphError(bad, 400, 'ErrorInvalidRecipients', "At least one recipient is not valid., Recipient 'alice' is not resolved. All recipients must be resolved before a message can be submitted.");
  });

  it('400 for internetMessageHeaders not starting with x-, or more than 5 of them', async () => {
    const named = await sendMail(RELAY, { body: { message: message({ internetMessageHeaders: [{ name: 'Priority', value: 'urgent' }] }) } });
    expectGraphError(named, 400, 'InvalidInternetMessageHeader', "The internet message header name 'Priority' should start with 'x-' or 'X-'.");
    const six = Array.from({ length: 6 }, (_, i) => ({ name: `x-h${i}`, value: String(i) }));
    expectGraphError(await sendMail(RELAY, { body: { message: message({ internetMessageHeaders: six }) } }), 400, 'InvalidInternetMessageHeaderCollection', 'Maximum number of headers in one message should be less than or equal to 5.');
  });

  it('400 for a path Graph does not know', async () => {
    expectGraphError(await graphRequest(t, `/v1.0/users/${RELAY}/sendMessage`, { token, body: {} }), 400, 'BadRequest', "Resource not found for the segment 'sendMessage'.");
  });
});

describe('expired tokens', () => {
  it('401 once the token has expired on the sandbox clock', async () => {
    const fresh = await graphAppToken(t);
    t.sandbox.clock.advance(2 * 3600 * 1000);
    expectGraphError(await sendMail(RELAY, { token: fresh }), 401, 'InvalidAuthenticationToken', 'Lifetime validation failed, the token is expired.');
  });
});
