// The non-delivery report Exchange sends back when a recipient in the organisation's own domains
// has no mailbox: Graph accepted the message (202), the report arrives in the sender's Inbox.
import MailComposer from 'nodemailer/lib/mail-composer';
import type { SandboxContext } from '../context.js';
import { MailFolder } from '../state/mailboxes.js';
import type { Mailbox } from '../tenant/schema.js';

/** Exchange's diagnostic for an unknown internal recipient. */
export const RECIPIENT_NOT_FOUND = '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup';

export async function sendNonDeliveryReport(ctx: SandboxContext, r: { mailbox: Mailbox; recipients: readonly string[]; subject: string }): Promise<void> {
  const domain = ctx.tenant.current.domains[0] ?? r.mailbox.address.split('@')[1] ?? 'localhost';
  const lines = r.recipients.flatMap((rcpt) => [
    `Your message to ${rcpt} couldn't be delivered.`,
    `${rcpt.split('@')[0]} wasn't found at ${rcpt.split('@')[1] ?? domain}.`,
    '',
    `Remote server returned '${RECIPIENT_NOT_FOUND}'`,
    '',
  ]);
  const report = new MailComposer({
    from: { name: 'Microsoft Outlook', address: `MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@${domain}` },
    to: r.mailbox.address,
    subject: `Undeliverable: ${r.subject}`,
    text: lines.join('\r\n'),
    date: ctx.clock.date(),
    newline: 'win',
  }).compile();
  await ctx.mailboxes.put({ raw: report.createReadStream(), mailbox: r.mailbox.address, folder: MailFolder.inbox, envelope: { mailFrom: '', rcptTo: [r.mailbox.address] }, via: 'graph' });
}
