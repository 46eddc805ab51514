/** Standing warnings about a route's configuration, shown at start-up and in `relay365 route list`. */
import type { RouteConfig } from '../config/schema.js';

export function routeWarnings(route: string, config: RouteConfig): string[] {
  switch (config.transport) {
    case 'smtp-basic':
      return [
        `routes.${route} signs in as ${config.mailbox} with a password (Basic SMTP AUTH). Microsoft disables Basic SMTP AUTH by default at the end of December 2026 ` +
          `(tenants created after that never have it) and will then remove it for good; after that Exchange Online answers "550 5.7.30 Basic authentication is not supported for Client Submission." ` +
          `Switch this route to transport: smtp-oauth (an app registration with SMTP.SendAsApp, the same mailbox) or graph (Mail.Send).`,
      ];
    case 'graph':
      return config.saveToSentItems
        ? []
        : [`routes.${route}.saveToSentItems is false, but Graph keeps a copy in ${config.mailbox}'s Sent Items anyway: its MIME sendMail and a draft's /send have no saveToSentItems parameter.`];
    default:
      return [];
  }
}
