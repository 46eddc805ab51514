// Reading the sending mailbox over Graph, as relay365's bounce reader does: list the Inbox newer
// than a time ($filter/$orderby/$select/$top, paged by @odata.nextLink), fetch a report's MIME
// ($value). Listing needs Mail.ReadBasic or more, the MIME Mail.Read.
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Tenant } from '../../sandbox/tenant/schema.js';
import { DEMO, demoTenant, graphAppToken, graphRequest, startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';

const RELAY = DEMO.relay.address;

function tenantWith(roles: string[]): Tenant {
  const tenant = demoTenant();
  const app = tenant.apps.find((a) => a.appId === DEMO.appOnly.clientId)!;
  app.applicationPermissions = [...app.applicationPermissions.filter((p) => p.resource !== 'Microsoft Graph'), { resource: 'Microsoft Graph', roles }];
  return tenant;
}

let t: TestSandbox;
let token: string;
beforeAll(async () => {
  t = await startTestSandbox({ tenant: tenantWith(['Mail.Send', 'Mail.Read']) });
  token = await graphAppToken(t);
});
afterAll(() => t.stop());
beforeEach(() => t.sandbox.mailboxes.clear());

const send = (subject: string, to: string) =>
  graphRequest(t, `/v1.0/users/${RELAY}/sendMail`, { token, body: { message: { subject, body: { contentType: 'text', content: 'x' }, toRecipients: [{ emailAddress: { address: to } }] } } });
const get = (path: string, as = token) => graphRequest(t, path, { method: 'GET', token: as });
const inbox = (query: string) => `/v1.0/users/${RELAY}/mailFolders/inbox/messages?${query}`;

describe('listing the Inbox and reading a report', () => {
  it('lists the reports newer than a time, oldest first, with the properties asked for, and serves their MIME', async () => {
    const since = new Date(Date.now() - 1000).toISOString().slice(0, 19) + 'Z';
    expect((await send('Order 1', 'ghost@contoso.example')).status).toBe(202);
    expect((await send('Order 2', 'nobody@contoso.example')).status).toBe(202);
    const res = await get(inbox(`$filter=${encodeURIComponent(`receivedDateTime ge ${since}`)}&$orderby=receivedDateTime asc&$select=subject,receivedDateTime,internetMessageId&$top=50`));
    expect(res.status).toBe(200);
    const body = JSON.parse(res.text) as { value: Array<Record<string, unknown>>; '@odata.nextLink'?: string };
    expect(body.value.map((m) => m.subject)).toEqual(['Undeliverable: Order 1', 'Undeliverable: Order 2']);
    expect(Object.keys(body.value[0]!).sort()).toEqual(['@odata.etag', 'id', 'internetMessageId', 'receivedDateTime', 'subject']);
    expect(body.value[0]!.receivedDateTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(body['@odata.nextLink']).toBeUndefined();
    const mime = await get(`/v1.0/users/${RELAY}/messages/${String(body.value[0]!.id)}/$value`);
    expect(mime.status).toBe(200);
    const report = await simpleParser(mime.text, { keepDeliveryStatus: true });
    expect(report.attachments.find((a) => a.contentType === 'message/delivery-status')?.content.toString()).toContain('Final-Recipient: rfc822;ghost@contoso.example');
    const later = new Date(Date.now() + 60_000).toISOString().slice(0, 19) + 'Z';
    expect(JSON.parse((await get(inbox(`$filter=receivedDateTime gt ${later}`))).text).value).toEqual([]);
  });

  it('pages by $top with @odata.nextLink, newest first by default', async () => {
    await send('A', 'ghost@contoso.example');
    await send('B', 'ghost@contoso.example');
    const first = JSON.parse((await get(inbox('$top=1&$select=subject'))).text) as { value: Array<{ subject: string }>; '@odata.nextLink': string };
    expect(first.value.map((m) => m.subject)).toEqual(['Undeliverable: B']);
    const second = JSON.parse((await get(first['@odata.nextLink'])).text) as { value: Array<{ subject: string }>; '@odata.nextLink'?: string };
    expect(second.value.map((m) => m.subject)).toEqual(['Undeliverable: A']);
    expect(second['@odata.nextLink']).toBeUndefined();
  });

  it('refuses a filter it cannot answer, and an unknown folder', async () => {
    const bad = await get(inbox(`$filter=${encodeURIComponent("subject eq 'x'")}`));
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.text).error.code).toBe('BadRequest');
    expect((await get(`/v1.0/users/${RELAY}/mailFolders/nowhere/messages`)).status).toBe(404);
  });
});

describe('permissions to read', () => {
  it('lists with Mail.ReadBasic, but serves no MIME without Mail.Read; nothing without either', async () => {
    t.sandbox.tenant.replace(tenantWith(['Mail.Send', 'Mail.ReadBasic']));
    const basic = await graphAppToken(t);
    await graphRequest(t, `/v1.0/users/${RELAY}/sendMail`, { token: basic, body: { message: { subject: 'x', body: { contentType: 'text', content: 'x' }, toRecipients: [{ emailAddress: { address: 'ghost@contoso.example' } }] } } });
    const list = await get(inbox('$select=subject'), basic);
    expect(list.status).toBe(200);
    const [report] = JSON.parse(list.text).value as Array<{ id: string }>;
    const mime = await get(`/v1.0/users/${RELAY}/messages/${report!.id}/$value`, basic);
    expect(mime.status).toBe(403);
    expect(JSON.parse(mime.text).error.code).toBe('ErrorAccessDenied');
    t.sandbox.tenant.replace(tenantWith(['Mail.Send']));
    const sendOnly = await graphAppToken(t);
    expect((await get(inbox(''), sendOnly)).status).toBe(403);
    t.sandbox.tenant.replace(tenantWith(['Mail.Send', 'Mail.Read']));
  });
});
