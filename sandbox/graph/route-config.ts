// What every Graph route declares: its endpoint name for fault injection and the event log, and
// the Graph error body an injected reply without a body of its own gets.
import type { RouteShorthandOptions } from 'fastify';
import type { GraphContext } from './context.js';
import { Graph } from './errors.js';

/** The two ways to name the mailbox: by id or user principal name, or `me` (delegated tokens). */
export const USER_BASES = ['/v1.0/users/:user', '/v1.0/me'] as const;

export function graphRoute(g: GraphContext): RouteShorthandOptions {
  return {
    config: {
      endpoint: 'graph',
      faultBody: (status: number) => {
        const e = Graph.transient(status);
        return { error: { code: e.code, message: e.message, innerError: { date: g.sandbox.clock.date().toISOString().slice(0, 19) } } };
      },
    },
  };
}
