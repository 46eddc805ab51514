/**
 * A large message taken apart for Graph's JSON draft, streaming: mailparser's MailParser reads
 * the message as it comes from the store, each attachment goes straight to a file in `dir` (so
 * its size is known before its upload session is created, and no attachment is ever held in
 * memory), and only the headers and the text and HTML bodies are kept.
 */
import { createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MailParser, type AddressObject, type AttachmentStream, type HeaderLines, type Headers, type MessageText } from 'mailparser';
import { people, type Person } from './graph-recipients.js';

export interface SpooledAttachment {
  path: string;
  size: number;
  name: string;
  contentType: string;
  isInline: boolean;
  contentId?: string;
}

export interface ParsedMessage {
  subject: string;
  from?: Person;
  to: Person[];
  cc: Person[];
  bcc: Person[];
  replyTo: Person[];
  text?: string;
  html?: string;
  importance: 'low' | 'normal' | 'high';
  /** X- headers (Graph takes at most five, all named x-…). */
  xHeaders: Array<{ name: string; value: string }>;
  attachments: SpooledAttachment[];
}

const list = (v: unknown): Person[] => (v === undefined ? [] : (Array.isArray(v) ? (v as AddressObject[]) : [v as AddressObject]).flatMap((a) => people(a.value)));

export async function parseToSpool(source: Readable, dir: string): Promise<ParsedMessage> {
  const parser = new MailParser({ skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true, checksumAlgo: false });
  let headers: Headers = new Map();
  let headerLines: HeaderLines = [];
  let body: MessageText | null = null;
  const spooled: Array<Promise<SpooledAttachment>> = [];
  parser.on('headers', (h: Headers) => (headers = h));
  parser.on('headerLines', (l: HeaderLines) => (headerLines = l));
  parser.on('data', (part: AttachmentStream | MessageText) => {
    if (part.type === 'text') {
      body = part;
      return;
    }
    const n = spooled.length + 1;
    const path = join(dir, `attachment-${n}`);
    const written = pipeline(part.content, createWriteStream(path, { mode: 0o600 })).then(async () => {
      part.release?.();
      return {
        path,
        size: (await stat(path)).size,
        name: part.filename ?? `attachment-${n}`,
        contentType: part.contentType,
        isInline: part.contentDisposition === 'inline' || part.related === true,
        ...(part.cid ? { contentId: part.cid } : {}),
      };
    });
    written.catch(() => undefined); // observed below with the others
    spooled.push(written);
  });
  await new Promise<void>((resolve, reject) => {
    parser.once('end', resolve);
    parser.once('error', reject);
    source.once('error', reject);
    source.pipe(parser);
  });
  const attachments = await Promise.all(spooled);
  const text = body as MessageText | null;
  const priority = headers.get('priority');
  return {
    subject: typeof headers.get('subject') === 'string' ? (headers.get('subject') as string) : '',
    ...(list(headers.get('from'))[0] ? { from: list(headers.get('from'))[0]! } : {}),
    to: list(headers.get('to')),
    cc: list(headers.get('cc')),
    bcc: list(headers.get('bcc')),
    replyTo: list(headers.get('reply-to')),
    ...(text?.text !== undefined ? { text: text.text } : {}),
    ...(text?.html !== undefined ? { html: text.html } : {}),
    importance: priority === 'high' || priority === 'low' ? priority : 'normal',
    xHeaders: headerLines
      .filter((h) => h.key.startsWith('x-'))
      .slice(0, 5)
      .map((h) => ({ name: h.line.slice(0, h.line.indexOf(':')).trim(), value: h.line.slice(h.line.indexOf(':') + 1).replace(/\r?\n[ \t]+/g, ' ').trim() })),
    attachments,
  };
}
