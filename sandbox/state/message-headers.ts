// The few header fields a mailbox listing shows, read from the start of a stored .eml file.
//
// Only the header block is read (never the body), so listing a mailbox that holds 20 MB
// attachments stays cheap. mailparser decodes encoded words and address lists.
import { open } from 'node:fs/promises';
import { simpleParser, type AddressObject } from 'mailparser';

/** Microsoft's limit on a message's header block; more than that is never a header. */
const MAX_HEADER_BYTES = 256 * 1024;

export interface MessageSummary {
  messageId?: string;
  subject?: string;
  from?: string;
  to: string[];
  cc: string[];
  date?: string;
}

export async function summarizeMessageFile(path: string): Promise<MessageSummary> {
  const head = await readHeaderBlock(path);
  const parsed = await simpleParser(head, { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true });
  return {
    ...(parsed.messageId ? { messageId: parsed.messageId } : {}),
    ...(parsed.subject !== undefined ? { subject: parsed.subject } : {}),
    ...(parsed.from ? { from: addresses(parsed.from)[0] ?? parsed.from.text } : {}),
    to: addresses(parsed.to),
    cc: addresses(parsed.cc),
    ...(parsed.date ? { date: parsed.date.toISOString() } : {}),
  };
}

async function readHeaderBlock(path: string): Promise<Buffer> {
  const file = await open(path, 'r');
  try {
    const buf = Buffer.alloc(MAX_HEADER_BYTES);
    const { bytesRead } = await file.read(buf, 0, buf.length, 0);
    const data = buf.subarray(0, bytesRead);
    const crlf = data.indexOf('\r\n\r\n');
    const lf = data.indexOf('\n\n');
    const end = [crlf, lf].filter((i) => i >= 0).sort((a, b) => a - b)[0];
    return Buffer.concat([end === undefined ? data : data.subarray(0, end), Buffer.from('\r\n\r\n')]);
  } finally {
    await file.close();
  }
}

function addresses(field: AddressObject | AddressObject[] | undefined): string[] {
  const list = field === undefined ? [] : Array.isArray(field) ? field : [field];
  return list.flatMap((a) => a.value).flatMap((v) => (v.address ? [v.address.toLowerCase()] : (v.group ?? []).flatMap((g) => (g.address ? [g.address.toLowerCase()] : []))));
}
