// The non-delivery report Exchange sends back when a recipient in the organisation's own domains
// has no mailbox: Graph accepted the message (202), the report arrives in the sender's Inbox.
//
// Shaped as Exchange Online's: a multipart/report (RFC 3464) with the text for people, the
// message/delivery-status for programs (Original-Recipient, Final-Recipient, Action, Status,
// Diagnostic-Code), and the original message's headers (text/rfc822-headers), Message-ID
// included; the report itself says what it is (Auto-Submitted, X-MS-Exchange-Organization-SCL)
// and points at the original (In-Reply-To, References).
import MimeNode from 'nodemailer/lib/mime-node';
import type { SandboxContext } from '../context.js';
import { MailFolder } from '../state/mailboxes.js';
import type { Mailbox } from '../tenant/schema.js';
import { newMessageId } from './compose.js';

/** Exchange's diagnostic for an unknown internal recipient. */
export const RECIPIENT_NOT_FOUND = '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup';

/** The server names an Exchange Online report carries (Reporting-MTA, "Generating server"). */
const GENERATING_SERVER = 'SA1PR12MB7123.namprd12.prod.outlook.com';

export interface NonDeliveryReport {
  mailbox: Mailbox;
  recipients: readonly string[];
  subject: string;
  /** The original message's header block, as delivered. */
  originalHeaders: string;
}

export async function sendNonDeliveryReport(ctx: SandboxContext, r: NonDeliveryReport): Promise<void> {
  const domain = ctx.tenant.current.domains[0] ?? r.mailbox.address.split('@')[1] ?? 'localhost';
  const now = ctx.clock.date();
  const original = messageIdIn(r.originalHeaders);
  const root = new MimeNode('multipart/report; report-type=delivery-status');
  root.setHeader({
    From: `Microsoft Outlook <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@${domain}>`,
    To: `<${r.mailbox.address}>`,
    Date: now,
    Subject: `Undeliverable: ${r.subject}`,
    'Message-ID': newMessageId(),
    ...(original ? { 'In-Reply-To': original, References: original } : {}),
    'Content-Language': 'en-US',
    'X-MS-Exchange-Organization-SCL': '-1',
    'Auto-Submitted': 'auto-replied',
  });
  root.createChild('text/plain; charset=utf-8').setContent(humanPart(r, domain));
  root.createChild('message/delivery-status').setContent(deliveryStatus(r, now));
  root.createChild('text/rfc822-headers; charset=utf-8').setContent(r.originalHeaders);
  await ctx.mailboxes.put({ raw: root.createReadStream(), mailbox: r.mailbox.address, folder: MailFolder.inbox, envelope: { mailFrom: '', rcptTo: [r.mailbox.address] }, via: 'graph' });
}

function humanPart(r: NonDeliveryReport, domain: string): string {
  const lines = r.recipients.flatMap((rcpt) => [
    `Your message to ${rcpt} couldn't be delivered.`,
    `${rcpt.split('@')[0]} wasn't found at ${rcpt.split('@')[1] ?? domain}.`,
    '',
  ]);
  lines.push('Diagnostic information for administrators:', '', `Generating server: ${GENERATING_SERVER}`, '');
  for (const rcpt of r.recipients) lines.push(rcpt, `Remote server returned '${RECIPIENT_NOT_FOUND}'`, '');
  return lines.join('\r\n');
}

function deliveryStatus(r: NonDeliveryReport, now: Date): string {
  const blocks = [[`Reporting-MTA: dns;${GENERATING_SERVER}`, `Received-From-MTA: dns;${GENERATING_SERVER}`, `Arrival-Date: ${now.toUTCString().replace('GMT', '+0000')}`]];
  for (const rcpt of r.recipients) {
    blocks.push([`Original-Recipient: rfc822;${rcpt}`, `Final-Recipient: rfc822;${rcpt}`, 'Action: failed', 'Status: 5.1.10', `Diagnostic-Code: smtp;${RECIPIENT_NOT_FOUND}`]);
  }
  return blocks.map((b) => b.join('\r\n')).join('\r\n\r\n') + '\r\n';
}

/** The Message-ID of a header block (unfolded), with its angle brackets. */
function messageIdIn(headers: string): string | null {
  const m = /^Message-ID:[ \t]*((?:.*)(?:\r?\n[ \t].*)*)/im.exec(headers);
  return m ? (/<[^<>\s]+>/.exec(m[1] as string)?.[0] ?? null) : null;
}

/** The header block at the start of a message (up to its blank line; Exchange's 256 KB at most). */
export function headerBlockOf(message: Buffer): string {
  const head = message.subarray(0, 256 * 1024);
  const crlf = head.indexOf('\r\n\r\n');
  const lf = head.indexOf('\n\n');
  const cut = [crlf, lf].filter((i) => i >= 0).sort((a, b) => a - b)[0];
  return (cut === undefined ? head : head.subarray(0, cut)).toString('utf8') + '\r\n';
}
