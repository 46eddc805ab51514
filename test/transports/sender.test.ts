/**
 * The header From against what a route's mailbox may send as: predicted SendAsDenied, and
 * the From rewritten to the mailbox with the original kept as Reply-To — the rest of the
 * message byte for byte.
 */
import { Readable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { prepareSender } from '../../src/transports/m365/sender.js';
import type { DeliveryJob } from '../../src/transports/transport.js';

const BODY = 'Content-Type: text/plain\r\n\r\nInvoice 4711 attached.\r\n.dot line\r\n';
const message = (from: string, extra = '') => `Received: from sap (x)\r\n\tby relay; date\r\nFrom: ${from}\r\nTo: anna@fabrikam.example\r\n${extra}Subject: Invoice\r\n${BODY}`;

function job(raw: string, mailFrom = 'sapadmin@localhost'): DeliveryJob {
  return {
    messageId: 'm1',
    mailFrom,
    mailParams: {},
    recipients: [{ idx: 0, address: 'anna@fabrikam.example', params: {} }],
    size: raw.length,
    openMessage: async () => Readable.from([Buffer.from(raw)]),
    handOver: async () => new Map(),
    signal: new AbortController().signal,
    log: pino({ level: 'silent' }),
  };
}

const read = async (stream: Readable) => Buffer.concat(await stream.toArray()).toString();
const facts = { route: 'm365', transport: 'graph' as const, mailbox: 'relay@contoso.example' };
const sender = (overrides: Partial<{ allowed: string[]; rewriteEnvelope: boolean; rewriteFrom: 'never' | 'when-not-allowed' | 'always' }>) => ({
  allowed: [],
  rewriteEnvelope: false,
  rewriteFrom: 'never' as const,
  ...overrides,
});

describe('sender handling', () => {
  it('lets Microsoft decide when the route lists no allowed senders', async () => {
    const prepared = await prepareSender(job(message('SAP <sap@contoso.example>')), 'relay@contoso.example', sender({}), facts);
    expect(prepared).toMatchObject({ envelopeFrom: 'sapadmin@localhost', headerFrom: 'sap@contoso.example', refusal: null });
    expect(await read(await prepared.openMessage())).toBe(message('SAP <sap@contoso.example>'));
  });

  it('predicts SendAsDenied for a From outside the allowed list, with the PowerShell fix', async () => {
    const prepared = await prepareSender(job(message('CEO <ceo@contoso.example>')), 'relay@contoso.example', sender({ allowed: ['*@sap.contoso.example', 'noreply@contoso.example'] }), facts);
    expect(prepared.refusal?.verdict).toBe('permanent');
    expect(prepared.refusal?.diagnosis).toBe(
      'The message is from ceo@contoso.example, which relay@contoso.example may not send as (not in routes.m365.sender.allowed): Exchange Online would refuse it with SendAsDenied, so it was not sent.',
    );
    expect(prepared.refusal?.fix).toContain('Add-RecipientPermission -Identity ceo@contoso.example -Trustee relay@contoso.example -AccessRights SendAs');
  });

  it('accepts the mailbox itself, exact addresses and *@domain', async () => {
    for (const from of ['relay@contoso.example', 'Jobs <JOBS@sap.contoso.example>', 'noreply@contoso.example']) {
      const prepared = await prepareSender(job(message(from)), 'relay@contoso.example', sender({ allowed: ['*@sap.contoso.example', 'noreply@contoso.example'] }), facts);
      expect(prepared.refusal).toBeNull();
    }
  });

  it('rewrites the From to the mailbox, keeps the original as Reply-To, and leaves the rest alone', async () => {
    const prepared = await prepareSender(job(message('SAP System <sapadmin@localhost>')), 'relay@contoso.example', sender({ rewriteFrom: 'when-not-allowed', allowed: ['*@contoso.example'] }), facts);
    expect(prepared.refusal).toBeNull();
    const out = await read(await prepared.openMessage());
    expect(out).toContain('From: "SAP System" <relay@contoso.example>\r\n');
    expect(out).toContain('Reply-To: "SAP System" <sapadmin@localhost>\r\n');
    expect(out.endsWith('\r\n\r\nInvoice 4711 attached.\r\n.dot line\r\n')).toBe(true);
    expect(out.startsWith('Received: from sap (x)\r\n\tby relay; date\r\n')).toBe(true);
  });

  it('keeps an existing Reply-To, and rewrites the envelope only when asked or for a null sender', async () => {
    const raw = message('sapadmin@localhost', 'Reply-To: basis-team@contoso.example\r\n');
    const prepared = await prepareSender(job(raw), 'relay@contoso.example', sender({ rewriteFrom: 'always', rewriteEnvelope: true }), facts);
    const out = await read(await prepared.openMessage());
    expect(out).toContain('From: relay@contoso.example\r\n');
    expect(out).toContain('Reply-To: basis-team@contoso.example\r\n');
    expect(out).not.toContain('sapadmin@localhost');
    expect(prepared.envelopeFrom).toBe('relay@contoso.example');
    expect((await prepareSender(job(raw, ''), 'relay@contoso.example', sender({}), facts)).envelopeFrom).toBe('relay@contoso.example');
  });
});
