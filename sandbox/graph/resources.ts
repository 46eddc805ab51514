// The JSON Graph answers with: a message (a draft just created) and a fileAttachment.
//
// Property names and shapes are Graph's (microsoft.graph.message, microsoft.graph.fileAttachment);
// `@odata.context` points at the sandbox's Graph URL, as Microsoft's at graph.microsoft.com.
import type { DraftRecord } from './drafts.js';
import type { Recipient, StoredAttachment } from './message.js';

const recipient = (r: Recipient) => ({ emailAddress: { name: r.name ?? r.address, address: r.address } });

export function messageResource(graphBase: string, userSegment: string, draft: DraftRecord, sender: Recipient): Record<string, unknown> {
  const m = draft.model;
  const from = m.from ?? sender;
  return {
    '@odata.context': `${graphBase}/v1.0/$metadata#users('${encodeURIComponent(userSegment)}')/messages/$entity`,
    '@odata.etag': `W/"${Buffer.from(draft.lastModifiedDateTime).toString('base64')}"`,
    id: draft.id,
    createdDateTime: iso(draft.createdDateTime),
    lastModifiedDateTime: iso(draft.lastModifiedDateTime),
    changeKey: Buffer.from(draft.lastModifiedDateTime).toString('base64'),
    categories: [],
    receivedDateTime: iso(draft.createdDateTime),
    sentDateTime: iso(draft.createdDateTime),
    hasAttachments: draft.attachments.some((a) => !a.isInline),
    internetMessageId: draft.internetMessageId,
    subject: m.subject,
    bodyPreview: m.body.content.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 255),
    importance: m.importance,
    parentFolderId: 'Drafts',
    conversationId: null,
    isDeliveryReceiptRequested: false,
    isReadReceiptRequested: false,
    isRead: true,
    isDraft: true,
    webLink: null,
    inferenceClassification: 'focused',
    body: { contentType: m.body.contentType, content: m.body.content },
    sender: recipient(from),
    from: recipient(from),
    toRecipients: m.toRecipients.map(recipient),
    ccRecipients: m.ccRecipients.map(recipient),
    bccRecipients: m.bccRecipients.map(recipient),
    replyTo: m.replyTo.map(recipient),
    flag: { flagStatus: 'notFlagged' },
  };
}

export function attachmentResource(graphBase: string, userSegment: string, draftId: string, a: StoredAttachment, contentBytes?: Buffer): Record<string, unknown> {
  return {
    '@odata.context': `${graphBase}/v1.0/$metadata#users('${encodeURIComponent(userSegment)}')/messages('${draftId}')/attachments/$entity`,
    '@odata.type': '#microsoft.graph.fileAttachment',
    '@odata.mediaContentType': a.contentType,
    id: a.id,
    lastModifiedDateTime: iso(a.lastModifiedDateTime),
    name: a.name,
    contentType: a.contentType,
    size: a.size,
    isInline: a.isInline,
    contentId: a.contentId ?? null,
    contentLocation: null,
    ...(contentBytes ? { contentBytes: contentBytes.toString('base64') } : {}),
  };
}

/** Graph's timestamps: ISO 8601 in UTC, to the second. */
function iso(at: string): string {
  return `${new Date(at).toISOString().slice(0, 19)}Z`;
}
