/**
 * Who may call what, in one table: every route the admin server has, by method and path, with
 * the least it needs — anyone (load balancers, the sign-in, the console's static files),
 * read-only (any signed-in user or API token: the queue, routes, apps, nodes, messages'
 * envelopes, headers and attempts) or admin (every action, API tokens, message bodies).
 *
 * One onRequest hook enforces it before any handler runs, and a route missing from the table
 * stops the server from being built, so a new endpoint cannot be left open by forgetting a check.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AdminConfig } from '../config/admin.js';
import type { AdminAuth } from './auth.js';
import { ProblemError } from './problems.js';
import { covers, type Role } from './roles.js';

export type Access = 'anyone' | Role;

/** The console's pages and files: the page itself holds no data; its API calls are checked. */
const CONSOLE = ['/', '/queue', '/messages/:id', '/routes', '/login', '/assets/console.css', '/assets/*'];

export function accessTable(admin: AdminConfig): Record<string, Access> {
  return {
    'GET /healthz': 'anyone',
    'GET /readyz': 'anyone',
    'GET /metrics': admin.metrics === 'public' ? 'anyone' : 'read-only',
    'GET /api/openapi.json': 'anyone',
    'POST /api/login': 'anyone',
    'POST /api/logout': 'anyone',
    'GET /api/session': 'anyone',
    ...Object.fromEntries(CONSOLE.map((path) => [`GET ${path}`, 'anyone' as const])),

    'GET /api/messages': 'read-only',
    'GET /api/messages/:id': 'read-only',
    'GET /api/events/messages': 'read-only',
    'GET /api/routes': 'read-only',
    'GET /api/apps': 'read-only',
    'GET /api/nodes': 'read-only',
    'GET /api/overview': 'read-only',

    'GET /api/messages/:id/eml': 'admin',
    'POST /api/messages/:id/retry': 'admin',
    'POST /api/messages/:id/cancel': 'admin',
    'DELETE /api/messages/:id': 'admin',
    'POST /api/messages/actions': 'admin',
    'POST /api/routes/:name/pause': 'admin',
    'POST /api/routes/:name/resume': 'admin',
    'POST /api/routes/:name/release': 'admin',
    'GET /api/tokens': 'admin',
    'POST /api/tokens': 'admin',
    'DELETE /api/tokens/:id': 'admin',
    'POST /api/test-send': 'admin',
  };
}

/** HEAD is answered by the GET route (Fastify adds it), so it needs what GET needs. */
const keyOf = (method: string, url: string) => `${method === 'HEAD' ? 'GET' : method} ${url}`;

/** Installs the check; call before any route is registered (the onRoute hook sees only later ones). */
export function enforceAccess(app: FastifyInstance, admin: AdminConfig, auth: AdminAuth): void {
  const table = accessTable(admin);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      if (!(keyOf(method, route.url) in table)) throw new Error(`admin route ${method} ${route.url} is not in the access table (src/admin/access.ts): say who may call it`);
    }
  });
  app.addHook('onRequest', async (request) => {
    const url = request.routeOptions.url;
    if (url === undefined) return; // no such route: the not-found handler answers
    const needed: Access = table[keyOf(request.method, url)] ?? 'admin';
    if (needed === 'anyone') return;
    const caller = auth.require(request);
    if (!covers(caller.role, needed)) throw forbidden(request, caller.user, caller.role);
  });
}

function forbidden(request: FastifyRequest, user: string, role: Role): ProblemError {
  return new ProblemError(
    403,
    'forbidden',
    'Not allowed for this role',
    `${user} is ${role}: ${request.method} ${request.routeOptions.url} needs the admin role (admin.users.<user>.role: admin, or an API token with role admin)`,
    { role },
  );
}
