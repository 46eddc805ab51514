// Graph sendMail against the sandbox, as a client sees it: a token from the real msal-node, one
// HTTPS request (JSON or base64 MIME), 202, and the message readable back from the mailboxes.
import { simpleParser, type ParsedMail } from 'mailparser';
import MailComposer from 'nodemailer/lib/mail-composer';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { INTERNET_OUTBOX, MailFolder, type MailEntry } from '../../sandbox/state/mailboxes.js';
import type { Tenant } from '../../sandbox/tenant/schema.js';
import { DEMO, demoTenant, graphAppToken, graphRequest, publicClient, startTestSandbox, submitDeviceLogin, type TestSandbox } from '../helpers/sandbox.js';

const RELAY = DEMO.relay.address;
const ALICE = DEMO.alice.address;
const BOB = DEMO.bob.address;
const NOREPLY = 'noreply@contoso.example';
const EXTERNAL = 'partner@fabrikam.example';

/** The demo tenant with Graph permissions for both apps: app-only Mail.Send, delegated Mail.Send for users. */
function graphTenant(): Tenant {
  const tenant = demoTenant();
  const appOnly = tenant.apps.find((a) => a.appId === DEMO.appOnly.clientId)!;
  appOnly.applicationPermissions = [...appOnly.applicationPermissions.filter((p) => p.resource !== 'Microsoft Graph'), { resource: 'Microsoft Graph', roles: ['Mail.Send', 'Mail.ReadWrite'] }];
  const delegated = tenant.apps.find((a) => a.appId === DEMO.delegated.clientId)!;
  delegated.delegatedPermissions = [...delegated.delegatedPermissions, { resource: 'Microsoft Graph', scopes: ['Mail.Send', 'Mail.Send.Shared'] }];
  // Add-MailboxPermission noreply@ -User alice -AccessRights FullAccess (no SendAs yet).
  tenant.exchange.mailboxPermissions.push({ mailbox: NOREPLY, user: ALICE, accessRights: ['FullAccess'] });
  return tenant;
}

let t: TestSandbox;
let token: string;
beforeAll(async () => {
  t = await startTestSandbox({ tenant: graphTenant(), entra: { deviceCodeIntervalSeconds: 0.05 } });
  token = await graphAppToken(t);
});
afterAll(() => t.stop());
beforeEach(() => t.sandbox.mailboxes.clear());

const messages = (mailbox: string, folder: MailFolder) => t.sandbox.mailboxes.list({ mailbox, folder });
async function parsed(entry: MailEntry | undefined): Promise<ParsedMail> {
  expect(entry).toBeDefined();
  return simpleParser((await t.sandbox.mailboxes.readRaw(entry!.id))!);
}
const sendMail = (mailbox: string, body: unknown, headers: Record<string, string> = {}) => graphRequest(t, `/v1.0/users/${mailbox}/sendMail`, { token, body: body as object, headers });

describe('sendMail with a JSON message', () => {
  const message = {
    subject: 'Invoice 4711',
    body: { contentType: 'Text', content: 'Please find the invoice attached.' },
    toRecipients: [{ emailAddress: { address: ALICE, name: 'Alice Smith' } }],
    ccRecipients: [{ emailAddress: { address: BOB } }],
    bccRecipients: [{ emailAddress: { address: EXTERNAL } }],
    internetMessageHeaders: [{ name: 'x-invoice-id', value: '4711' }],
    attachments: [{ '@odata.type': '#microsoft.graph.fileAttachment', name: 'invoice.txt', contentType: 'text/plain', contentBytes: Buffer.from('total: 42 EUR').toString('base64') }],
  };

  it('answers 202 with an empty body and Graph request ids, echoing the client-request-id', async () => {
    const res = await sendMail(RELAY, { message }, { 'client-request-id': 'c0ffee00-0000-4000-8000-000000000001' });
    expect(res.status).toBe(202);
    expect(res.text).toBe('');
    expect(res.headers['request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers['client-request-id']).toBe('c0ffee00-0000-4000-8000-000000000001');
    const event = t.sandbox.events.list({ endpoint: 'graph' }).at(-1);
    expect(event).toMatchObject({ action: 'sendMail', outcome: 'ok', status: 202, appId: DEMO.appOnly.clientId, mailbox: RELAY, session: 'c0ffee00-0000-4000-8000-000000000001' });
  });

  it('delivers a real MIME message to every recipient: subject, body, headers, attachment, and no Bcc header', async () => {
    expect((await sendMail(RELAY, { message })).status).toBe(202);
    const alice = await parsed(messages(ALICE, MailFolder.inbox)[0]);
    expect(alice.subject).toBe('Invoice 4711');
    expect(alice.text?.trim()).toBe('Please find the invoice attached.');
    expect(alice.from?.value).toEqual([{ address: RELAY, name: 'Relay Service Account' }]);
    expect(alice.to).toMatchObject({ value: [{ address: ALICE, name: 'Alice Smith' }] });
    expect(alice.cc).toMatchObject({ value: [{ address: BOB }] });
    expect(alice.bcc).toBeUndefined();
    expect(alice.headers.get('x-invoice-id')).toBe('4711');
    expect(alice.messageId).toMatch(/^<.+@.+>$/);
    expect(alice.attachments.map((a) => [a.filename, a.contentType, a.content.toString()])).toEqual([['invoice.txt', 'text/plain', 'total: 42 EUR']]);
    expect(messages(BOB, MailFolder.inbox)).toHaveLength(1);
    const outbox = t.sandbox.mailboxes.list({ mailbox: INTERNET_OUTBOX });
    expect(outbox.map((e) => e.envelope)).toEqual([{ mailFrom: RELAY, rcptTo: [EXTERNAL] }]);
    expect((await parsed(outbox[0])).bcc).toBeUndefined();
  });

  it('keeps a copy with its Bcc in the sender’s Sent Items by default, and none with saveToSentItems false', async () => {
    expect((await sendMail(RELAY, { message })).status).toBe(202);
    const sent = messages(RELAY, MailFolder.sentItems);
    expect(sent).toHaveLength(1);
    const copy = await parsed(sent[0]);
    expect(copy.bcc).toMatchObject({ value: [{ address: EXTERNAL }] });
    expect(copy.messageId).toBe((await parsed(messages(ALICE, MailFolder.inbox)[0])).messageId);

    await t.sandbox.mailboxes.clear();
    expect((await sendMail(RELAY, { message, saveToSentItems: false })).status).toBe(202);
    expect((await sendMail(RELAY, { message, saveToSentItems: 'false' })).status).toBe(202);
    expect(messages(RELAY, MailFolder.sentItems)).toHaveLength(0);
    expect(messages(ALICE, MailFolder.inbox)).toHaveLength(2);
  });

  it('sends an HTML body, and reads PascalCase property names as Exchange does', async () => {
    const res = await sendMail(RELAY, { Message: { Subject: 'Hi', Body: { ContentType: 'HTML', Content: '<p>Hello <b>Alice</b></p>' }, ToRecipients: [{ EmailAddress: { Address: ALICE } }] } });
    expect(res.status).toBe(202);
    const alice = await parsed(messages(ALICE, MailFolder.inbox)[0]);
    expect(alice.subject).toBe('Hi');
    expect(alice.html).toContain('<b>Alice</b>');
  });

  it('sends as another address the mailbox holds SendAs on (Add-RecipientPermission noreply -Trustee relay)', async () => {
    const res = await sendMail(RELAY, { message: { ...message, from: { emailAddress: { address: NOREPLY } } } });
    expect(res.status).toBe(202);
    expect((await parsed(messages(ALICE, MailFolder.inbox)[0])).from?.value[0]?.address).toBe(NOREPLY);
  });

  it('accepts a recipient in an accepted domain without a mailbox, and the sender gets a non-delivery report', async () => {
    const res = await sendMail(RELAY, { message: { subject: 'Hello', body: { contentType: 'text', content: 'x' }, toRecipients: [{ emailAddress: { address: 'nobody@contoso.example' } }] } });
    expect(res.status).toBe(202);
    const ndr = await parsed(messages(RELAY, MailFolder.inbox)[0]);
    expect(ndr.subject).toBe('Undeliverable: Hello');
    expect(ndr.text).toContain("Remote server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup'");
  });

  it('writes the report as Exchange Online does: multipart/report with the delivery status and the original headers, Message-ID included', async () => {
    await sendMail(RELAY, { message: { subject: 'Invoice 42', body: { contentType: 'text', content: 'x' }, toRecipients: [{ emailAddress: { address: 'nobody@contoso.example' } }, { emailAddress: { address: ALICE } }] } });
    const sent = await parsed(messages(RELAY, MailFolder.sentItems)[0]);
    // keepDeliveryStatus: the machine-readable part as mailparser gives it to a program (not folded into the text).
    const ndr = await simpleParser((await t.sandbox.mailboxes.readRaw(messages(RELAY, MailFolder.inbox)[0]!.id))!, { keepDeliveryStatus: true });
    expect(ndr.headers.get('content-type')).toMatchObject({ value: 'multipart/report', params: { 'report-type': 'delivery-status' } });
    expect(ndr.headers.get('auto-submitted')).toBe('auto-replied');
    expect(ndr.inReplyTo).toBe(sent.messageId);
    const status = ndr.attachments.find((a) => a.contentType === 'message/delivery-status')!.content.toString();
    expect(status).toMatch(/^Reporting-MTA: dns;\S+\.prod\.outlook\.com\r\n/);
    expect(status).toContain('\r\n\r\nOriginal-Recipient: rfc822;nobody@contoso.example\r\nFinal-Recipient: rfc822;nobody@contoso.example\r\nAction: failed\r\nStatus: 5.1.10\r\n');
    expect(status).toContain('Diagnostic-Code: smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup');
    expect(status).not.toContain(ALICE);
    const headers = ndr.attachments.find((a) => a.contentType === 'text/rfc822-headers')!.content.toString();
    expect(headers).toContain(`Message-ID: ${sent.messageId}`);
    expect(headers).toContain('Subject: Invoice 42');
  });
});

describe('sendMail with MIME content (text/plain, base64)', () => {
  async function mime(): Promise<Buffer> {
    const node = new MailComposer({
      from: `Relay <${RELAY}>`,
      to: ALICE,
      bcc: BOB,
      subject: 'MIME from the app',
      text: 'Sent as MIME.',
      attachments: [{ filename: 'report.csv', content: 'a,b\n1,2\n' }],
      newline: 'win',
    }).compile();
    node.keepBcc = true;
    return node.build();
  }

  it('delivers the message as sent, without its Bcc header for recipients, and always keeps it in Sent Items', async () => {
    const raw = await mime();
    const res = await graphRequest(t, `/v1.0/users/${RELAY}/sendMail`, { token, headers: { 'content-type': 'text/plain' }, body: raw.toString('base64').replace(/(.{76})/g, '$1\r\n') });
    expect(res.status).toBe(202);
    expect(res.text).toBe('');
    const alice = await parsed(messages(ALICE, MailFolder.inbox)[0]);
    expect(alice.subject).toBe('MIME from the app');
    expect(alice.text?.trim()).toBe('Sent as MIME.');
    expect(alice.bcc).toBeUndefined();
    expect(alice.attachments[0]?.content.toString()).toBe('a,b\n1,2\n');
    const bob = messages(BOB, MailFolder.inbox);
    expect(bob).toHaveLength(1);
    expect((await parsed(bob[0])).bcc).toBeUndefined();
    const sent = await parsed(messages(RELAY, MailFolder.sentItems)[0]);
    expect(sent.bcc).toMatchObject({ value: [{ address: BOB }] });
  });
});

describe('delegated sending (a signed-in user, scp Mail.Send)', () => {
  it('sends from the user’s own mailbox via /me, and may not use another user’s mailbox', async () => {
    const pca = publicClient(t, { clientId: DEMO.delegated.clientId });
    const result = await pca.acquireTokenByDeviceCode({
      scopes: ['https://graph.microsoft.com/Mail.Send'],
      deviceCodeCallback: (r) => void submitDeviceLogin(t, r.userCode, DEMO.alice),
    });
    const userToken = result!.accessToken;
    const message = { subject: 'From Alice', body: { contentType: 'text', content: 'hi' }, toRecipients: [{ emailAddress: { address: BOB } }] };
    const own = await graphRequest(t, '/v1.0/me/sendMail', { token: userToken, body: { message } });
    expect(own.status).toBe(202);
    expect((await parsed(messages(BOB, MailFolder.inbox)[0])).from?.value[0]?.address).toBe(ALICE);
    const other = await graphRequest(t, `/v1.0/users/${BOB}/sendMail`, { token: userToken, body: { message } });
    expect(other.status).toBe(403);
    expect(JSON.parse(other.text).error).toMatchObject({ code: 'ErrorAccessDenied', message: 'Access is denied. Check credentials and try again.' });
  });

  it('sends from a shared mailbox with Mail.Send.Shared once the user holds SendAs on it (FullAccess alone: ErrorSendAsDenied)', async () => {
    const pca = publicClient(t, { clientId: DEMO.delegated.clientId });
    const result = await pca.acquireTokenByDeviceCode({
      scopes: ['https://graph.microsoft.com/.default'],
      deviceCodeCallback: (r) => void submitDeviceLogin(t, r.userCode, DEMO.alice),
    });
    const userToken = result!.accessToken;
    const message = { subject: 'From the team mailbox', body: { contentType: 'text', content: 'hi' }, toRecipients: [{ emailAddress: { address: BOB } }] };
    const denied = await graphRequest(t, `/v1.0/users/${NOREPLY}/sendMail`, { token: userToken, body: { message } });
    expect(denied.status).toBe(403);
    expect(JSON.parse(denied.text).error.code).toBe('ErrorSendAsDenied');
    t.sandbox.tenant.update((d) => void d.exchange.recipientPermissions.push({ mailbox: NOREPLY, trustee: ALICE, accessRights: ['SendAs'] }));
    const sent = await graphRequest(t, `/v1.0/users/${NOREPLY}/sendMail`, { token: userToken, body: { message } });
    expect(sent.status).toBe(202);
    expect((await parsed(messages(BOB, MailFolder.inbox)[0])).from?.value[0]?.address).toBe(NOREPLY);
    expect(messages(NOREPLY, MailFolder.sentItems)).toHaveLength(1);
  });

  it('answers /me for an app-only token with Graph’s 400', async () => {
    const res = await graphRequest(t, '/v1.0/me/sendMail', { token, body: { message: {} } });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text).error).toMatchObject({ code: 'BadRequest', message: '/me request is only valid with delegated authentication flow.' });
  });
});
