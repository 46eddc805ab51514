/** /api/routes: each route's health, sign-in, budget, and pause/resume/release (who may: access.ts). */
import type { FastifyInstance } from 'fastify';
import type { MasterKey } from '../../config/master-key.js';
import type { Config } from '../../config/schema.js';
import { allInDemoWords } from '../../config/demo-route.js';
import { hasOwn } from '../../config/own.js';
import { effectiveRoutes } from '../../delivery/router.js';
import type { Store } from '../../queue/store.js';
import { notFound, problemSchema } from '../problems.js';
import { activateRoute, describeRoutes, pauseRoute } from '../route-views.js';
import { setupGuideFor } from '../setup-guide.js';

const anyObject = { type: 'object', additionalProperties: true } as const;

export function routeRoutes(app: FastifyInstance, config: Config, store: Store, key: MasterKey | null, demo: boolean): void {
  const known = (name: string) => {
    if (!hasOwn(effectiveRoutes(config), name)) throw notFound(`no route "${name}"; routes: ${Object.keys(effectiveRoutes(config)).join(', ')}`);
  };

  app.get(
    '/api/routes',
    { schema: { tags: ['routes'], summary: 'Every route: state and health, reason and fix, last success/failure, sign-in and secret expiry, budget used and left.', response: { 200: { type: 'object', properties: { routes: { type: 'array', items: anyObject } } }, 401: problemSchema } } },
    async () => {
      const routes = await describeRoutes(config, store, key);
      const answer = { routes: await Promise.all(routes.map(async (r) => ({ ...r, setupGuide: await setupGuideFor(config, r.name) }))) };
      // The demo route is in no file: its fixes and setup steps name it in words, not by keys.
      return demo ? allInDemoWords(answer) : answer;
    },
  );

  app.post<{ Params: { name: string } }>(
    '/api/routes/:name/pause',
    { schema: { tags: ['routes'], summary: 'Stop delivering through the route; its messages are held, not failed.', response: { 200: anyObject, 401: problemSchema, 404: problemSchema } } },
    async (request) => {
      known(request.params.name);
      await pauseRoute(store, request.params.name);
      return { route: request.params.name, state: 'paused' };
    },
  );

  for (const verb of ['resume', 'release'] as const) {
    app.post<{ Params: { name: string } }>(
      `/api/routes/:name/${verb}`,
      {
        schema: {
          tags: ['routes'],
          summary: verb === 'resume' ? 'Deliver through a paused route again.' : 'After fixing what held a route: deliver its held messages now.',
          response: { 200: anyObject, 401: problemSchema, 404: problemSchema },
        },
      },
      async (request) => {
        known(request.params.name);
        return { route: request.params.name, state: 'active', released: await activateRoute(store, request.params.name) };
      },
    );
  }
}
