// MIME content sent to Graph (Content-Type: text/plain, the message in base64), read with mailparser.
//
// sendMail in MIME form delivers the client's message as it is, with what Exchange does to any
// message it submits: the Bcc header goes from the copies recipients get (it stays in Sent Items),
// and a message without Message-ID, Date or From gets them. A MIME draft becomes a draft like a
// JSON one: its fields and attachments are read into the model.
import type { AddressObject, ParsedMail } from 'mailparser';
import { simpleParser } from 'mailparser';
import { decodeBase64 } from './base64.js';
import { newMessageId } from './compose.js';
import { done, fail, Graph, type GraphOutcome } from './errors.js';
import { EMPTY_MESSAGE, type InlineAttachment, type MessageModel, type Recipient } from './message.js';

export interface MimeSubmission {
  /** The message as the client sent it, plus the headers Exchange adds (Sent Items' copy). */
  readonly sent: Buffer;
  /** The same without its Bcc header: what recipients get. */
  readonly delivered: Buffer;
  readonly from?: string;
  /** To, Cc and Bcc addresses. */
  readonly recipients: string[];
  readonly subject?: string;
}

const PARSE_OPTIONS = { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true } as const;

/** Decodes the base64 body (ErrorMimeContentInvalidBase64String when it is not base64, or empty). */
export async function parseMimeBody(body: Buffer): Promise<GraphOutcome<{ raw: Buffer; parsed: ParsedMail }>> {
  const raw = decodeBase64(body.toString('latin1'));
  if (raw === null || raw.length === 0) return fail(Graph.invalidBase64());
  return done({ raw, parsed: await simpleParser(raw, PARSE_OPTIONS) });
}

export function readMimeSubmission(raw: Buffer, parsed: ParsedMail, defaults: { from: Recipient; date: Date }): MimeSubmission {
  const added: string[] = [];
  if (!parsed.headers.has('message-id')) added.push(`Message-ID: ${newMessageId()}`);
  if (!parsed.headers.has('date')) added.push(`Date: ${defaults.date.toUTCString().replace('GMT', '+0000')}`);
  if (!parsed.headers.has('from')) added.push(`From: ${defaults.from.name ? `"${defaults.from.name.replace(/"/g, '')}" ` : ''}<${defaults.from.address}>`);
  const body = raw.subarray(bodyStart(raw));
  const headerBlock = (lines: string[]) => Buffer.from(`${[...added, ...lines].join('\r\n')}\r\n\r\n`, 'latin1');
  const lines = parsed.headerLines.map((h) => h.line);
  const withoutBcc = parsed.headerLines.filter((h) => h.key !== 'bcc').map((h) => h.line);
  const from = addressesOf(parsed.from)[0]?.address;
  return {
    sent: Buffer.concat([headerBlock(lines), body]),
    delivered: Buffer.concat([headerBlock(withoutBcc), body]),
    ...(from ? { from } : {}),
    recipients: [parsed.to, parsed.cc, parsed.bcc].flatMap((f) => addressesOf(f).map((r) => r.address)),
    ...(parsed.subject !== undefined ? { subject: parsed.subject } : {}),
  };
}

/** A MIME draft as a message model and its attachments. */
export function mimeToDraft(parsed: ParsedMail): { model: MessageModel; attachments: InlineAttachment[] } {
  const from = addressesOf(parsed.from)[0];
  const html = typeof parsed.html === 'string' ? parsed.html : undefined;
  return {
    model: {
      ...EMPTY_MESSAGE,
      subject: parsed.subject ?? '',
      body: html !== undefined ? { contentType: 'html', content: html } : { contentType: 'text', content: parsed.text ?? '' },
      ...(from ? { from } : {}),
      toRecipients: addressesOf(parsed.to),
      ccRecipients: addressesOf(parsed.cc),
      bccRecipients: addressesOf(parsed.bcc),
      replyTo: addressesOf(parsed.replyTo),
      internetMessageHeaders: parsed.headerLines
        .filter((h) => h.key.startsWith('x-'))
        .slice(0, 5)
        .map((h) => ({ name: h.line.slice(0, h.line.indexOf(':')), value: h.line.slice(h.line.indexOf(':') + 1).replace(/\r?\n[ \t]/g, ' ').trim() })),
    },
    attachments: parsed.attachments.map((a) => ({
      name: a.filename ?? 'attachment',
      contentType: a.contentType,
      isInline: a.contentDisposition === 'inline',
      ...(a.cid ? { contentId: a.cid } : {}),
      content: a.content,
    })),
  };
}

/** Where the body starts: after the first empty line (CRLF or bare LF messages alike). */
function bodyStart(raw: Buffer): number {
  const crlf = raw.indexOf('\r\n\r\n');
  const lf = raw.indexOf('\n\n');
  if (crlf < 0 && lf < 0) return raw.length;
  return crlf >= 0 && (lf < 0 || crlf < lf) ? crlf + 4 : lf + 2;
}

function addressesOf(field: AddressObject | AddressObject[] | undefined): Recipient[] {
  const list = field === undefined ? [] : Array.isArray(field) ? field : [field];
  return list
    .flatMap((a) => a.value)
    .flatMap((v) => (v.address ? [v] : (v.group ?? [])))
    .filter((v) => v.address)
    .map((v) => ({ address: v.address!, ...(v.name ? { name: v.name } : {}) }));
}
