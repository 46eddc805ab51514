// What runs before every Graph mail route, in Exchange's order: the token (401), the mailbox
// (404), throttling (429), the permission and its scoping (403). It runs as the route's onRequest
// hook, before the body is read, so a refused request is answered without its body being stored
// and a request holds its concurrency slot while its body is still arriving.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { describe } from '../http-route.js';
import type { Mailbox } from '../tenant/schema.js';
import { authorize, ME, resolveMailbox, type MailPermission } from './access.js';
import { authenticate, type GraphCaller } from './auth.js';
import type { GraphContext } from './context.js';
import { Graph, sendGraphError, type GraphError, type GraphOutcome } from './errors.js';
import { declaredLength, drain, readBounded } from './request-body.js';
import { GraphThrottle } from './throttle.js';

export interface GraphRequestState {
  readonly caller: GraphCaller;
  readonly mailbox: Mailbox;
  /** The throttling key of this app on this mailbox. */
  readonly throttleKey: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the guard for Graph mail routes. */
    graph: GraphRequestState | null;
  }
}

/** The onRequest hook of a Graph route that needs `permission` on the mailbox of its URL. */
export function guard(g: GraphContext, permission: MailPermission, action: string) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    const ctx = g.sandbox;
    describe(request, { action });
    const refuse = (error: GraphError) => sendGraphError(request, reply, error, ctx.clock.date());
    const caller = await authenticate(ctx, request);
    if (!caller.ok) return refuse(caller.error);
    const c = caller.value;
    describe(request, { appId: c.appId, ...(c.user ? { user: c.user } : {}) });
    const tenant = ctx.tenant.current;
    const name = (request.params as { user?: string }).user;
    const mailbox = resolveMailbox(tenant, c, name === undefined ? ME : name);
    if (!mailbox.ok) return refuse(mailbox.error);
    const m = mailbox.value;
    describe(request, { mailbox: m.address });
    const throttleKey = GraphThrottle.key(c.appId, m.address);
    const admitted = g.throttle.admit(throttleKey);
    if (!admitted.ok) return refuse(admitted.error);
    reply.raw.once('close', admitted.release);
    const allowed = authorize(tenant, c, m, permission);
    if (!allowed.ok) return refuse(allowed.error);
    request.graph = { caller: c, mailbox: m, throttleKey };
    return undefined;
  };
}

/** The state the guard set; routes using `guard` always have it. */
export function stateOf(request: FastifyRequest): GraphRequestState {
  if (!request.graph) throw new Error(`${request.url}: a Graph route ran without its guard`);
  return request.graph;
}

/**
 * Reads a request body within Graph's request limit (413 beyond it), counting it against the
 * app's upload volume on the mailbox (429 IncomingBytes once the window is full).
 */
export async function readBody(g: GraphContext, request: FastifyRequest, throttleKey: string): Promise<GraphOutcome<Buffer>> {
  const declared = declaredLength(request.raw);
  if (declared !== undefined && declared <= g.settings.maxRequestBytes) {
    const over = g.throttle.upload(throttleKey, declared);
    if (over) {
      await drain(request.raw);
      return { ok: false, error: over };
    }
  }
  const read = await readBounded(request.raw, g.settings.maxRequestBytes);
  if (!read.ok) return { ok: false, error: read.reason === 'too_large' ? Graph.messageTooLarge() : Graph.invalidRequest('The request body ended early.') };
  if (declared === undefined) {
    const over = g.throttle.upload(throttleKey, read.body.length);
    if (over) return { ok: false, error: over };
  }
  return { ok: true, value: read.body };
}

/** The media type of the request, lower case, without parameters. */
export function mediaTypeOf(request: FastifyRequest): string {
  return (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}
