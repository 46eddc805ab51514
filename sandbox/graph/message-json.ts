// Reading microsoft.graph.message JSON (sendMail's `message`, a new draft, a fileAttachment).
//
// Exchange reads property names without regard to the case of their first letter (Outlook REST
// v2.0 wrote `ToRecipients`, Graph writes `toRecipients`; the docs show `AttachmentItem`), so
// names are brought to Graph's camelCase first. Checks Exchange makes before accepting a message
// (recipient addresses, `x-` headers, at most 5 of them, base64 attachment bytes) answer with its
// errors; unknown properties are ignored.
import { z } from 'zod';
import { decodeBase64 } from './base64.js';
import { done, fail, Graph, type GraphError, type GraphOutcome } from './errors.js';
import { EMPTY_MESSAGE, type InlineAttachment, type MessageModel, type Recipient } from './message.js';

const recipientSchema = z.object({ emailAddress: z.object({ address: z.string().nullish(), name: z.string().nullish() }).nullish() });
const recipients = z.array(recipientSchema).nullish();

const messageSchema = z.object({
  subject: z.string().nullish(),
  body: z.object({ contentType: z.string().nullish(), content: z.string().nullish() }).nullish(),
  from: recipientSchema.nullish(),
  toRecipients: recipients,
  ccRecipients: recipients,
  bccRecipients: recipients,
  replyTo: recipients,
  internetMessageHeaders: z.array(z.object({ name: z.string(), value: z.string() })).nullish(),
  importance: z.string().nullish(),
  attachments: z.array(z.record(z.string(), z.unknown())).nullish(),
});

const fileAttachmentSchema = z.object({
  '@odata.type': z.string().nullish(),
  name: z.string().nullish(),
  contentType: z.string().nullish(),
  contentBytes: z.string().nullish(),
  isInline: z.boolean().nullish(),
  contentId: z.string().nullish(),
});

/** Property names with Graph's lower-case first letter, all the way down (`@odata.type` stays). */
export function camelKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(camelKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k.charAt(0).toLowerCase() + k.slice(1), camelKeys(v)]));
}

/** Parses a JSON request body (bytes) into an object with camelCase names. */
export function parseJsonBody(body: Buffer): GraphOutcome<Record<string, unknown>> {
  if (body.length === 0) return fail(Graph.emptyPayload());
  try {
    const parsed: unknown = JSON.parse(body.toString('utf8'));
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return fail(Graph.invalidJson());
    return done(camelKeys(parsed) as Record<string, unknown>);
  } catch {
    return fail(Graph.invalidJson());
  }
}

export interface ParsedMessage {
  readonly model: MessageModel;
  /** fileAttachments given inline (sendMail or a new draft). */
  readonly attachments: InlineAttachment[];
}

const ADDRESS = /^[^@\s<>]+@[^@\s<>]+$/;

/** A microsoft.graph.message object into the model, or the error Exchange gives for it. */
export function readMessage(value: unknown): GraphOutcome<ParsedMessage> {
  const parsed = messageSchema.safeParse(value ?? {});
  if (!parsed.success) return fail(shapeError('microsoft.graph.message', parsed.error));
  const m = parsed.data;
  const people: Record<'to' | 'cc' | 'bcc' | 'replyTo', Recipient[]> = { to: [], cc: [], bcc: [], replyTo: [] };
  for (const [key, list] of [['to', m.toRecipients], ['cc', m.ccRecipients], ['bcc', m.bccRecipients], ['replyTo', m.replyTo]] as const) {
    for (const r of list ?? []) {
      const address = r.emailAddress?.address?.trim() ?? '';
      if (!ADDRESS.test(address)) return fail(Graph.invalidRecipient(address));
      people[key].push({ address, ...(r.emailAddress?.name ? { name: r.emailAddress.name } : {}) });
    }
  }
  const fromAddress = m.from?.emailAddress?.address?.trim();
  if (fromAddress !== undefined && !ADDRESS.test(fromAddress)) return fail(Graph.invalidRecipient(fromAddress));
  const headers = m.internetMessageHeaders ?? [];
  const badHeader = headers.find((h) => !/^x-/i.test(h.name));
  if (badHeader) return fail(Graph.headerName(badHeader.name));
  if (headers.length > 5) return fail(Graph.tooManyHeaders());
  const attachments: InlineAttachment[] = [];
  for (const a of m.attachments ?? []) {
    const read = readFileAttachment(a);
    if (!read.ok) return read;
    attachments.push(read.value);
  }
  const importance = (m.importance ?? 'normal').toLowerCase();
  return done({
    model: {
      ...EMPTY_MESSAGE,
      subject: m.subject ?? '',
      body: { contentType: (m.body?.contentType ?? 'text').toLowerCase() === 'html' ? 'html' : 'text', content: m.body?.content ?? '' },
      ...(fromAddress !== undefined ? { from: { address: fromAddress, ...(m.from?.emailAddress?.name ? { name: m.from.emailAddress.name } : {}) } } : {}),
      toRecipients: people.to,
      ccRecipients: people.cc,
      bccRecipients: people.bcc,
      replyTo: people.replyTo,
      internetMessageHeaders: headers,
      importance: importance === 'high' || importance === 'low' ? importance : 'normal',
    },
    attachments,
  });
}

/** A fileAttachment (`contentBytes` in base64); Outlook item and reference attachments are not reproduced. */
export function readFileAttachment(value: unknown): GraphOutcome<InlineAttachment> {
  const parsed = fileAttachmentSchema.safeParse(value);
  if (!parsed.success) return fail(shapeError('microsoft.graph.fileAttachment', parsed.error));
  const a = parsed.data;
  const type = a['@odata.type'] ?? '#microsoft.graph.fileAttachment';
  if (type.replace(/^#/, '').toLowerCase() !== 'microsoft.graph.fileattachment') {
    return fail(Graph.invalidRequest(`The sandbox reproduces fileAttachment only; '${type}' attachments are not supported.`));
  }
  const content = decodeBase64(a.contentBytes ?? '');
  if (content === null) return fail(Graph.notBinary(a.contentBytes ?? ''));
  return done({
    name: a.name ?? 'attachment',
    contentType: a.contentType ?? 'application/octet-stream',
    isInline: a.isInline ?? false,
    ...(a.contentId ? { contentId: a.contentId } : {}),
    content,
  });
}

function shapeError(type: string, error: z.ZodError): GraphError {
  const issue = error.issues[0];
  return Graph.invalidRequest(`The request body is not a valid ${type}: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'unreadable'}.`);
}
