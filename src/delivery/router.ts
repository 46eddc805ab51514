/**
 * Which route delivers to a recipient. For now: the default route (routing.default, or
 * the only route). The access-policy work adds rules by sender and recipient domain here.
 */
import type { Config, RouteConfig } from '../config/schema.js';

/** Without any route configured, mail is captured: kept in the store, not sent. */
export const IMPLICIT_ROUTE = 'capture';

export function effectiveRoutes(config: Config): Record<string, RouteConfig> {
  return Object.keys(config.routes).length ? config.routes : { [IMPLICIT_ROUTE]: { transport: 'capture' } };
}

export class Router {
  private readonly defaultRoute: string;

  constructor(config: Config) {
    const routes = Object.keys(effectiveRoutes(config));
    this.defaultRoute = config.routing.default ?? (routes[0] as string);
  }

  routeFor(_message: { mailFrom: string }, _recipient: string): string {
    return this.defaultRoute;
  }
}
