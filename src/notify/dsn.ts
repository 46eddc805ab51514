/**
 * A delivery status notification (RFC 3464) as MIME, built with nodemailer's MimeNode: a
 * multipart/report with the story in plain words (what failed, Microsoft's own words,
 * relay365's diagnosis and the fix), the machine-readable message/delivery-status, and the
 * original message's headers (RET=HDRS, the default) or the whole message (RET=FULL).
 */
import type { Readable } from 'node:stream';
import MimeNode from 'nodemailer/lib/mime-node';
import { rfc5322Date } from '../ingress/received.js';

/** RFC 3464 Action: failed for good, still trying (the delay warning), or handed to Microsoft 365 (NOTIFY=SUCCESS). */
export type DsnAction = 'failed' | 'delayed' | 'relayed';

export interface DsnRecipient {
  address: string;
  /** The ORCPT parameter the client gave ("rfc822;a@b", xtext decoded); null when none. */
  originalRecipient: string | null;
  action: DsnAction;
  /** Enhanced status code (RFC 3463): 5.1.1, 4.4.7… */
  status: string;
  /** Microsoft's reply as it came, e.g. "550 5.1.10 RESOLVER.ADR.RecipientNotFound…"; null when there was none. */
  upstream: string | null;
  /** Whether the upstream reply was an SMTP reply (Diagnostic-Code type smtp) or something else (Graph). */
  upstreamIsSmtp: boolean;
  /** Who answered, for the human part: "Microsoft 365", or "The upstream server" for a smarthost. */
  upstreamName: string;
  /** relay365's diagnosis in plain language, and what to do about it. */
  diagnosis: string | null;
  fix: string | null;
  lastAttemptAt: number | null;
  /** For delayed: until when relay365 keeps trying. */
  willRetryUntil: number | null;
}

export interface DsnInput {
  /** This relay's name (Reporting-MTA). */
  reportingMta: string;
  from: string;
  to: string;
  /** The original message: its queue id, envelope, and headers or the whole of it. */
  original: {
    id: string;
    mailFrom: string;
    receivedAt: number;
    envid: string | null;
    subject: string | null;
    /** The original header block (used for RET=HDRS). */
    headers: string;
    /** The original message (RET=FULL); null for headers only. */
    full: Readable | null;
  };
  recipients: DsnRecipient[];
}

export function composeDsn(input: DsnInput): MimeNode {
  const actions = new Set(input.recipients.map((r) => r.action));
  const subject = actions.has('failed')
    ? 'Undelivered Mail Returned to Sender'
    : actions.has('delayed')
      ? 'Delayed Mail (still being retried)'
      : 'Successful Mail Delivery Report';
  const root = new MimeNode('multipart/report; report-type=delivery-status', { hostname: input.reportingMta });
  root.setHeader({
    From: `Mail Delivery System <${input.from}>`,
    To: input.to,
    Subject: input.original.subject ? `${subject}: ${input.original.subject}` : subject,
    Date: new Date(),
    'Auto-Submitted': 'auto-replied',
    'X-Relay365-Original-Id': input.original.id,
  });
  root.createChild('text/plain; charset=utf-8').setContent(humanPart(input));
  root.createChild('message/delivery-status').setContent(deliveryStatus(input));
  if (input.original.full) root.createChild('message/rfc822').setContent(input.original.full);
  else root.createChild('text/rfc822-headers; charset=utf-8').setContent(input.original.headers);
  return root;
}

function humanPart(input: DsnInput): string {
  const lines = [`This is the mail system at ${input.reportingMta} (relay365).`, ''];
  const failed = input.recipients.filter((r) => r.action === 'failed');
  const delayed = input.recipients.filter((r) => r.action === 'delayed');
  const relayed = input.recipients.filter((r) => r.action === 'relayed');
  const received = new Date(input.original.receivedAt).toISOString();
  if (failed.length) lines.push(`Your message (queue id ${input.original.id}, received ${received}) could not be delivered to ${list(failed)}. relay365 has given up on it.`, '');
  if (delayed.length) {
    const until = delayed.find((r) => r.willRetryUntil)?.willRetryUntil;
    lines.push(
      `Your message (queue id ${input.original.id}, received ${received}) has not yet been delivered to ${list(delayed)}. relay365 keeps trying${until ? ` until ${new Date(until).toISOString()}` : ''}; you do not need to send it again.`,
      '',
    );
  }
  if (relayed.length) lines.push(`Your message (queue id ${input.original.id}) was handed to Microsoft 365 for ${list(relayed)}.`, '');
  for (const r of [...failed, ...delayed]) {
    lines.push(`<${r.address}>:`);
    if (r.upstream) lines.push(`  ${r.upstreamName} answered: ${r.upstream}`);
    if (r.diagnosis) lines.push(`  What relay365 makes of it: ${r.diagnosis}`);
    if (r.fix) lines.push(`  What to do: ${r.fix}`);
    lines.push('');
  }
  lines.push(`The technical report follows; the original message's ${input.original.full ? 'full text' : 'headers'} are attached.`);
  return lines.join('\n') + '\n';
}

/** The message/delivery-status body: per-message fields, then a block per recipient (RFC 3464 §2.2, §2.3). */
function deliveryStatus(input: DsnInput): string {
  const blocks: string[][] = [
    [
      `Reporting-MTA: dns; ${input.reportingMta}`,
      ...(input.original.envid ? [`Original-Envelope-Id: ${input.original.envid}`] : []),
      `X-Relay365-Queue-Id: ${input.original.id}`,
      `Arrival-Date: ${rfc5322Date(new Date(input.original.receivedAt))}`,
    ],
  ];
  for (const r of input.recipients) {
    blocks.push([
      ...(r.originalRecipient ? [`Original-Recipient: ${r.originalRecipient}`] : []),
      `Final-Recipient: rfc822; ${r.address}`,
      `Action: ${r.action}`,
      `Status: ${r.status}`,
      ...(r.upstream ? [`Diagnostic-Code: ${r.upstreamIsSmtp ? 'smtp' : 'x-microsoft365'}; ${oneLine(r.upstream)}`] : []),
      ...(r.lastAttemptAt ? [`Last-Attempt-Date: ${rfc5322Date(new Date(r.lastAttemptAt))}`] : []),
      ...(r.willRetryUntil ? [`Will-Retry-Until: ${rfc5322Date(new Date(r.willRetryUntil))}`] : []),
    ]);
  }
  return blocks.map((b) => b.join('\r\n')).join('\r\n\r\n') + '\r\n';
}

const list = (recipients: DsnRecipient[]) => recipients.map((r) => `<${r.address}>`).join(', ');
/** Header field values are one line, printable ASCII (message/delivery-status is 7bit). */
const oneLine = (text: string) => text.replace(/\s+/g, ' ').replace(/[^\x20-\x7e]/g, '?').trim();

/** xtext (RFC 3461 §4): "+XX" stands for the byte 0xXX. */
export function decodeXtext(value: string): string {
  return value.replace(/\+([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}
