/**
 * Which route delivers to a recipient: the first routing rule that matches the envelope
 * sender's domain and/or the recipient's domain, else the default route (routing.default,
 * or the only route). The access-policy work adds per-application rules here.
 */
import type { Config, RouteConfig } from '../config/schema.js';

/** Without any route configured, mail is captured: kept in the store, not sent. */
export const IMPLICIT_ROUTE = 'capture';

export function effectiveRoutes(config: Config): Record<string, RouteConfig> {
  return Object.keys(config.routes).length ? config.routes : { [IMPLICIT_ROUTE]: { transport: 'capture' } };
}

const domainOf = (address: string) => address.slice(address.lastIndexOf('@') + 1).toLowerCase();

/** "contoso.com" matches contoso.com; "*.contoso.com" matches its subdomains (not contoso.com itself). */
export function domainMatches(domain: string, patterns: readonly string[]): boolean {
  return patterns.some((pattern) => {
    const p = pattern.toLowerCase();
    return p.startsWith('*.') ? domain.endsWith(p.slice(1)) : domain === p;
  });
}

export class Router {
  private readonly defaultRoute: string;
  private readonly rules: Config['routing']['rules'];

  constructor(config: Config) {
    const routes = Object.keys(effectiveRoutes(config));
    this.defaultRoute = config.routing.default ?? (routes[0] as string);
    this.rules = config.routing.rules;
  }

  routeFor(message: { mailFrom: string }, recipient: string): string {
    const sender = message.mailFrom ? domainOf(message.mailFrom) : '';
    const to = domainOf(recipient);
    const rule = this.rules.find(
      (r) => (!r.senderDomains || domainMatches(sender, r.senderDomains)) && (!r.recipientDomains || domainMatches(to, r.recipientDomains)),
    );
    return rule?.route ?? this.defaultRoute;
  }
}
