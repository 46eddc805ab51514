// The sandbox's own JSON API under /sandbox/api: look inside the mailboxes and the event log,
// change the tenant, inject faults, revoke a user's grants, move the clock.
//
// These routes are the sandbox's control panel, not part of Microsoft 365: they are neither
// logged as events nor subject to fault injection. Errors are `{error: {code, message}}`.
import type { FastifyReply } from 'fastify';
import type { SandboxHttpPlugin } from '../http-route.js';
import { INTERNET_OUTBOX, type MailFolder } from '../state/mailboxes.js';
import type { FaultSpec } from '../state/faults.js';
import { findApp, findMailbox } from '../tenant/accessors.js';

const apiError = (reply: FastifyReply, status: number, code: string, message: string) => reply.code(status).send({ error: { code, message } });

export const sandboxApiPlugin: SandboxHttpPlugin = async (app, ctx) => {
  const base = '/sandbox/api';

  app.get(base, async () => ({
    urls: { authority: ctx.urls.authority(), login: ctx.urls.login, graph: ctx.urls.graph, api: ctx.urls.api, page: ctx.urls.page, deviceLogin: ctx.urls.deviceLogin },
    knownAuthorities: [ctx.urls.knownAuthority],
    tenantId: ctx.tenant.current.tenantId,
    caPath: ctx.pki.caPath,
    clockOffsetMs: ctx.clock.offsetMs,
  }));
  app.get('/sandbox/ca.pem', async (_request, reply) => reply.type('application/x-pem-file').send(ctx.pki.caPem));

  // Mailboxes and messages.
  app.get(`${base}/mailboxes`, async () => {
    const t = ctx.tenant.current;
    const count = (mailbox: string) => ctx.mailboxes.list({ mailbox }).length;
    return {
      mailboxes: [
        ...t.mailboxes.map((m) => ({ address: m.address, id: m.id, type: m.type, displayName: m.displayName ?? null, aliases: m.aliases, messages: count(m.address) })),
        { address: INTERNET_OUTBOX, id: null, type: 'internet', displayName: 'Internet outbox (external recipients)', aliases: [], messages: count(INTERNET_OUTBOX) },
      ],
    };
  });
  app.get<{ Querystring: { mailbox?: string; folder?: MailFolder } }>(`${base}/messages`, async (request) => ({
    messages: ctx.mailboxes.list({ ...(request.query.mailbox ? { mailbox: request.query.mailbox } : {}), ...(request.query.folder ? { folder: request.query.folder } : {}) }),
  }));
  app.get<{ Params: { id: string } }>(`${base}/messages/:id`, async (request, reply) => {
    const entry = ctx.mailboxes.get(request.params.id);
    return entry ?? apiError(reply, 404, 'message_not_found', `no message ${request.params.id} in the sandbox`);
  });
  app.get<{ Params: { id: string } }>(`${base}/messages/:id/raw`, async (request, reply) => {
    const stream = ctx.mailboxes.rawStream(request.params.id);
    if (!stream) return apiError(reply, 404, 'message_not_found', `no message ${request.params.id} in the sandbox`);
    return reply.type('message/rfc822').header('content-disposition', `inline; filename="${request.params.id}.eml"`).send(stream);
  });
  app.delete<{ Params: { id: string } }>(`${base}/messages/:id`, async (request, reply) =>
    (await ctx.mailboxes.remove(request.params.id)) ? reply.code(204).send() : apiError(reply, 404, 'message_not_found', `no message ${request.params.id} in the sandbox`),
  );
  app.delete<{ Querystring: { mailbox?: string } }>(`${base}/messages`, async (request) => ({ deleted: await ctx.mailboxes.clear(request.query.mailbox) }));

  // Events.
  app.get<{ Querystring: { since?: string; endpoint?: string; limit?: string } }>(`${base}/events`, async (request) => {
    const q = request.query;
    return {
      events: ctx.events.list({ ...(q.since ? { since: Number(q.since) } : {}), ...(q.endpoint ? { endpoint: q.endpoint } : {}), ...(q.limit ? { limit: Number(q.limit) } : {}) }),
      lastSeq: ctx.events.lastSeq,
    };
  });
  app.delete(`${base}/events`, async (_request, reply) => {
    ctx.events.clear();
    return reply.code(204).send();
  });

  // The tenant: read, replace, patch (JSON merge patch), and patch one mailbox, app or the organisation.
  app.get(`${base}/tenant`, async () => ctx.tenant.current);
  const applied = (reply: FastifyReply, result: ReturnType<typeof ctx.tenant.replace>) =>
    result.ok ? reply.send(result.tenant) : apiError(reply, 400, result.error.code, result.error.message);
  app.put(`${base}/tenant`, async (request, reply) => applied(reply, ctx.tenant.replace(request.body, 'PUT /sandbox/api/tenant')));
  app.patch(`${base}/tenant`, async (request, reply) => applied(reply, ctx.tenant.patch(request.body, 'PATCH /sandbox/api/tenant')));
  app.patch(`${base}/tenant/organization`, async (request, reply) => applied(reply, ctx.tenant.patch({ organization: request.body }, 'PATCH /sandbox/api/tenant/organization')));
  app.patch<{ Params: { address: string } }>(`${base}/tenant/mailboxes/:address`, async (request, reply) => {
    const t = ctx.tenant.current;
    const target = findMailbox(t, request.params.address);
    if (!target) return apiError(reply, 404, 'mailbox_not_found', `no mailbox ${request.params.address} in the tenant`);
    const result = ctx.tenant.update((draft) => {
      const m = draft.mailboxes.find((x) => x.address === target.address)!;
      Object.assign(m, request.body);
    }, `PATCH /sandbox/api/tenant/mailboxes/${target.address}`);
    return applied(reply, result);
  });
  app.patch<{ Params: { appId: string } }>(`${base}/tenant/apps/:appId`, async (request, reply) => {
    const target = findApp(ctx.tenant.current, request.params.appId);
    if (!target) return apiError(reply, 404, 'app_not_found', `no app registration ${request.params.appId} in the tenant`);
    const result = ctx.tenant.update((draft) => {
      Object.assign(draft.apps.find((a) => a.appId === target.appId)!, request.body);
    }, `PATCH /sandbox/api/tenant/apps/${target.appId}`);
    return applied(reply, result);
  });

  // Users: revoke every grant (what a password change does).
  app.post<{ Params: { address: string } }>(`${base}/users/:address/revoke`, async (request, reply) => {
    const result = ctx.entra.revokeUserGrants(request.params.address);
    return result.ok ? reply.send(result) : apiError(reply, 404, result.error.code, result.error.message);
  });

  // Faults.
  app.get(`${base}/faults`, async () => ({ faults: ctx.faults.list() }));
  app.post(`${base}/faults`, async (request, reply) => {
    const result = ctx.faults.add(request.body as FaultSpec);
    return result.ok ? reply.code(201).send(result.fault) : apiError(reply, 400, result.error.code, result.error.message);
  });
  app.delete<{ Querystring: { endpoint?: string } }>(`${base}/faults`, async (request, reply) => {
    ctx.faults.clear(request.query.endpoint);
    return reply.code(204).send();
  });
  app.delete<{ Params: { id: string } }>(`${base}/faults/:id`, async (request, reply) =>
    ctx.faults.remove(request.params.id) ? reply.code(204).send() : apiError(reply, 404, 'fault_not_found', `no fault ${request.params.id}`),
  );

  // The clock: move sandbox time forward to see expiries without waiting.
  app.post<{ Body: { advanceSeconds?: number } }>(`${base}/clock`, async (request, reply) => {
    const seconds = Number(request.body?.advanceSeconds);
    if (!(seconds >= 0)) return apiError(reply, 400, 'clock_invalid', 'give {"advanceSeconds": n} with n >= 0; the sandbox clock only moves forward');
    ctx.clock.advance(seconds * 1000);
    return { now: ctx.clock.date().toISOString(), offsetMs: ctx.clock.offsetMs };
  });
};
