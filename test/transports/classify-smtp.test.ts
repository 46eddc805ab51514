// The classifier on its own, for what the sandbox cannot vary: the facts file's "unconfirmed" rows
// are matched by status code and stable keyword, so other wordings of the same reply (Microsoft's
// texts drift, and carry a trailer) get the same verdict; neighbouring codes are not confused; and
// what no row knows falls back to the meaning of its code. Every row itself is produced against
// the sandbox in smtp-basic, smtp-sending, smtp-oauth, direct-send and connector tests.
import { describe, expect, it } from 'vitest';
import { classifySmtpReply, type SmtpRefusalContext } from '../../src/transports/m365/classify-smtp.js';
import type { RouteFacts } from '../../src/transports/m365/route-facts.js';
import { tokenClaims } from '../../src/transports/m365/smtp-oauth.js';
import { parseReply } from '../../src/transports/smtp-reply.js';

const NOW = Date.parse('2026-03-02T08:00:00Z');
const TRAILER = ' [AM4PEPF00027A5F.eurprd04.prod.outlook.com 2026-03-02T08:00:00.000Z 08DC84A1B2C3D4E5]';
const submission: RouteFacts = { route: 'm365', transport: 'smtp-oauth', mailbox: 'relay@contoso.com', clientId: 'app-id', endpoint: 'smtp.office365.com:587' };
const directSend: RouteFacts = { route: 'scanner', transport: 'direct-send', domain: 'contoso.com', endpoint: 'contoso-com.mail.protection.outlook.com:25' };
const connector: RouteFacts = { route: 'hub', transport: 'connector', domain: 'contoso.com', endpoint: 'contoso-com.mail.protection.outlook.com:25' };

const classify = (line: string, ctx: Partial<SmtpRefusalContext> & { facts: RouteFacts }) => classifySmtpReply(parseReply(line), { now: NOW, ...ctx });
/** What an admin is told: the same for two wordings of one reply. */
const told = (o: ReturnType<typeof classify>) => ({ verdict: o.verdict, diagnosis: o.diagnosis, fix: o.fix, retryAt: o.retryAt });

describe('unconfirmed rows: status code and keyword, not the whole line', () => {
  it('550 5.7.64 TenantAttribution in other wordings is still Direct Send outside the tenant (and a connector mismatch)', () => {
    const ctx = { facts: directSend, recipient: 'partner@fabrikam.com' };
    const documented = classify(`550 5.7.64 TenantAttribution; Relay Access Denied${TRAILER}`, ctx);
    expect(documented.verdict).toBe('permanent');
    expect(told(classify('550 5.7.64 TenantAttribution; Relay Access Denied ATTR36 [DB5EUR03FT012.eop-EUR03.prod.protection.outlook.com]', ctx))).toEqual(told(documented));
    expect(classify(`550 5.7.64 TenantAttribution; Relay Access Denied${TRAILER}`, { facts: connector, certificateNames: ['relay.contoso.com'] })).toMatchObject({
      verdict: 'route-broken',
      diagnosis: expect.stringContaining("the client certificate (relay.contoso.com) matches no inbound connector's TlsSenderCertificateName"),
    });
  });

  it('550 5.5.3, 552 5.3.4, 432 4.3.2 and 421 4.4.2 in other wordings', () => {
    const ctx = { facts: submission, recipient: 'r501@contoso.com', recipientsPerMessage: 500 };
    expect(told(classify('550 5.5.3 Too many recipients (501 > 500)', ctx))).toEqual(told(classify('550 5.5.3 RESOLVER.ADR.RecipLimit; too many recipients', ctx)));
    expect(told(classify('552 5.3.4 Requested action not taken; message too big', { facts: submission }))).toEqual(told(classify('552 5.3.4 Message size exceeds fixed maximum message size', { facts: submission })));
    const concurrency = classify(`432 4.3.2 Concurrent connections limit exceeded.${TRAILER}`, { facts: submission, concurrency: 3 });
    expect(told(classify('432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded', { facts: submission, concurrency: 3 }))).toEqual(told(concurrency));
    expect(concurrency).toMatchObject({ verdict: 'transient', retryAt: NOW + 60_000 });
    expect(classify('421 4.4.2 Message submission rate for this client has exceeded the configured limit', { facts: submission })).toMatchObject({ verdict: 'transient', retryAt: NOW + 60_000 });
  });

  it('554 5.2.0 quota: retried an hour later', () => {
    expect(classify('554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException', { facts: submission })).toMatchObject({ verdict: 'transient', retryAt: NOW + 3_600_000 });
  });
});

describe('neighbouring codes are not confused', () => {
  it('5.7.606–649 are banned IPs; 5.7.60 is Send As; 5.7.605 and 5.7.650 are neither', () => {
    for (const code of ['5.7.606', '5.7.625', '5.7.649']) {
      expect(classify(`550 ${code} Access denied, banned sending IP [198.51.100.4]`, { facts: connector })).toMatchObject({ verdict: 'route-broken', diagnosis: `Microsoft has banned this relay's sending IP address 198.51.100.4 (550 ${code} banned sending IP).` });
    }
    expect(classify('550 5.7.60 SMTP; Client does not have permissions to send as this sender', { facts: submission, envelopeFrom: 'ap@contoso.com' }).verdict).toBe('permanent');
    for (const code of ['5.7.605', '5.7.650']) expect(classify(`550 ${code} Access denied`, { facts: connector }).diagnosis).not.toMatch(/banned/);
  });

  it('550 5.1.10 RecipientNotFound names the address that does not exist in the tenant, and what to check', () => {
    const o = classify('550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup', { facts: submission, recipient: 'ghost@contoso.com' });
    expect(o.verdict).toBe('permanent');
    expect(o.diagnosis).toBe('ghost@contoso.com does not exist in the tenant (550 5.1.10 RESOLVER.ADR.RecipientNotFound): Exchange Online has no mailbox, group or contact with that address; check the address.');
    expect(o.fix).toContain('Get-Recipient -Identity ghost@contoso.com');
  });

  it('552 5.3.4 about headers is the header row, not the size row', () => {
    expect(classify('552 5.3.4 Header size exceeds fixed maximum size', { facts: submission, size: 10 }).diagnosis).toMatch(/^The message's header block/);
  });

  it('550 5.7.64 on client submission is not explained as Direct Send', () => {
    const result = classify(`550 5.7.64 TenantAttribution; Relay Access Denied${TRAILER}`, { facts: submission, recipient: 'x@fabrikam.com' });
    expect(result).toMatchObject({ verdict: 'permanent', fix: null, diagnosis: 'smtp.office365.com:587 refused x@fabrikam.com: 550 5.7.64 TenantAttribution; Relay Access Denied' });
  });
});

describe('what no row knows', () => {
  it('an unknown refusal at AUTH holds the route; an unknown 5xx at RCPT fails that recipient; 4xx is transient', () => {
    expect(classify('535 5.7.139 Authentication unsuccessful, something new.', { facts: submission, command: 'AUTH XOAUTH2' })).toMatchObject({
      verdict: 'route-broken',
      diagnosis: 'smtp.office365.com:587 refused the route\'s sign-in as relay@contoso.com (535 5.7.139 Authentication unsuccessful, something new.).',
      fix: 'Check routes.m365: its mailbox and credentials.',
    });
    expect(classify(`550 5.4.1 Recipient address rejected: Access denied. AS(201806281)${TRAILER}`, { facts: directSend, recipient: 'nobody@contoso.com', command: 'RCPT TO' })).toMatchObject({
      verdict: 'permanent',
      diagnosis: 'contoso-com.mail.protection.outlook.com:25 refused nobody@contoso.com at RCPT TO: 550 5.4.1 Recipient address rejected: Access denied. AS(201806281)',
    });
    expect(classify('450 4.2.1 try later', { facts: submission, command: 'MAIL FROM' }).verdict).toBe('transient');
  });
});

describe('token claims for the 535 5.7.3 diagnosis', () => {
  it('reads aud, roles and oid from the JWT payload, and nothing from what is not a JWT', () => {
    const payload = Buffer.from(JSON.stringify({ aud: 'https://outlook.office365.com', roles: ['SMTP.SendAsApp'], oid: 'abc', appid: 'x' })).toString('base64url');
    expect(tokenClaims(`e30.${payload}.sig`)).toEqual({ aud: 'https://outlook.office365.com', roles: ['SMTP.SendAsApp'], oid: 'abc' });
    expect(tokenClaims('opaque-token')).toBeUndefined();
  });
});
