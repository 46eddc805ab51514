/**
 * The admin HTTP server (Fastify) on its own listener (config `admin`): the JSON API under
 * /api with its OpenAPI document at /api/openapi.json, the console (static files, no CDN),
 * /metrics for Prometheus, and /healthz and /readyz for load balancers.
 *
 * /healthz and /readyz answer without signing in (load balancers have no session) and say no
 * more than ready or not: a store's error names its host and user, so it goes to the log only.
 * /metrics needs an API token unless admin.metrics is public. Everything under /api except
 * signing in, the session's state and the OpenAPI document needs a session or an API token with
 * the role access.ts names, and every state-changing request of a session its CSRF token.
 *
 * Plain HTTP on a network address is refused (config/admin.ts); behind a TLS proxy named in
 * admin.trustProxy it is allowed with a warning, and only that proxy's X-Forwarded-For is believed.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import cookie from '@fastify/cookie';
import fastifyStatic from '@fastify/static';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { adminPlainHttpProblem, type AdminUsers } from '../config/admin.js';
import { isLoopbackHost } from '../config/fields.js';
import { readMasterKey, type MasterKey } from '../config/master-key.js';
import { ConfigError } from '../config/problems.js';
import type { Config } from '../config/schema.js';
import type { Store } from '../queue/store.js';
import { eventRoutes } from './api/events.js';
import { messageRoutes } from './api/messages.js';
import { routeRoutes } from './api/routes.js';
import { systemRoutes } from './api/system.js';
import { enforceAccess } from './access.js';
import { AdminAuth } from './auth.js';
import { consolePage } from './console-page.js';
import { consoleStyle } from './console-style.js';
import { registry, reportQueueDepthOf, stopReportingQueueDepthOf } from './metrics.js';
import { problemHandler, sendProblem } from './problems.js';
import { effectiveRoutes } from '../delivery/router.js';

export interface AdminDeps {
  config: Config;
  store: Store;
  log: Logger;
  /** The SMTP listeners' bound addresses. */
  listeners: () => Map<string, AddressInfo>;
  /** True while the relay's listeners are up (readiness). */
  listening: () => boolean;
  masterKey?: MasterKey | null;
  /** The route `sandbox` is the demo route serve made (no relay365.yaml): the route views say so. */
  demo?: boolean;
}

export interface RunningAdmin {
  address: AddressInfo;
  url: string;
  /** A reload changed admin.users: sessions and tokens are judged by them from the next request. */
  setUsers(users: AdminUsers): void;
  stop(): Promise<void>;
}

/** The compiled console: dist/console beside dist/src (or, running from the sources as the tests do, the build's). */
const CONSOLE_DIR = [new URL('../../console/', import.meta.url), new URL('../../dist/console/', import.meta.url)]
  .map((url) => fileURLToPath(url))
  .find((dir) => existsSync(join(dir, 'main.js'))) ?? fileURLToPath(new URL('../../console/', import.meta.url));
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export async function buildAdmin(deps: AdminDeps): Promise<{ app: FastifyInstance; auth: AdminAuth }> {
  const { config, store, log } = deps;
  const refused = adminPlainHttpProblem(config.admin);
  if (refused) throw new ConfigError([refused]);
  const tls = config.admin.tls;
  // Only the listed proxies are believed about the client (request.ip: lock-outs, the log).
  const trustProxy = config.admin.trustProxy.length ? [...config.admin.trustProxy] : false;
  const app = (tls
    ? Fastify({ logger: false, https: { cert: readFileSync(tls.cert), key: readFileSync(tls.key) }, trustProxy })
    : Fastify({ logger: false, trustProxy })) as unknown as FastifyInstance;
  const secureCookies = config.admin.secureCookies === 'always' || Boolean(tls);
  const auth = new AdminAuth(config.admin, store, secureCookies, log.child({ component: 'admin' }));

  await app.register(cookie);
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'relay365 admin API',
        version: '1',
        description:
          'The queue, routes, apps and nodes of a relay365 relay. Errors are RFC 7807 problem documents. A read-only user or token may read; actions, API tokens and message bodies need the admin role (403 otherwise).',
      },
      components: {
        securitySchemes: {
          session: { type: 'apiKey', in: 'cookie', name: 'relay365_session' },
          token: { type: 'http', scheme: 'bearer', description: 'relay365 admin token create <name>' },
        },
      },
      security: [{ session: [] }, { token: [] }],
    },
  });
  app.setErrorHandler(problemHandler(log));
  app.setNotFoundHandler((request, reply) => sendProblem(reply, { type: 'https://relay365.dev/problems/not-found', title: 'Not found', status: 404, detail: `nothing at ${request.method} ${request.url.split('?')[0]}` }));

  app.decorateRequest('caller', null);
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-content-type-options', 'nosniff').header('referrer-policy', 'no-referrer').header('x-frame-options', 'DENY');
    const path = request.url.split('?')[0]!;
    if (!path.startsWith('/api/') && path !== '/metrics') return;
    reply.header('cache-control', 'no-store');
    await auth.identify(request);
    if (!SAFE_METHODS.has(request.method) && path !== '/api/login') auth.checkCsrf(request);
  });
  enforceAccess(app, config.admin, auth);

  app.get('/healthz', { schema: { tags: ['health'], summary: 'The process is alive.' } }, async () => ({ status: 'ok' }));
  let storeFailure: string | null = null;
  app.get('/readyz', { schema: { tags: ['health'], summary: 'The store answers and the SMTP listeners are up (503 otherwise, with reasons in general words; the details are in the log).' } }, async (_request, reply) => {
    const problems: string[] = [];
    if (!deps.listening()) problems.push('the SMTP listeners are not up');
    const failure = await store.countByState().then(
      () => null,
      (err: unknown) => (err as Error).message ?? String(err),
    );
    // The error's words (a host, a database user) are for the log, once per change, not for whoever probes.
    if (failure !== storeFailure) {
      if (failure) log.warn({ error: failure }, '/readyz: the store does not answer');
      else if (storeFailure) log.info('/readyz: the store answers again');
      storeFailure = failure;
    }
    if (failure) problems.push('the store does not answer');
    if (problems.length) return reply.code(503).send({ status: 'unavailable', problems });
    return { status: 'ready' };
  });
  app.get(
    '/metrics',
    { schema: { tags: ['health'], summary: 'Prometheus metrics; needs an API token (Authorization: Bearer, any role) unless admin.metrics is public.' } },
    async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()),
  );

  const masterKey = deps.masterKey === undefined ? masterKeyOf(config) : deps.masterKey;
  messageRoutes(app, store, auth, effectiveRoutes(config));
  eventRoutes(app, store, auth);
  routeRoutes(app, config, store, masterKey, deps.demo ?? false);
  systemRoutes(app, { config, store, auth, listeners: deps.listeners, masterKey });
  app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  app.get('/assets/console.css', { schema: { hide: true } }, async (_request, reply) => reply.type('text/css; charset=utf-8').send(consoleStyle));
  await app.register(fastifyStatic, { root: CONSOLE_DIR, prefix: '/assets/', decorateReply: false, cacheControl: false });
  for (const path of ['/', '/queue', '/messages/:id', '/routes', '/login']) {
    app.get(path, { schema: { hide: true } }, async (_request, reply) =>
      reply
        .type('text/html; charset=utf-8')
        .header('content-security-policy', "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'")
        .send(consolePage),
    );
  }
  return { app, auth };
}

/** The master key, to describe delegated routes' sign-ins (who signed in, token expiry); null when this host has none. */
function masterKeyOf(config: Config): MasterKey | null {
  try {
    return readMasterKey({ env: process.env, keyFile: config.secrets.keyFile });
  } catch {
    return null; // a broken key stopped the relay before this; the routes page then says the sign-in cannot be read
  }
}

export async function startAdmin(deps: AdminDeps): Promise<RunningAdmin> {
  const { app, auth } = await buildAdmin(deps);
  reportQueueDepthOf(deps.store);
  await app.listen({ host: deps.config.admin.host, port: deps.config.admin.port });
  const address = app.server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `${deps.config.admin.tls ? 'https' : 'http'}://${host}:${address.port}/`;
  deps.log.info({ console: url }, 'admin console and API listening');
  if (!deps.config.admin.tls && !isLoopbackHost(deps.config.admin.host)) {
    deps.log.warn(
      { console: url, trustProxy: deps.config.admin.trustProxy },
      'the console serves plain HTTP on a network address, trusting that a TLS proxy in admin.trustProxy is in front: make sure nothing but that proxy can reach this port',
    );
  }
  auth.announceSetupToken(url);
  return {
    address,
    url,
    setUsers: (users) => auth.setUsers(users),
    async stop() {
      stopReportingQueueDepthOf(deps.store);
      await app.close();
    },
  };
}
