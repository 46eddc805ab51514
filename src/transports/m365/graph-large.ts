/**
 * Messages too large for one sendMail request, the upload-session way: the message is taken
 * apart (attachments to temporary files), a draft is created from it, attachments under 3 MB
 * are added in one request each, larger ones through an upload session in ranges of 3.75 MB
 * (12 × 320 KiB, under Graph's 4 MB per request) streamed from their files, then the draft is
 * sent. Needs Mail.ReadWrite (drafts and attachments) besides Mail.Send.
 *
 * A short Retry-After (Graph's MailboxConcurrency answer says 1 s) is waited out in place, so a
 * half-uploaded message is not thrown away for a one-second pause; anything else ends the
 * attempt, and the draft it left is deleted (best effort) so retries do not fill Drafts.
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { GraphFailure } from './classify-graph.js';
import type { GraphApi, GraphResult } from './graph-api.js';
import { draftMessage, fileAttachment } from './graph-draft.js';
import { parseToSpool, type SpooledAttachment } from './graph-parse.js';
import { planRecipients, type RecipientPlan } from './graph-recipients.js';

const MB = 1024 * 1024;
/** Graph takes attachments of 3 MB and more through upload sessions only, smaller ones in one request. */
export const UPLOAD_SESSION_MIN = 3 * MB;
/** 12 × 320 KiB: Microsoft asks for multiples of 320 KiB, and each request stays under 4 MB. */
export const RANGE_BYTES = 12 * 320 * 1024;
/** Retry-After up to this long is waited out during an upload; longer ends the attempt. */
const WAIT_IN_PLACE_S = 10;
const WAITS_PER_REQUEST = 3;

export interface DraftDelivery {
  plan: RecipientPlan;
  from?: string;
  attachments: number;
  uploadSessions: number;
}

export type DraftOutcome =
  | { ok: true; value: DraftDelivery }
  /** Graph refused; `from` is the message's From, for the diagnosis. */
  | { ok: false; failure: GraphFailure; from?: string }
  /** mailparser could not take the message apart. */
  | { ok: false; unreadable: string };

export async function sendThroughDraft(api: GraphApi, open: () => Promise<Readable>, envelope: readonly string[], signal: AbortSignal, log: Logger): Promise<DraftOutcome> {
  const dir = await mkdtemp(join(tmpdir(), 'relay365-graph-'));
  try {
    let parsed;
    try {
      parsed = await parseToSpool(await open(), dir);
    } catch (e) {
      return { ok: false, unreadable: (e as Error).message };
    }
    const plan = planRecipients(parsed, envelope);
    const from = parsed.from?.address;
    const draft = await patiently(() => api.createDraft(draftMessage(parsed, plan), signal), signal, log);
    if (!draft.ok) return withFrom(draft, from);
    const id = draft.value.id;
    let sessions = 0;
    for (const attachment of parsed.attachments) {
      const added = attachment.size < UPLOAD_SESSION_MIN ? await patiently(async () => api.addAttachment(id, await fileAttachment(attachment), signal), signal, log) : await upload(api, id, attachment, signal, log);
      if (attachment.size >= UPLOAD_SESSION_MIN) sessions += 1;
      if (!added.ok) return withFrom(await discard(api, id, added, log), from);
    }
    const sent = await patiently(() => api.sendDraft(id, signal), signal, log);
    if (!sent.ok) return withFrom(await discard(api, id, sent, log), from);
    return { ok: true, value: { plan, ...(from ? { from } : {}), attachments: parsed.attachments.length, uploadSessions: sessions } };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function upload(api: GraphApi, draftId: string, a: SpooledAttachment, signal: AbortSignal, log: Logger): Promise<GraphResult<void>> {
  const item = { attachmentType: 'file' as const, name: a.name, size: a.size, contentType: a.contentType, isInline: a.isInline, ...(a.contentId ? { contentId: a.contentId } : {}) };
  const session = await patiently(() => api.createUploadSession(draftId, item, signal), signal, log);
  if (!session.ok) return session;
  for (let start = 0; start < a.size; start += RANGE_BYTES) {
    const end = Math.min(start + RANGE_BYTES, a.size) - 1;
    const body = { length: end - start + 1, open: () => createReadStream(a.path, { start, end }) };
    const put = await patiently(() => api.uploadRange(session.value.uploadUrl, { start, end, total: a.size }, body, signal), signal, log);
    if (!put.ok) return put;
  }
  return { ok: true, value: undefined };
}

/** Runs a request again after a short Retry-After (429), a few times at most. */
async function patiently<T>(request: () => Promise<GraphResult<T>>, signal: AbortSignal, log: Logger): Promise<GraphResult<T>> {
  for (let waits = 0; ; waits++) {
    const result = await request();
    if (result.ok || waits >= WAITS_PER_REQUEST) return result;
    const f = result.failure;
    if (f.kind !== 'answer' || f.status !== 429 || f.retryAfterSeconds === null || f.retryAfterSeconds > WAIT_IN_PLACE_S) return result;
    log.info({ operation: f.operation, retryAfterSeconds: f.retryAfterSeconds, graph: f.message }, 'Graph is throttling: waiting Retry-After before sending the request again');
    try {
      await sleep(f.retryAfterSeconds * 1000, undefined, { signal });
    } catch {
      return result;
    }
  }
}

async function discard(api: GraphApi, draftId: string, failed: { ok: false; failure: GraphFailure }, log: Logger): Promise<{ ok: false; failure: GraphFailure }> {
  const removed = await api.deleteDraft(draftId, AbortSignal.timeout(30_000));
  if (!removed) log.warn({ draftId }, 'could not delete the draft of a failed attempt; it stays in the mailbox\'s Drafts folder');
  return failed;
}

function withFrom(failed: { ok: false; failure: GraphFailure }, from: string | undefined): DraftOutcome {
  return { ok: false, failure: failed.failure, ...(from ? { from } : {}) };
}
