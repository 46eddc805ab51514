/**
 * Which route delivers to a recipient: the sending app's own rules (apps.<app>.routes by
 * recipient domain, then apps.<app>.route), then the first routing rule that matches the
 * envelope sender's domain and/or the recipient's domain, else the default route
 * (routing.default, or the only route).
 */
import type { Config, RouteConfig } from '../config/schema.js';
import { own } from '../config/own.js';
import { domainMatches, domainOf } from '../policy/addresses.js';
import { ROUTE_PARAM } from '../notify/notice.js';
import type { MailParams } from '../queue/store.js';

/** Without any route configured, mail is captured: kept in the store, not sent. */
export const IMPLICIT_ROUTE = 'capture';

export function effectiveRoutes(config: Config): Record<string, RouteConfig> {
  return Object.keys(config.routes).length ? config.routes : { [IMPLICIT_ROUTE]: { transport: 'capture' } };
}


export class Router {
  private defaultRoute!: string;
  private routes!: string[];
  private rules!: Config['routing']['rules'];
  private apps!: Config['apps'];

  constructor(config: Config) {
    this.reload(config);
  }

  /** Takes the routing rules and the apps' routes of a reloaded config (SIGHUP): the next recipient routed sees them. */
  reload(config: Config): void {
    const routes = Object.keys(effectiveRoutes(config));
    this.routes = routes;
    this.defaultRoute = config.routing.default ?? (routes[0] as string);
    this.rules = config.routing.rules;
    this.apps = config.apps;
  }

  routeFor(message: { mailFrom: string; app: string | null; mailParams?: MailParams }, recipient: string): string {
    // An admin notification names the healthy route it was written for (notify/notice.ts),
    // unless that route is gone from the config since.
    const chosen = message.mailParams?.[ROUTE_PARAM];
    if (typeof chosen === 'string' && this.routes.includes(chosen)) return chosen;
    const sender = message.mailFrom ? domainOf(message.mailFrom) : '';
    const to = domainOf(recipient);
    const app = message.app === null ? undefined : own(this.apps, message.app);
    if (app) {
      const own = app.routes.find((r) => domainMatches(to, r.recipientDomains));
      if (own) return own.route;
      if (app.route) return app.route;
    }
    const rule = this.rules.find(
      (r) => (!r.senderDomains || domainMatches(sender, r.senderDomains)) && (!r.recipientDomains || domainMatches(to, r.recipientDomains)),
    );
    return rule?.route ?? this.defaultRoute;
  }

  /** The route that stands in while `route` is held or paused, for this message's app. */
  fallbackFor(message: { app: string | null }, route: string): string | undefined {
    const fallback = message.app === null ? undefined : own(this.apps, message.app)?.fallback;
    return fallback !== route ? fallback : undefined;
  }
}
