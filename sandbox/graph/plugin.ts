// Microsoft Graph's mail sending on the sandbox's HTTPS server, under GRAPH_PREFIX
// (`urls.graph` + `/v1.0/...` stands for `https://graph.microsoft.com/v1.0/...`).
//
// Bodies are not parsed by Fastify here: each route reads its own, counting bytes as they arrive
// (request-body.ts), after its guard has checked the token, the mailbox, throttling and the
// permission. Every answer carries Graph's `request-id` and `client-request-id` headers.
import type { FastifyInstance } from 'fastify';
import { GRAPH_PREFIX } from '../context.js';
import type { SandboxHttpPlugin } from '../http-route.js';
import { openGraphContext, type GraphContext } from './context.js';
import { Graph, requestIds, sendGraphError } from './errors.js';
import { draftRoutes } from './routes-drafts.js';
import { readRoutes } from './routes-read.js';
import { sendMailRoutes } from './routes-send.js';
import { uploadRoutes } from './routes-upload.js';

export const graphPlugin: SandboxHttpPlugin = async (app, ctx) => {
  const g = await openGraphContext(ctx);
  await app.register(async (graph) => graphScope(graph, g), { prefix: GRAPH_PREFIX });
};

async function graphScope(app: FastifyInstance, g: GraphContext): Promise<void> {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null));
  app.decorateRequest('graph', null);
  app.addHook('onSend', async (request, reply) => {
    const { requestId, clientRequestId } = requestIds(request);
    reply.header('request-id', requestId).header('client-request-id', clientRequestId);
  });
  app.setErrorHandler(async (error, request, reply) => sendGraphError(request, reply, Graph.internal(`The sandbox failed: ${(error as Error).message}`), g.sandbox.clock.date()));
  app.setNotFoundHandler(async (request, reply) => {
    const segment = request.url.split('?')[0]!.split('/').filter(Boolean).pop() ?? '';
    return sendGraphError(request, reply, Graph.segmentNotFound(decodeURIComponent(segment)), g.sandbox.clock.date());
  });
  sendMailRoutes(app, g);
  draftRoutes(app, g);
  uploadRoutes(app, g);
  readRoutes(app, g);
}
