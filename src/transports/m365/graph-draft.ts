/**
 * The JSON a large message becomes for Graph: the draft (microsoft.graph.message) and its small
 * attachments (microsoft.graph.fileAttachment). Recipients are the envelope's (graph-recipients.ts).
 * What JSON cannot carry is lost on this path: headers other than five X- headers, the MIME
 * structure beyond one body and the attachments, the original Message-ID (Exchange gives the
 * message a new one).
 */
import { readFile } from 'node:fs/promises';
import type { ParsedMessage, SpooledAttachment } from './graph-parse.js';
import type { Person, RecipientPlan } from './graph-recipients.js';

const recipient = (p: Person) => ({ emailAddress: { address: p.address, ...(p.name ? { name: p.name } : {}) } });

export function draftMessage(m: ParsedMessage, plan: RecipientPlan): Record<string, unknown> {
  return {
    subject: m.subject,
    body: m.html !== undefined ? { contentType: 'HTML', content: m.html } : { contentType: 'Text', content: m.text ?? '' },
    ...(m.from ? { from: recipient(m.from) } : {}),
    toRecipients: plan.to.map(recipient),
    ccRecipients: plan.cc.map(recipient),
    bccRecipients: plan.bcc.map(recipient),
    replyTo: m.replyTo.map(recipient),
    importance: m.importance,
    ...(m.xHeaders.length > 0 ? { internetMessageHeaders: m.xHeaders } : {}),
  };
}

/** A small attachment (under the upload-session minimum), read from its spool file: at most 3 MB. */
export async function fileAttachment(a: SpooledAttachment): Promise<Record<string, unknown>> {
  return {
    '@odata.type': '#microsoft.graph.fileAttachment',
    name: a.name,
    contentType: a.contentType,
    isInline: a.isInline,
    ...(a.contentId ? { contentId: a.contentId } : {}),
    contentBytes: (await readFile(a.path)).toString('base64'),
  };
}
