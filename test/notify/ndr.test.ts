// Non-delivery reports as they come, read by mailparser: Exchange Online's (returned headers), one
// that returns the whole original (message/rfc822), one that names the original only in
// In-Reply-To, and mail that is no report at all.
import MimeNode from 'nodemailer/lib/mime-node';
import { describe, expect, it } from 'vitest';
import { readNonDeliveryReport } from '../../src/notify/ndr.js';

const STATUS = [
  'Reporting-MTA: dns;SA1PR12MB7123.namprd12.prod.outlook.com',
  '',
  'Original-Recipient: rfc822;Ghost@Contoso.com',
  'Final-Recipient: rfc822;ghost@contoso.com',
  'Action: failed',
  'Status: 5.1.10',
  'Diagnostic-Code: smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not',
  ' found by SMTP address lookup',
  '',
  'Final-Recipient: rfc822;alice@contoso.com',
  'Action: delayed',
  'Status: 4.4.7',
  '',
].join('\r\n');

async function report(returned: 'headers' | 'message' | 'none', headers: Record<string, string> = {}, status = STATUS): Promise<string> {
  const root = new MimeNode('multipart/report; report-type=delivery-status');
  root.setHeader({ From: 'postmaster@contoso.com', To: 'relay@contoso.com', Subject: 'Undeliverable: Invoice', ...headers });
  root.createChild('text/plain').setContent('Your message could not be delivered.');
  root.createChild('message/delivery-status').setContent(status);
  const original = 'Message-ID: <job-4711@erp.contoso.com>\r\nSubject: Invoice\r\n';
  if (returned === 'headers') root.createChild('text/rfc822-headers').setContent(original);
  if (returned === 'message') root.createChild('message/rfc822').setContent(`${original}\r\nThe invoice.\r\n`);
  return Buffer.concat(await root.createReadStream().toArray()).toString();
}

describe('reading a non-delivery report', () => {
  it("takes each failed recipient's addresses, Status and Diagnostic-Code, and the original's Message-ID from the returned headers", async () => {
    expect(await readNonDeliveryReport(await report('headers'))).toEqual({
      originalMessageId: '<job-4711@erp.contoso.com>',
      failed: [
        {
          finalRecipient: 'ghost@contoso.com',
          originalRecipient: 'ghost@contoso.com',
          action: 'failed',
          status: '5.1.10',
          diagnostic: '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup',
        },
      ],
    });
  });

  it('finds the Message-ID in a returned whole message, or else in In-Reply-To', async () => {
    expect((await readNonDeliveryReport(await report('message')))?.originalMessageId).toBe('<job-4711@erp.contoso.com>');
    expect((await readNonDeliveryReport(await report('none', { 'In-Reply-To': '<job-4712@erp.contoso.com>' })))?.originalMessageId).toBe('<job-4712@erp.contoso.com>');
    expect((await readNonDeliveryReport(await report('none')))?.originalMessageId).toBeNull();
  });

  it('is no report for ordinary mail, or a report that fails nobody', async () => {
    expect(await readNonDeliveryReport('From: a@b.example\r\nSubject: Undeliverable: really?\r\n\r\nhello\r\n')).toBeNull();
    expect(await readNonDeliveryReport(await report('headers', {}, 'Reporting-MTA: dns;x\r\n\r\nFinal-Recipient: rfc822;a@b.example\r\nAction: delayed\r\nStatus: 4.4.7\r\n'))).toBeNull();
  });
});
