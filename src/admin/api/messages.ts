/** /api/messages: the queue (SOST's list), one message, and the admin's actions on them. */
import type { FastifyInstance } from 'fastify';
import { State } from '../../queue/states.js';
import type { RouteConfig } from '../../config/routes.js';
import type { Store } from '../../queue/store.js';
import type { AdminAuth } from '../auth.js';
import { actOn, emlStream, messageView } from '../message-views.js';
import { badRequest, conflict, notFound, problemSchema } from '../problems.js';

const STATES = Object.values(State);
const MAX_PAGE = 500;
const anyObject = { type: 'object', additionalProperties: true } as const;
const errors = { 400: problemSchema, 401: problemSchema, 404: problemSchema } as const;

interface ListQuerystring {
  state?: string;
  app?: string;
  sender?: string;
  recipient?: string;
  route?: string;
  kind?: 'normal' | 'dsn' | 'notification';
  since?: string;
  until?: string;
  cursor?: string;
  limit?: number;
}

function time(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const t = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (Number.isNaN(t)) throw badRequest(`${name} expects an ISO 8601 time or milliseconds since 1970, got ${JSON.stringify(value)}`);
  return t;
}

export function messageRoutes(app: FastifyInstance, store: Store, auth: AdminAuth, routes: Record<string, RouteConfig>): void {
  app.get<{ Querystring: ListQuerystring }>(
    '/api/messages',
    {
      schema: {
        tags: ['messages'],
        summary: 'Messages, newest first, with filters; page with the returned nextCursor (keyset paging by id).',
        querystring: {
          type: 'object',
          properties: {
            state: { type: 'string', description: `Comma-separated states: ${STATES.join(', ')}` },
            app: { type: 'string' },
            sender: { type: 'string', description: 'The envelope sender contains this.' },
            recipient: { type: 'string', description: 'A recipient contains this.' },
            route: { type: 'string', description: 'A recipient was tried on this route.' },
            kind: { type: 'string', enum: ['normal', 'dsn', 'notification'], description: 'Only mail from apps, only DSNs relay365 wrote, or only its notifications to the admins.' },
            since: { type: 'string', description: 'Received at or after (ISO 8601 or ms).' },
            until: { type: 'string', description: 'Received before (ISO 8601 or ms).' },
            cursor: { type: 'string', description: 'nextCursor of the previous page.' },
            limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE, default: 50 },
          },
          additionalProperties: false,
        },
        response: { 200: { type: 'object', properties: { messages: { type: 'array', items: anyObject }, nextCursor: { type: ['string', 'null'] }, states: { type: 'array', items: { type: 'string' }, description: 'Every state a message can be in (the filter\'s choices).' } } }, ...errors },
      },
    },
    async (request) => {
      const q = request.query;
      const states = q.state ? q.state.split(',').map((s) => s.trim()).filter(Boolean) : [];
      const unknown = states.filter((s) => !STATES.includes(s as State));
      if (unknown.length) throw badRequest(`unknown state ${unknown.map((s) => `"${s}"`).join(', ')}; states are ${STATES.join(', ')}`);
      if (q.cursor !== undefined && !/^[0-9a-z]{1,18}$/.test(q.cursor)) throw badRequest('cursor is not one this API returned');
      const limit = q.limit ?? 50;
      const messages = await store.list({
        ...(states.length ? { states: states as State[] } : {}),
        ...(q.app ? { app: q.app } : {}),
        ...(q.sender ? { sender: q.sender } : {}),
        ...(q.recipient ? { recipient: q.recipient } : {}),
        ...(q.route ? { route: q.route } : {}),
        ...(q.kind ? { kind: q.kind } : {}),
        ...(time(q.since, 'since') !== undefined ? { since: time(q.since, 'since') as number } : {}),
        ...(time(q.until, 'until') !== undefined ? { until: time(q.until, 'until') as number } : {}),
        ...(q.cursor ? { before: q.cursor } : {}),
        limit,
      });
      return { messages, nextCursor: messages.length === limit ? (messages.at(-1)?.id ?? null) : null, states: STATES };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/messages/:id',
    { schema: { tags: ['messages'], summary: 'One message: envelope, headers, recipients, the attempt timeline with upstream replies, verdicts, diagnoses and fixes.', response: { 200: anyObject, ...errors } } },
    async (request) => {
      const view = await messageView(store, request.params.id, routes);
      if (!view) throw notFound(`no message ${request.params.id} in the queue`);
      return view;
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/messages/:id/eml',
    { schema: { tags: ['messages'], summary: 'The message as delivered (message/rfc822), streamed.', response: { 404: problemSchema, 401: problemSchema } } },
    async (request, reply) => {
      const eml = await emlStream(store, request.params.id);
      if (!eml) throw notFound(`no message ${request.params.id} in the queue`);
      return reply
        .type('message/rfc822')
        .header('content-length', String(eml.size))
        .header('content-disposition', `attachment; filename="${request.params.id}.eml"`)
        .send(eml.stream);
    },
  );

  for (const action of ['retry', 'cancel'] as const) {
    app.post<{ Params: { id: string } }>(
      `/api/messages/:id/${action}`,
      { schema: { tags: ['messages'], summary: action === 'retry' ? 'Try again now (deferred, held or failed).' : 'Stop delivering what is not delivered yet.', response: { 200: anyObject, 409: problemSchema, ...errors } } },
      async (request) => {
        const caller = auth.require(request);
        const [result] = await actOn(store, [request.params.id], action, caller.user);
        if (!result?.ok) throw result?.error === 'no such message' || result?.error === 'not a message id' ? notFound(`no message ${request.params.id} in the queue`) : conflict(result?.error ?? action);
        return result;
      },
    );
  }

  app.delete<{ Params: { id: string } }>(
    '/api/messages/:id',
    { schema: { tags: ['messages'], summary: 'Remove the message from the store, body included.', response: { 200: anyObject, 409: problemSchema, ...errors } } },
    async (request) => {
      const caller = auth.require(request);
      const [result] = await actOn(store, [request.params.id], 'delete', caller.user);
      if (!result?.ok) throw result?.error === 'no such message' || result?.error === 'not a message id' ? notFound(`no message ${request.params.id} in the queue`) : conflict(result?.error ?? 'delete');
      return result;
    },
  );

  app.post<{ Body: { action: 'retry' | 'cancel' | 'delete'; ids: string[] } }>(
    '/api/messages/actions',
    {
      schema: {
        tags: ['messages'],
        summary: 'One action on several messages (the queue page\'s bulk retry/cancel); each gets its own result.',
        body: {
          type: 'object',
          properties: { action: { type: 'string', enum: ['retry', 'cancel', 'delete'] }, ids: { type: 'array', items: { type: 'string' }, minItems: 1, maxItems: 1000 } },
          required: ['action', 'ids'],
          additionalProperties: false,
        },
        response: { 200: { type: 'object', properties: { results: { type: 'array', items: anyObject } } }, ...errors },
      },
    },
    async (request) => {
      const caller = auth.require(request);
      return { results: await actOn(store, request.body.ids, request.body.action, caller.user) };
    },
  );
}
