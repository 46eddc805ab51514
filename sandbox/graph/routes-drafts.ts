// Drafts, for messages too large for one request: create, attach, send.
//
//   POST /v1.0/users/{id}/messages                        JSON message (or base64 MIME) → 201 message
//   POST /v1.0/users/{id}/messages/{id}/attachments       JSON fileAttachment (< 3 MB)  → 201 attachment
//   POST /v1.0/users/{id}/messages/{id}/send              no body                        → 202
//
// Creating and attaching need Mail.ReadWrite; sending needs Mail.Send. A draft's /send always
// keeps the message in Sent Items (the draft moves there), as Exchange does.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GRAPH_PREFIX } from '../context.js';
import { describe } from '../http-route.js';
import { senderOf, type GraphContext } from './context.js';
import { fail, Graph, requestIds, sendGraphError, type GraphOutcome } from './errors.js';
import { guard, mediaTypeOf, readBody, stateOf } from './guard.js';
import { allRecipients, type InlineAttachment, type MessageModel } from './message.js';
import { parseJsonBody, readFileAttachment, readMessage } from './message-json.js';
import { mimeToDraft, parseMimeBody } from './mime-input.js';
import { drain } from './request-body.js';
import { attachmentResource, messageResource } from './resources.js';
import { graphRoute, USER_BASES } from './route-config.js';
import { submit } from './submit.js';

type DraftParams = { user?: string; messageId: string };

export function draftRoutes(app: FastifyInstance, g: GraphContext): void {
  for (const base of USER_BASES) {
    app.post(`${base}/messages`, { ...graphRoute(g), onRequest: guard(g, 'Mail.ReadWrite', 'createMessage') }, (request, reply) => createDraft(g, request, reply));
    app.post<{ Params: DraftParams }>(`${base}/messages/:messageId/attachments`, { ...graphRoute(g), onRequest: guard(g, 'Mail.ReadWrite', 'addAttachment') }, (request, reply) =>
      addAttachment(g, request, reply),
    );
    app.post<{ Params: DraftParams }>(`${base}/messages/:messageId/send`, { ...graphRoute(g), onRequest: guard(g, 'Mail.Send', 'send') }, (request, reply) => sendDraft(g, request, reply));
  }
}

/** The Graph base URL as this client reached it (the sandbox's stand-in for https://graph.microsoft.com). */
export function graphBaseOf(request: FastifyRequest): string {
  return `https://${request.host}${GRAPH_PREFIX}`;
}

/** How the URL named the mailbox, for `@odata.context` (the mailbox's id under /me). */
function userSegment(request: FastifyRequest): string {
  return (request.params as { user?: string }).user ?? stateOf(request).mailbox.id;
}

async function createDraft(g: GraphContext, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const state = stateOf(request);
  const now = g.sandbox.clock.date();
  const body = await readBody(g, request, state.throttleKey);
  if (!body.ok) return sendGraphError(request, reply, body.error, now);
  const type = mediaTypeOf(request);
  const input = type === 'application/json' ? jsonDraft(body.value) : type === 'text/plain' ? await mimeDraft(body.value) : fail<DraftInput>(Graph.unsupportedMediaType(type));
  if (!input.ok) return sendGraphError(request, reply, input.error, now);
  const draft = await g.drafts.create(state.mailbox.address, input.value.model, input.value.attachments);
  describe(request, { detail: { messageId: draft.id, form: type === 'text/plain' ? 'mime' : 'json', attachments: draft.attachments.length } });
  const sender = senderOf(g.sandbox, state.mailbox.address);
  return reply.code(201).type('application/json; charset=utf-8').send(messageResource(graphBaseOf(request), userSegment(request), draft, sender));
}

type DraftInput = { model: MessageModel; attachments: InlineAttachment[] };

function jsonDraft(bytes: Buffer): GraphOutcome<DraftInput> {
  const json = parseJsonBody(bytes);
  if (!json.ok) return json;
  return readMessage(json.value);
}

async function mimeDraft(bytes: Buffer): Promise<GraphOutcome<DraftInput>> {
  const mime = await parseMimeBody(bytes);
  return mime.ok ? { ok: true, value: mimeToDraft(mime.value.parsed) } : mime;
}

async function addAttachment(g: GraphContext, request: FastifyRequest<{ Params: DraftParams }>, reply: FastifyReply): Promise<FastifyReply> {
  const state = stateOf(request);
  const now = g.sandbox.clock.date();
  const draft = g.drafts.get(state.mailbox.address, request.params.messageId);
  if (!draft) {
    await drain(request.raw);
    return sendGraphError(request, reply, Graph.itemNotFound(), now);
  }
  const body = await readBody(g, request, state.throttleKey);
  if (!body.ok) return sendGraphError(request, reply, body.error, now);
  const json = parseJsonBody(body.value);
  if (!json.ok) return sendGraphError(request, reply, json.error, now);
  const attachment = readFileAttachment(json.value);
  if (!attachment.ok) return sendGraphError(request, reply, attachment.error, now);
  const stored = await g.drafts.addInline(draft, attachment.value);
  describe(request, { detail: { messageId: draft.id, attachmentId: stored.id, size: stored.size } });
  return reply
    .code(201)
    .type('application/json; charset=utf-8')
    .send(attachmentResource(graphBaseOf(request), userSegment(request), draft.id, stored, attachment.value.content));
}

async function sendDraft(g: GraphContext, request: FastifyRequest<{ Params: DraftParams }>, reply: FastifyReply): Promise<FastifyReply> {
  const state = stateOf(request);
  const now = g.sandbox.clock.date();
  await drain(request.raw);
  const draft = g.drafts.get(state.mailbox.address, request.params.messageId);
  if (!draft) return sendGraphError(request, reply, Graph.itemNotFound(), now);
  const sent = await g.drafts.exclusive(draft.id, () =>
    submit(g, {
      caller: state.caller,
      mailbox: state.mailbox,
      ...(draft.model.from ? { from: draft.model.from.address } : {}),
      recipients: allRecipients(draft.model),
      subject: draft.model.subject,
      message: () => g.drafts.render(draft, false),
      sentCopy: () => g.drafts.render(draft, true),
      session: requestIds(request).clientRequestId,
    }),
  );
  if (!sent.ok) return sendGraphError(request, reply, sent.error, now);
  await g.drafts.discard(draft);
  describe(request, { detail: { messageId: draft.id, internal: sent.value.internal, external: sent.value.external, unresolved: sent.value.unresolved, attachments: draft.attachments.length } });
  return reply.code(202).send();
}
