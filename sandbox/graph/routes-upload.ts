// Large attachments: an upload session on a draft, and its pre-authenticated upload URL.
//
//   POST /v1.0/users/{id}/messages/{id}/attachments/createUploadSession   {AttachmentItem} → 201 uploadSession
//   PUT  <uploadUrl>   Content-Range: bytes a-b/total, ≤ 4 MB   → 200 {nextExpectedRanges}, the last → 201 + Location
//   DELETE <uploadUrl>                                           → 204
//
// The upload URL has Microsoft's shape (`.../api/v2.0/Users('{id}@{tenant}')/Messages('{id}')/
// AttachmentSessions('{id}')?authtoken=...`) under the sandbox's Graph prefix; it carries its own
// credential, so PUTs send no Authorization header. Ranges must come in order, each within Graph's
// request limit; they stream to disk and count against the app's upload volume on the mailbox.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { describe } from '../http-route.js';
import type { GraphContext } from './context.js';
import { Graph, sendGraphError, type GraphError } from './errors.js';
import { guard, readBody, stateOf } from './guard.js';
import { parseJsonBody } from './message-json.js';
import { appendChunk, declaredLength, drain } from './request-body.js';
import { graphRoute, USER_BASES } from './route-config.js';
import { graphBaseOf } from './routes-drafts.js';
import { GraphThrottle } from './throttle.js';
import { parseContentRange, type UploadSession } from './upload-sessions.js';

const attachmentItemSchema = z.object({
  attachmentItem: z.object({
    attachmentType: z.string().nullish(),
    name: z.string().min(1),
    size: z.number().int().nonnegative(),
    contentType: z.string().nullish(),
    isInline: z.boolean().nullish(),
    contentId: z.string().nullish(),
  }),
});

/** Sessions with a range arriving: ranges of one session come one at a time, in order. */
const busy = new WeakSet<UploadSession>();

const SESSION_PATH = /^Users\('([^']+)'\)\/Messages\('([^']+)'\)\/AttachmentSessions\('([^']+)'\)$/i;

export function uploadRoutes(app: FastifyInstance, g: GraphContext): void {
  for (const base of USER_BASES) {
    app.post<{ Params: { user?: string; messageId: string } }>(
      `${base}/messages/:messageId/attachments/createUploadSession`,
      { ...graphRoute(g), onRequest: guard(g, 'Mail.ReadWrite', 'createUploadSession') },
      (request, reply) => createUploadSession(g, request, reply),
    );
  }
  app.put('/api/v2.0/*', graphRoute(g), (request, reply) => uploadRange(g, request, reply));
  app.delete('/api/v2.0/*', graphRoute(g), (request, reply) => cancelUpload(g, request, reply));
}

async function createUploadSession(g: GraphContext, request: FastifyRequest<{ Params: { user?: string; messageId: string } }>, reply: FastifyReply): Promise<FastifyReply> {
  const state = stateOf(request);
  const now = g.sandbox.clock.date();
  const refuse = (error: GraphError) => sendGraphError(request, reply, error, now);
  const body = await readBody(g, request, state.throttleKey);
  if (!body.ok) return refuse(body.error);
  const draft = g.drafts.get(state.mailbox.address, request.params.messageId);
  if (!draft) return refuse(Graph.itemNotFound());
  const json = parseJsonBody(body.value);
  if (!json.ok) return refuse(json.error);
  const parsed = attachmentItemSchema.safeParse(json.value);
  if (!parsed.success) return refuse(Graph.invalidRequest(`The request body must contain an AttachmentItem with attachmentType 'file', a name and a size: ${parsed.error.issues[0]?.message ?? ''}`));
  const item = parsed.data.attachmentItem;
  if ((item.attachmentType ?? 'file').toLowerCase() !== 'file') return refuse(Graph.invalidRequest(`The sandbox reproduces attachmentType 'file' only, not '${item.attachmentType}'.`));
  if (item.size < g.settings.uploadSessionMinBytes) return refuse(Graph.attachmentTooSmall());
  if (item.size > g.settings.uploadSessionMaxBytes || item.size > state.mailbox.maxSendSize) return refuse(Graph.messageTooLarge());
  const expiresAt = g.sandbox.clock.now() + g.settings.uploadSessionLifetimeSeconds * 1000;
  const attachment = { name: item.name, contentType: item.contentType ?? 'application/octet-stream', isInline: item.isInline ?? false, ...(item.contentId ? { contentId: item.contentId } : {}) };
  const owner = { appId: state.caller.appId, mailbox: state.mailbox.address, mailboxId: state.mailbox.id, draftId: draft.id };
  const session = await g.uploads.create({ ...owner, ...attachment, size: item.size, expiresAt }, g.sandbox.clock.now());
  describe(request, { detail: { messageId: draft.id, uploadSession: session.id, size: item.size } });
  return reply
    .code(201)
    .type('application/json; charset=utf-8')
    .send({
      '@odata.context': `${graphBaseOf(request)}/v1.0/$metadata#microsoft.graph.uploadSession`,
      uploadUrl: `${sessionUrl(g, request, session)}?authtoken=${session.token}`,
      expirationDateTime: new Date(expiresAt).toISOString(),
      nextExpectedRanges: ['0-'],
    });
}

function sessionUrl(g: GraphContext, request: FastifyRequest, s: UploadSession): string {
  return `${graphBaseOf(request)}/api/v2.0/Users('${s.mailboxId}@${g.sandbox.tenant.current.tenantId}')/Messages('${s.draftId}')/AttachmentSessions('${s.id}')`;
}

/** The session the upload URL names, if its authtoken is right and it has not expired. */
function sessionOf(g: GraphContext, request: FastifyRequest): { ok: true; session: UploadSession } | { ok: false; error: GraphError } {
  const match = SESSION_PATH.exec((request.params as { '*': string })['*']);
  const token = (request.query as { authtoken?: string }).authtoken ?? '';
  const session = match ? g.uploads.find(match[3]!, token) : undefined;
  if (!match || !session) return { ok: false, error: Graph.uploadSessionNotFound() };
  describe(request, { action: `uploadSession ${request.method}`, appId: session.appId, mailbox: session.mailbox, detail: { uploadSession: session.id } });
  if (g.sandbox.clock.now() > session.expiresAt) {
    void g.uploads.cancel(session);
    return { ok: false, error: Graph.invalidToken('expired', g.sandbox.urls.login) };
  }
  return { ok: true, session };
}

async function uploadRange(g: GraphContext, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const now = g.sandbox.clock.date();
  const refuse = async (error: GraphError) => {
    await drain(request.raw);
    return sendGraphError(request, reply, error, now);
  };
  const found = sessionOf(g, request);
  if (!found.ok) return refuse(found.error);
  const s = found.session;
  const key = GraphThrottle.key(s.appId, s.mailbox);
  const admitted = g.throttle.admit(key);
  if (!admitted.ok) return refuse(admitted.error);
  reply.raw.once('close', admitted.release);
  const range = parseContentRange(request.headers['content-range']);
  const length = declaredLength(request.raw);
  if (!range) return refuse(Graph.invalidRequest("The Content-Range header must be 'bytes {start}-{end}/{total}'."));
  if (range.total !== s.size) return refuse(Graph.invalidRequest(`The Content-Range total ${range.total} does not match the size of the upload session, ${s.size}.`));
  if (range.start !== s.received || busy.has(s)) return refuse(Graph.uploadRange(`The range starts at ${range.start}; the next expected range starts at ${s.received}.`));
  const expected = range.end - range.start + 1;
  if (expected > g.settings.maxRequestBytes || (length ?? 0) > g.settings.maxRequestBytes) return refuse(Graph.messageTooLarge());
  const over = g.throttle.upload(key, expected);
  if (over) return refuse(over);
  busy.add(s);
  const written = await appendChunk(request.raw, s.file, s.received, expected).finally(() => busy.delete(s));
  if (!written.ok) {
    const error = written.reason === 'aborted' ? Graph.invalidRequest('The request body ended early.') : Graph.invalidRequest(`Content size does not match the Content-Range: ${written.bytes} bytes written while expected ${expected}.`);
    return sendGraphError(request, reply, error, now);
  }
  s.received += expected;
  if (s.received < s.size) {
    return reply.code(200).type('application/json; charset=utf-8').send({
      '@odata.context': `${graphBaseOf(request)}/api/v2.0/$metadata#Users('${s.mailboxId}@${g.sandbox.tenant.current.tenantId}')/Messages('${s.draftId}')/AttachmentSessions/$entity`,
      ExpirationDateTime: new Date(s.expiresAt).toISOString(),
      nextExpectedRanges: [String(s.received)],
    });
  }
  return finishUpload(g, request, reply, s);
}

async function finishUpload(g: GraphContext, request: FastifyRequest, reply: FastifyReply, s: UploadSession): Promise<FastifyReply> {
  const draft = g.drafts.get(s.mailbox, s.draftId);
  g.uploads.finish(s);
  if (!draft) {
    await g.uploads.cancel(s);
    return sendGraphError(request, reply, Graph.itemNotFound(), g.sandbox.clock.date());
  }
  const { name, contentType, isInline, contentId, size } = s;
  const attachment = await g.drafts.addFile(draft, s.file, { name, contentType, isInline, ...(contentId ? { contentId } : {}), size });
  describe(request, { detail: { uploadSession: s.id, messageId: draft.id, attachmentId: attachment.id, size } });
  const location = `${graphBaseOf(request)}/api/v2.0/Users('${s.mailboxId}@${g.sandbox.tenant.current.tenantId}')/Messages('${s.draftId}')/Attachments('${attachment.id}')`;
  return reply.code(201).header('location', location).send();
}

async function cancelUpload(g: GraphContext, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  await drain(request.raw);
  const found = sessionOf(g, request);
  if (!found.ok) return sendGraphError(request, reply, found.error, g.sandbox.clock.date());
  await g.uploads.cancel(found.session);
  return reply.code(204).send();
}
