/**
 * What a non-delivery report says, read with mailparser: a multipart/report of report-type
 * delivery-status (RFC 3464) whose message/delivery-status names each failed recipient
 * (Final-Recipient, Original-Recipient), its Status and Microsoft's Diagnostic-Code, and whose
 * returned headers (text/rfc822-headers, or the whole message/rfc822) carry the original's
 * Message-ID; Exchange also names it in In-Reply-To and References.
 */
import { simpleParser, type Attachment } from 'mailparser';
import { messageIdOf } from '../mime/header-tap.js';

export interface ReportedRecipient {
  /** Final-Recipient's address, lower case. */
  finalRecipient: string;
  /** Original-Recipient's address (the envelope address as sent), lower case; null when absent. */
  originalRecipient: string | null;
  action: string;
  /** Enhanced status, e.g. 5.1.10. */
  status: string | null;
  /** Microsoft's words: the Diagnostic-Code without its type ("550 5.1.10 RESOLVER.ADR.RecipientNotFound; …"). */
  diagnostic: string | null;
}

export interface NonDeliveryReport {
  /** The Message-ID of the message it reports on, with its angle brackets; null when it names none. */
  originalMessageId: string | null;
  /** The recipients it reports as failed. */
  failed: ReportedRecipient[];
}

/** The report in a message, or null when the message is not a delivery-status report of failures. */
export async function readNonDeliveryReport(mime: string | Buffer): Promise<NonDeliveryReport | null> {
  const parsed = await simpleParser(mime, { keepDeliveryStatus: true, skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true });
  const type = parsed.headers.get('content-type') as { value?: string; params?: Record<string, string> } | undefined;
  if (type?.value?.toLowerCase() !== 'multipart/report' || type.params?.['report-type']?.toLowerCase() !== 'delivery-status') return null;
  const status = parsed.attachments.find((a) => a.contentType === 'message/delivery-status');
  if (!status) return null;
  const failed = perRecipient(status.content.toString('utf8')).filter((r) => r.action === 'failed');
  if (failed.length === 0) return null;
  return { originalMessageId: (await returnedMessageId(parsed.attachments)) ?? parsed.inReplyTo ?? firstReference(parsed.references), failed };
}

/** The per-recipient blocks of a message/delivery-status body (the first block is the message's). */
function perRecipient(body: string): ReportedRecipient[] {
  const blocks = body.replace(/\r\n/g, '\n').split(/\n[ \t]*\n/).map(fields).filter((f) => f.has('final-recipient'));
  return blocks.map((f) => ({
    finalRecipient: address(f.get('final-recipient')!),
    originalRecipient: f.has('original-recipient') ? address(f.get('original-recipient')!) : null,
    action: (f.get('action') ?? '').toLowerCase(),
    status: f.get('status') ?? null,
    diagnostic: f.has('diagnostic-code') ? f.get('diagnostic-code')!.replace(/^[^;]*;\s*/, '') : null,
  }));
}

/** "Name: value" fields of one block, continuation lines unfolded, names in lower case. */
function fields(block: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const line of block.replace(/\n[ \t]+/g, ' ').split('\n')) {
    const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(line);
    if (m && !found.has(m[1]!.toLowerCase())) found.set(m[1]!.toLowerCase(), m[2]!.trim());
  }
  return found;
}

/** "rfc822;alice@contoso.com" → "alice@contoso.com". */
const address = (value: string) => value.replace(/^[^;]*;\s*/, '').replace(/^<|>$/g, '').trim().toLowerCase();

async function returnedMessageId(attachments: Attachment[]): Promise<string | null> {
  const returned = attachments.find((a) => a.contentType === 'text/rfc822-headers' || a.contentType === 'message/rfc822');
  if (!returned) return null;
  // The returned header block (or whole message) is a message of its own: mailparser reads its Message-ID.
  const inner = await simpleParser(Buffer.concat([returned.content, Buffer.from('\r\n\r\n')]), { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true });
  return inner.messageId ? messageIdOf(inner.messageId) : null;
}

function firstReference(references: string | string[] | undefined): string | null {
  const first = Array.isArray(references) ? references[0] : references;
  return first ? messageIdOf(first) : null;
}
