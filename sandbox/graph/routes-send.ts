// POST /v1.0/users/{id | userPrincipalName}/sendMail (and /v1.0/me/sendMail): send in one request.
//
// JSON: `{message, saveToSentItems}`; the message, with its inline fileAttachments, is composed
// into MIME by MailComposer. MIME: `Content-Type: text/plain` and the message in base64; it is
// delivered as sent (minus Bcc) and always kept in Sent Items. 202 Accepted, empty body.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { describe } from '../http-route.js';
import { composeMessage, newMessageId } from './compose.js';
import { senderOf, type GraphContext } from './context.js';
import { fail, Graph, requestIds, sendGraphError, type GraphOutcome } from './errors.js';
import { guard, mediaTypeOf, readBody, stateOf, type GraphRequestState } from './guard.js';
import { allRecipients } from './message.js';
import { parseJsonBody, readMessage } from './message-json.js';
import { parseMimeBody, readMimeSubmission } from './mime-input.js';
import { graphRoute, USER_BASES } from './route-config.js';
import { submit, type Submission } from './submit.js';

export function sendMailRoutes(app: FastifyInstance, g: GraphContext): void {
  for (const base of USER_BASES) {
    app.post(`${base}/sendMail`, { ...graphRoute(g), onRequest: guard(g, 'Mail.Send', 'sendMail') }, (request, reply) => sendMail(g, request, reply));
  }
}

async function sendMail(g: GraphContext, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const state = stateOf(request);
  const now = g.sandbox.clock.date();
  const body = await readBody(g, request, state.throttleKey);
  if (!body.ok) return sendGraphError(request, reply, body.error, now);
  const type = mediaTypeOf(request);
  const submission = type === 'text/plain' ? await mimeSubmission(g, request, state, body.value) : type === 'application/json' ? jsonSubmission(g, request, state, body.value) : fail<Submission>(Graph.unsupportedMediaType(type));
  if (!submission.ok) return sendGraphError(request, reply, submission.error, now);
  const sent = await submit(g, submission.value);
  if (!sent.ok) return sendGraphError(request, reply, sent.error, now);
  describe(request, { detail: { form: type === 'text/plain' ? 'mime' : 'json', internal: sent.value.internal, external: sent.value.external, unresolved: sent.value.unresolved, savedToSentItems: submission.value.sentCopy !== null } });
  return reply.code(202).send();
}

function jsonSubmission(g: GraphContext, request: FastifyRequest, state: GraphRequestState, bytes: Buffer): GraphOutcome<Submission> {
  const json = parseJsonBody(bytes);
  if (!json.ok) return json;
  if (json.value.message === undefined || json.value.message === null) return fail(Graph.invalidRequest("The request body must contain the parameter 'message'."));
  const parsed = readMessage(json.value.message);
  if (!parsed.ok) return parsed;
  const { model, attachments } = parsed.value;
  const save = json.value.saveToSentItems;
  const saveToSentItems = !(save === false || (typeof save === 'string' && save.toLowerCase() === 'false'));
  // Both copies carry the same Message-ID and Date: they are one message.
  const messageId = newMessageId();
  const date = g.sandbox.clock.date();
  const compose = (keepBcc: boolean) => composeMessage({ model, from: model.from ?? senderOf(g.sandbox, state.mailbox.address), attachments, date, messageId, keepBcc });
  return {
    ok: true,
    value: {
      caller: state.caller,
      mailbox: state.mailbox,
      ...(model.from ? { from: model.from.address } : {}),
      recipients: allRecipients(model),
      subject: model.subject,
      message: () => compose(false),
      sentCopy: saveToSentItems ? () => compose(true) : null,
      session: requestIds(request).clientRequestId,
    },
  };
}

async function mimeSubmission(g: GraphContext, request: FastifyRequest, state: GraphRequestState, bytes: Buffer): Promise<GraphOutcome<Submission>> {
  const mime = await parseMimeBody(bytes);
  if (!mime.ok) return mime;
  const m = readMimeSubmission(mime.value.raw, mime.value.parsed, { from: senderOf(g.sandbox, state.mailbox.address), date: g.sandbox.clock.date() });
  return {
    ok: true,
    value: {
      caller: state.caller,
      mailbox: state.mailbox,
      ...(m.from ? { from: m.from } : {}),
      recipients: m.recipients,
      ...(m.subject !== undefined ? { subject: m.subject } : {}),
      message: () => m.delivered,
      sentCopy: () => m.sent,
      session: requestIds(request).clientRequestId,
    },
  };
}
