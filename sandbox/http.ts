// The sandbox's HTTPS server: Entra ID, the sandbox API and page, and (later) Graph, on one port.
//
// The server does the two things every endpoint needs, so plugins do not: before a route that
// names its endpoint runs, fault injection is consulted (latency, an injected reply, a dropped
// connection); after it answers, one event is logged with what the handler added via describe().
import formbody from '@fastify/formbody';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { sandboxApiPlugin } from './api/plugin.js';
import { sandboxPagePlugin } from './api/page.js';
import type { SandboxContext } from './context.js';
import { entraPlugin } from './entra/plugin.js';
import { graphPlugin } from './graph/plugin.js';
import type { SandboxHttpPlugin } from './http-route.js';

/**
 * The plugins every sandbox serves, in registration order. Graph registers here with one line;
 * its routes live under GRAPH_PREFIX (context.ts) and name `config: { endpoint: 'graph' }`.
 */
export const HTTP_PLUGINS: readonly SandboxHttpPlugin[] = [entraPlugin, graphPlugin, sandboxApiPlugin, sandboxPagePlugin];

/** The endpoint name that takes the whole HTTPS listener down (every route at once). */
export const HTTPS_ENDPOINT = 'https';

export interface RunningHttpServer {
  readonly app: FastifyInstance;
  readonly port: number;
  close(): Promise<void>;
}

export async function startHttpServer(ctx: SandboxContext, plugins: readonly SandboxHttpPlugin[]): Promise<RunningHttpServer> {
  const { options, pki } = ctx;
  const app = Fastify({ https: { key: pki.key, cert: pki.cert }, logger: false, forceCloseConnections: true });
  await app.register(formbody);
  app.decorateRequest('sandboxEvent', null as unknown as FastifyRequest['sandboxEvent']);
  app.addHook('onRequest', async (request, reply) => {
    request.sandboxEvent = {};
    return applyFault(ctx, request, reply);
  });
  app.addHook('onResponse', async (request, reply) => logEvent(ctx, request, reply));
  // An injected outage of the whole server: open connections are cut when it starts, and new ones
  // (or requests on kept-alive ones) are closed as soon as they arrive, until it ends.
  app.server.on('connection', (socket) => {
    if (ctx.faults.downMode(HTTPS_ENDPOINT) !== null) socket.destroy();
  });
  const stopWatching = ctx.faults.onChange((endpoint) => {
    if (endpoint === HTTPS_ENDPOINT && ctx.faults.downMode(HTTPS_ENDPOINT) !== null) app.server.closeAllConnections();
  });
  app.addHook('onClose', async () => stopWatching());
  for (const plugin of plugins) await app.register(async (scope) => plugin(scope, ctx));
  await app.listen({ host: options.host, port: options.httpsPort });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.httpsPort;
  return { app, port, close: () => app.close() };
}

async function applyFault(ctx: SandboxContext, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
  if (ctx.faults.downMode(HTTPS_ENDPOINT) !== null) {
    reply.hijack();
    request.raw.socket.destroy();
    return reply;
  }
  const config = request.routeOptions.config;
  if (!config.endpoint) return undefined;
  const action = await ctx.faults.consult(config.endpoint);
  if (!action || (action.type === 'reply' && !action.http)) return undefined;
  request.sandboxEvent = { outcome: 'fault', detail: { faultId: action.faultId, fault: action.type } };
  if (action.type === 'reply' && action.http) {
    const { status, headers, body } = action.http;
    return reply
      .code(status)
      .headers(headers ?? {})
      .send(body ?? config.faultBody?.(status) ?? '');
  }
  // 'drop' and 'down': the client sees the connection close without an answer.
  ctx.events.record({ endpoint: config.endpoint, action: `${request.method} ${pathOf(request)}`, outcome: 'fault', message: `connection closed by an injected '${action.type}' fault`, detail: { faultId: action.faultId } });
  reply.hijack();
  request.raw.socket.destroy();
  return reply;
}

function logEvent(ctx: SandboxContext, request: FastifyRequest, reply: FastifyReply): void {
  const endpoint = request.routeOptions.config.endpoint;
  if (!endpoint) return;
  const e = request.sandboxEvent ?? {};
  const status = reply.statusCode;
  const header = request.headers['client-request-id'];
  const query = request.query as Record<string, string | undefined> | undefined;
  const session = query?.['client-request-id'] ?? (typeof header === 'string' ? header : undefined);
  ctx.events.record({
    ...e,
    endpoint,
    action: e.action ?? `${request.method} ${pathOf(request)}`,
    outcome: e.outcome ?? (status >= 500 ? 'error' : status >= 400 ? 'refused' : 'ok'),
    status,
    durationMs: Math.round(reply.elapsedTime),
    ...(session ? { session } : {}),
  });
}

function pathOf(request: FastifyRequest): string {
  return request.url.split('?')[0] ?? request.url;
}
