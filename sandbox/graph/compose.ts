// Turning a Graph message into the MIME message the mailboxes hold, with nodemailer's MailComposer.
//
// The message is produced as a stream: attachments kept on disk (a draft's 150 MB upload) are read
// from their files while the MIME is written, so no message is ever whole in memory. `spool` writes
// it to a temporary file when its size must be known before delivery (the mailbox's MaxSendSize).
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import MailComposer, { type MailComposerAttachment } from 'nodemailer/lib/mail-composer';
import type { ComposableAttachment, MessageModel, Recipient } from './message.js';

export interface ComposeRequest {
  readonly model: MessageModel;
  /** The From the message carries (the model's, or the mailbox's own). */
  readonly from: Recipient;
  readonly attachments: readonly ComposableAttachment[];
  readonly date: Date;
  /** Kept stable across a draft's versions and its sent copy. */
  readonly messageId?: string;
  /** Keep the Bcc header: in Drafts and Sent Items, as Outlook shows them; never in what recipients get. */
  readonly keepBcc: boolean;
}

const IMPORTANCE_HEADERS = { high: [{ key: 'Importance', value: 'high' }, { key: 'X-Priority', value: '1' }], low: [{ key: 'Importance', value: 'low' }, { key: 'X-Priority', value: '5' }], normal: [] };

export function composeMessage(req: ComposeRequest): Readable {
  const m = req.model;
  const composer = new MailComposer({
    from: req.from,
    to: [...m.toRecipients],
    cc: [...m.ccRecipients],
    bcc: [...m.bccRecipients],
    replyTo: [...m.replyTo],
    subject: m.subject,
    ...(m.body.contentType === 'html' ? { html: m.body.content } : { text: m.body.content }),
    attachments: req.attachments.map(toComposerAttachment),
    headers: [...m.internetMessageHeaders.map((h) => ({ key: h.name, value: h.value })), ...IMPORTANCE_HEADERS[m.importance]],
    date: req.date,
    ...(req.messageId ? { messageId: req.messageId } : {}),
    newline: 'win',
    disableUrlAccess: true,
  });
  const node = composer.compile();
  node.keepBcc = req.keepBcc;
  return node.createReadStream();
}

/** A Message-ID in the form Exchange Online gives its messages. */
export function newMessageId(): string {
  return `<${randomUUID().replace(/-/g, '').toUpperCase()}@sandbox.prod.outlook.com>`;
}

function toComposerAttachment(a: ComposableAttachment): MailComposerAttachment {
  return {
    filename: a.name,
    contentType: a.contentType,
    contentDisposition: a.isInline ? 'inline' : 'attachment',
    ...(a.contentId ? { cid: a.contentId } : {}),
    ...('content' in a ? { content: a.content } : { path: a.file }),
  };
}

/** Writes a composed message to a new file in `dir`; returns its path and size. */
export async function spool(message: Readable, dir: string): Promise<{ path: string; size: number }> {
  const path = join(dir, `${randomUUID()}.eml`);
  await pipeline(message, createWriteStream(path));
  return { path, size: (await stat(path)).size };
}
