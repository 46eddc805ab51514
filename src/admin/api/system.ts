/**
 * The rest of the API: signing in and out, API tokens, apps, nodes, the overview (counts,
 * activity chart) and the test send.
 */
import type { FastifyInstance } from 'fastify';
import type { MasterKey } from '../../config/master-key.js';
import type { Config } from '../../config/schema.js';
import { own } from '../../config/own.js';
import { effectiveRoutes } from '../../delivery/router.js';
import { AppDirectory } from '../../policy/apps.js';
import { nodeState } from '../../queue/heartbeat.js';
import type { Store } from '../../queue/store.js';
import type { AdminAuth } from '../auth.js';
import { duration } from '../../config/fields.js';
import { badRequest, notFound, ProblemError, problemSchema } from '../problems.js';
import { describeRoutes } from '../route-views.js';
import { createApiToken, describeToken, isRefusal } from '../api-tokens.js';
import { submitTestMessage } from '../test-message.js';

const anyObject = { type: 'object', additionalProperties: true } as const;
const MINUTE = 60_000;

export interface SystemDeps {
  config: Config;
  store: Store;
  auth: AdminAuth;
  /** The SMTP listeners' bound addresses (a test message goes to the first). */
  listeners: () => Map<string, { address: string; port: number }>;
  masterKey: MasterKey | null;
}

export function systemRoutes(app: FastifyInstance, { config, store, auth, listeners, masterKey }: SystemDeps): void {
  app.post<{ Body: { user: string; password: string } }>(
    '/api/login',
    {
      schema: {
        tags: ['session'],
        summary: 'Sign in: sets the session cookie and returns the CSRF token for state-changing requests. JSON only.',
        body: { type: 'object', properties: { user: { type: 'string', minLength: 1, maxLength: 64 }, password: { type: 'string', minLength: 1, maxLength: 1024 } }, required: ['user', 'password'], additionalProperties: false },
        response: { 200: anyObject, 401: problemSchema, 429: problemSchema },
      },
    },
    async (request, reply) => auth.login(request, reply, request.body.user, request.body.password),
  );

  app.post('/api/logout', { schema: { tags: ['session'], summary: 'Sign out (ends the session in the store).', response: { 200: anyObject } } }, async (request, reply) => {
    await auth.logout(request, reply);
    return { ok: true };
  });

  // 200 with user null when nobody is signed in: the console asks first, and a browser logs every 401 as an error.
  // Nobody signed in learns only that, and whether the setup token is in use (the sign-in page says how to get in).
  app.get('/api/session', { schema: { tags: ['session'], summary: 'Who is signed in (user null: nobody) with which role, the CSRF token, and whether admin users still need setting up.', response: { 200: anyObject } } }, async (request) => {
    const caller = request.caller;
    if (!caller) return { user: null, via: null, role: null, csrfToken: null, needsSetup: auth.needsSetup };
    return { user: caller.user, via: caller.via, role: caller.role, csrfToken: caller.csrf ?? null, needsSetup: auth.needsSetup, node: config.node.name ?? null };
  });

  app.get('/api/tokens', { schema: { tags: ['tokens'], summary: 'API tokens with owner, role, expiry and state (never their values).', response: { 200: anyObject, 401: problemSchema, 403: problemSchema } } }, async () => {
    const now = Date.now();
    return { tokens: (await store.apiTokens()).map((t) => describeToken(t, auth.admin, now)) };
  });

  app.post<{ Body: { name: string; role?: string; expiresIn?: string | number } }>(
    '/api/tokens',
    {
      schema: {
        tags: ['tokens'],
        summary: 'Create an API token owned by the caller, with a role no higher than the caller\'s; its value is in this answer only.',
        body: {
          type: 'object',
          properties: {
            name: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$' },
            role: { type: 'string', enum: ['admin', 'read-only'], description: 'Default: the caller\'s role.' },
            expiresIn: { anyOf: [{ type: 'string' }, { type: 'number' }], description: 'How long it lasts: "30d", "12h", or seconds; default admin.tokenLifetime, at most admin.tokenMaxLifetime.' },
          },
          required: ['name'],
          additionalProperties: false,
        },
        response: { 200: anyObject, 400: problemSchema, 401: problemSchema, 403: problemSchema, 409: problemSchema },
      },
    },
    async (request) => {
      const caller = auth.require(request);
      const { name, role, expiresIn } = request.body;
      let lifetime: number | undefined;
      if (expiresIn !== undefined) {
        const parsed = duration().safeParse(expiresIn);
        if (!parsed.success) throw badRequest(`expiresIn: ${parsed.error.issues[0]?.message ?? 'expected a duration such as "30d"'}`);
        lifetime = parsed.data;
      }
      const created = await createApiToken(store, auth.admin, { name, owner: caller.owner, role: role ?? caller.role, ...(lifetime !== undefined ? { expiresIn: lifetime } : {}) });
      if (!isRefusal(created)) return created;
      if (created.refused === 'exists') throw new ProblemError(409, 'token-exists', 'Token name in use', created.detail);
      if (created.refused === 'forbidden') throw new ProblemError(403, 'forbidden', 'Not allowed for this role', created.detail);
      throw badRequest(created.detail);
    },
  );

  app.delete<{ Params: { id: string } }>('/api/tokens/:id', { schema: { tags: ['tokens'], summary: 'Revoke an API token (by id or name).', response: { 200: anyObject, 401: problemSchema, 404: problemSchema } } }, async (request) => {
    if (!(await store.revokeApiToken(request.params.id, Date.now()))) throw notFound(`no unrevoked API token "${request.params.id}"`);
    return { revoked: request.params.id };
  });

  app.get('/api/apps', { schema: { tags: ['apps'], summary: 'The applications that may send: how each is recognised, its senders and route.', response: { 200: anyObject, 401: problemSchema } } }, async (request) => {
    const directory = new AppDirectory(config.apps);
    const apps = Object.keys(config.apps).length ? Object.entries(config.apps) : [['local', directory.get('local')!.config] as const];
    const fallback = config.routing.default ?? Object.keys(effectiveRoutes(config))[0] ?? null;
    return {
      apps: apps.map(([name, a]) => ({
        name,
        authUser: a.auth ? (a.auth.user ?? name) : null,
        networks: a.networks,
        senders: a.senders,
        route: a.route ?? fallback,
      })),
    };
  });

  app.get('/api/nodes', { schema: { tags: ['nodes'], summary: 'Every relay node using the store (the whole cluster), with its heartbeat and state.', response: { 200: anyObject, 401: problemSchema } } }, async (request) => {
    const now = Date.now();
    return { nodes: (await store.nodes()).map((n) => ({ ...n, state: nodeState(n, now) })) };
  });

  app.get<{ Querystring: { hours?: number } }>(
    '/api/overview',
    {
      schema: {
        tags: ['overview'],
        summary: 'Queue depth by state, messages per minute received/delivered/failed, and route health.',
        querystring: { type: 'object', properties: { hours: { type: 'integer', minimum: 1, maximum: 48, default: 6 } }, additionalProperties: false },
        response: { 200: anyObject, 401: problemSchema },
      },
    },
    async (request) => {
      const now = Date.now();
      const since = Math.floor((now - (request.query.hours ?? 6) * 3_600_000) / MINUTE) * MINUTE;
      const [counts, activity, routes] = await Promise.all([store.countByState(), store.activity(since, MINUTE), describeRoutes(config, store, masterKey, now)]);
      return {
        now,
        since,
        bucketMs: MINUTE,
        counts,
        activity,
        routes: routes.map((r) => ({ name: r.name, transport: r.transport, health: r.health, state: r.state, reason: r.reason, fix: r.fix, lastError: r.lastError })),
      };
    },
  );

  app.post<{ Body: { to: string; from?: string; subject?: string } }>(
    '/api/test-send',
    {
      schema: {
        tags: ['test'],
        summary: "Submit a test message through the relay's own SMTP listener (as relay365 send-test); follow it by its id.",
        body: {
          type: 'object',
          properties: { to: { type: 'string', minLength: 3, maxLength: 320 }, from: { type: 'string', maxLength: 320 }, subject: { type: 'string', maxLength: 200 } },
          required: ['to'],
          additionalProperties: false,
        },
        response: { 200: anyObject, 400: problemSchema, 401: problemSchema, 502: problemSchema },
      },
    },
    async (request) => {
      const caller = auth.require(request);
      const [name, address] = [...listeners()][0] ?? [];
      const listener = name ? own(config.listeners, name) : undefined;
      if (!name || !address || !listener) throw badRequest('this relay has no SMTP listener to submit a test message to');
      try {
        return await submitTestMessage({
          host: address.address,
          port: address.port,
          listener: name,
          tls: listener.tls.mode,
          node: config.node.name ?? 'relay365',
          to: request.body.to,
          ...(request.body.from ? { from: request.body.from } : {}),
          ...(request.body.subject ? { subject: request.body.subject } : {}),
          via: `the relay365 console (${caller.user})`,
        });
      } catch (err) {
        const e = err as Error & { response?: string };
        throw new ProblemError(502, 'test-refused', 'The relay did not take the test message', e.response ?? e.message);
      }
    },
  );
}
