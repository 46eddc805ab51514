// What a route on the sandbox's HTTPS server declares, and how a plugin is shaped.
//
// A route names its endpoint in `config.endpoint`; the server then consults fault injection
// before the handler runs and logs one event after the response, so a plugin author writes
// neither. Handlers add detail to that event (app, user, error code) with `describe()`.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { SandboxContext } from './context.js';
import type { SandboxEndpoint, SandboxEventInput } from './state/events.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The endpoint name used by fault injection and the event log; routes without one are neither. */
    endpoint?: SandboxEndpoint;
    /** Body for an injected HTTP reply whose fault gives none (e.g. Entra's error JSON). */
    faultBody?: (status: number) => unknown;
  }
  interface FastifyRequest {
    /** Detail the handler adds to this request's event. */
    sandboxEvent: Partial<SandboxEventInput>;
  }
}

/** A plugin of the sandbox's HTTPS server: registers its routes on `app`, using `ctx`. */
export type SandboxHttpPlugin = (app: FastifyInstance, ctx: SandboxContext) => Promise<void>;

/** Adds detail to the event logged for this request. */
export function describe(request: FastifyRequest, detail: Partial<SandboxEventInput>): void {
  Object.assign(request.sandboxEvent, detail);
}
