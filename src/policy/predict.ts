/**
 * Refusals Microsoft would give that are already known at the door, so the sending
 * application hears them now, in its own log, instead of a bounce later that nobody reads:
 * a recipient outside the tenant on a Direct Send route with nowhere else to go, and an
 * envelope sender the route's mailbox may not send as (550 5.7.60 on client submission).
 */
import type { Config } from '../config/schema.js';
import { own } from '../config/own.js';
import type { Router } from '../delivery/router.js';
import { addressMatches, domainMatches, domainOf } from './addresses.js';
import type { App } from './apps.js';
import type { Refusal } from './rules.js';

export class Predictions {
  constructor(
    private readonly routes: Config['routes'],
    private readonly router: Router,
  ) {}

  recipient(app: App, mailFrom: string, recipient: string): Refusal | null {
    const name = this.router.routeFor({ mailFrom, app: app.name }, recipient);
    const route = own(this.routes, name);
    if (route?.transport !== 'direct-send' || route.fallback || app.config.fallback) return null;
    const accepted = route.acceptedDomains ?? [route.domain];
    const domain = domainOf(recipient);
    if (domainMatches(domain, accepted)) return null;
    return {
      code: 550,
      enhanced: '5.7.1',
      text: `Recipient <${recipient}> is outside the tenant (${accepted.join(', ')}): app ${app.name}'s mail goes by Direct Send (routes.${name}), which only reaches mailboxes in the tenant; routes.${name}.fallback can name a route for the rest`,
    };
  }

  sender(app: App, mailFrom: string): Refusal | null {
    if (!mailFrom || app.config.rewrite?.envelope) return null;
    const name = this.router.routeFor({ mailFrom, app: app.name }, mailFrom);
    const route = own(this.routes, name);
    if (route?.transport !== 'smtp-oauth' && route?.transport !== 'smtp-basic') return null;
    const { allowed, rewriteEnvelope } = route.sender;
    if (rewriteEnvelope || !allowed.length || mailFrom.toLowerCase() === route.mailbox.toLowerCase() || addressMatches(mailFrom, allowed)) return null;
    return {
      code: 550,
      enhanced: '5.7.60',
      text: `Sender <${mailFrom}> cannot go through routes.${name}: ${route.mailbox} may not send as it (routes.${name}.sender.allowed), and Exchange Online would refuse it (550 5.7.60)`,
    };
  }
}
