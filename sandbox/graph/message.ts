// A message as Graph sees it before it becomes MIME: the properties of microsoft.graph.message
// that sending uses, and the attachments that go with it.
//
// The JSON of a request (message-json.ts) and a MIME draft (mime-input.ts) both become this; the
// composer (compose.ts) turns it into the RFC 5322 message that lands in the mailboxes.

export interface Recipient {
  readonly address: string;
  readonly name?: string;
}

export interface MessageModel {
  readonly subject: string;
  readonly body: { readonly contentType: 'text' | 'html'; readonly content: string };
  /** Absent: the mailbox sends as itself. */
  readonly from?: Recipient;
  readonly toRecipients: readonly Recipient[];
  readonly ccRecipients: readonly Recipient[];
  readonly bccRecipients: readonly Recipient[];
  readonly replyTo: readonly Recipient[];
  /** Custom `x-` headers (at most 5). */
  readonly internetMessageHeaders: ReadonlyArray<{ readonly name: string; readonly value: string }>;
  readonly importance: 'low' | 'normal' | 'high';
}

/** An attachment's metadata, as Graph's fileAttachment describes it. */
export interface AttachmentInfo {
  readonly name: string;
  readonly contentType: string;
  readonly isInline: boolean;
  readonly contentId?: string;
}

/** An attachment whose bytes are in memory (inline in a request: at most about 4 MB). */
export interface InlineAttachment extends AttachmentInfo {
  readonly content: Buffer;
}

/** An attachment kept on disk (a draft's, possibly 150 MB): composed by streaming the file. */
export interface StoredAttachment extends AttachmentInfo {
  readonly id: string;
  readonly size: number;
  readonly file: string;
  readonly lastModifiedDateTime: string;
}

export type ComposableAttachment = InlineAttachment | StoredAttachment;

/** Every envelope recipient: To, Cc and Bcc. */
export function allRecipients(m: MessageModel): string[] {
  return [...m.toRecipients, ...m.ccRecipients, ...m.bccRecipients].map((r) => r.address);
}

export const EMPTY_MESSAGE: MessageModel = {
  subject: '',
  body: { contentType: 'text', content: '' },
  toRecipients: [],
  ccRecipients: [],
  bccRecipients: [],
  replyTo: [],
  internetMessageHeaders: [],
  importance: 'normal',
};
