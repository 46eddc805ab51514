/**
 * A JSON submission made into a message with nodemailer's MailComposer (no hand-written MIME).
 * Everything that ends up in a header is checked for line breaks first: a CR or LF in a
 * subject, a name or a header value is an attempt to add headers (or recipients) of one's
 * own, and is refused with the field named, never cleaned up silently.
 */
import MailComposer from 'nodemailer/lib/mail-composer';
import { z } from 'zod';
import { addressesOf } from '../../mime/envelope-headers.js';
import { problem, type Problem } from './problems.js';

const addressObject = z.strictObject({ name: z.string().optional(), address: z.string() });
const addressInput = z.union([z.string(), addressObject]);
const addressList = z.union([addressInput, z.array(addressInput)]);

export const jsonMessageSchema = z.strictObject({
  from: addressInput.optional(),
  to: addressList.optional(),
  cc: addressList.optional(),
  bcc: addressList.optional(),
  replyTo: addressList.optional(),
  subject: z.string().optional(),
  text: z.string().optional(),
  html: z.string().optional(),
  attachments: z
    .array(
      z.strictObject({
        filename: z.string().min(1),
        content: z.string().describe('base64'),
        contentType: z.string().optional(),
        cid: z.string().optional(),
      }),
    )
    .optional(),
  headers: z.record(z.string(), z.string()).optional(),
});

export type JsonMessage = z.output<typeof jsonMessageSchema>;

export interface Composed {
  from: string;
  recipients: string[];
  message: Buffer;
}

/** Headers the fields set: giving them in `headers` would contradict (or smuggle past) the fields. */
const RESERVED_HEADERS = new Set(['from', 'sender', 'to', 'cc', 'bcc', 'reply-to', 'subject', 'mime-version', 'content-type', 'content-transfer-encoding', 'content-disposition', 'received', 'return-path']);
const HEADER_NAME = /^[!-9;-~]+$/;
const BASE64 = /^[A-Za-z0-9+/\s]*={0,2}\s*$/;
const LINE_BREAK = /[\r\n]/;

type Address = { name: string; address: string };

function addresses(field: string, input: z.output<typeof addressList> | undefined): Address[] | Problem {
  const list = input === undefined ? [] : Array.isArray(input) ? input : [input];
  const found: Address[] = [];
  for (const [i, entry] of list.entries()) {
    const at = Array.isArray(input) ? `${field}[${i}]` : field;
    const raw = typeof entry === 'string' ? entry : `${entry.name ?? ''}${entry.address}`;
    if (LINE_BREAK.test(raw)) return problem('header-injection', `${at} contains a line break; addresses and names are one line each`, { field: at });
    if (typeof entry === 'object') {
      const { addresses: ok } = addressesOf(entry.address);
      if (ok.length !== 1 || ok[0] !== entry.address.trim()) return problem('bad-address', `${at}: "${entry.address}" is not an e-mail address`, { field: at });
      found.push({ name: entry.name ?? '', address: entry.address.trim() });
      continue;
    }
    const { named, malformed } = addressesOf(entry);
    if (malformed.length || named.length === 0) return problem('bad-address', `${at}: "${malformed[0] ?? entry}" is not an e-mail address`, { field: at });
    found.push(...named);
  }
  return found;
}

const isProblem = (value: unknown): value is Problem => typeof value === 'object' && value !== null && 'type' in value && 'status' in value;

export async function composeJson(input: JsonMessage, maxRecipients: number): Promise<Composed | Problem> {
  for (const [field, value] of [['subject', input.subject]] as const) {
    if (value !== undefined && LINE_BREAK.test(value)) return problem('header-injection', `${field} contains a line break (CR or LF); a subject is one line`, { field });
  }
  for (const [name, value] of Object.entries(input.headers ?? {})) {
    if (!HEADER_NAME.test(name)) return problem('header-injection', `headers: "${name.replace(/[\r\n]/g, '\\n')}" is not a header name`, { field: 'headers' });
    if (LINE_BREAK.test(value)) return problem('header-injection', `headers.${name} contains a line break (CR or LF); header values are one line`, { field: `headers.${name}` });
    if (RESERVED_HEADERS.has(name.toLowerCase())) return problem('invalid-request', `headers.${name}: set it with its own field (from, to, cc, bcc, replyTo, subject, attachments), not as a header`, { field: `headers.${name}` });
  }
  for (const [i, a] of (input.attachments ?? []).entries()) {
    for (const key of ['filename', 'contentType', 'cid'] as const) {
      if (LINE_BREAK.test(a[key] ?? '')) return problem('header-injection', `attachments[${i}].${key} contains a line break`, { field: `attachments[${i}].${key}` });
    }
    if (!BASE64.test(a.content)) return problem('invalid-request', `attachments[${i}].content is not base64`, { field: `attachments[${i}].content` });
  }
  const from = addresses('from', input.from);
  if (isProblem(from)) return from;
  if (!from[0]) return problem('missing-sender', 'from is required: the address the message is sent from', { field: 'from' });
  const lists = { to: addresses('to', input.to), cc: addresses('cc', input.cc), bcc: addresses('bcc', input.bcc), replyTo: addresses('replyTo', input.replyTo) };
  for (const list of Object.values(lists)) if (isProblem(list)) return list;
  const [to, cc, bcc, replyTo] = [lists.to, lists.cc, lists.bcc, lists.replyTo] as Address[][];
  const recipients = [...new Set([...to!, ...cc!, ...bcc!].map((a) => a.address))];
  if (!recipients.length) return problem('missing-recipient', 'give at least one recipient in to, cc or bcc', { field: 'to' });
  if (recipients.length > maxRecipients) return problem('too-many-recipients', `${recipients.length} recipients; at most ${maxRecipients} per request (http.maxRecipients): send the rest in another request`, { field: 'to' });
  const composer = new MailComposer({
    from: from[0],
    to: to!.length ? to : undefined,
    cc: cc!.length ? cc : undefined,
    replyTo: replyTo!.length ? replyTo : undefined,
    subject: input.subject,
    text: input.text,
    html: input.html,
    headers: input.headers,
    attachments: input.attachments?.map((a) => ({ filename: a.filename, content: a.content, encoding: 'base64', contentType: a.contentType, cid: a.cid })),
    // Only what the request carries goes in: never a file of this host or a URL it would fetch.
    disableFileAccess: true,
    disableUrlAccess: true,
    xMailer: false,
  });
  return { from: from[0].address, recipients, message: await composer.compile().build() };
}
