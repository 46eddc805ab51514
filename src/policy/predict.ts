/**
 * Refusals Microsoft would give that are already known at the door, so the sending
 * application hears them now, in its own log, instead of a bounce later that nobody reads:
 * a recipient outside the tenant on a Direct Send route with nowhere else to go, an envelope
 * sender the route's mailbox may not send as (550 5.7.60 on client submission), at MAIL FROM,
 * and a header From it may not send as (SendAsDenied, Graph's 403 ErrorSendAsDenied), after
 * DATA — Graph has no envelope sender, so the header decides, and it is known only then.
 */
import type { Config, RouteConfig } from '../config/schema.js';
import { own } from '../config/own.js';
import type { Router } from '../delivery/router.js';
import { addressMatches, domainMatches, domainOf } from './addresses.js';
import type { App } from './apps.js';
import type { Refusal } from './rules.js';
import { mayUse } from '../transports/m365/sender.js';

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
      text: `Sender <${mailFrom}> cannot go through routes.${name}: ${route.mailbox} may not send as it (routes.${name}.sender.allowed), and Exchange Online would refuse it (550 5.7.60); list it there once the mailbox has Send As on it, or set routes.${name}.sender.rewriteEnvelope: true`,
    };
  }

  /** Whether a route refuses header From addresses outside its sender.allowed (so DATA must read the From). */
  checksHeaderFrom(): boolean {
    return Object.values(this.routes).some((r) => refusesOtherFrom(r) !== null);
  }

  /**
   * After DATA: the header From, against the sender.allowed of every recipient's route. The route
   * would refuse it before sending (transports/m365/sender.ts); the app hears it now, when all of
   * the message's routes would — a message some route can send is taken.
   */
  headerFrom(app: App, mailFrom: string, recipients: readonly string[], from: string | null): Refusal | null {
    if (!from || !recipients.length) return null;
    let refused: string | null = null;
    for (const recipient of recipients) {
      const name = this.router.routeFor({ mailFrom, app: app.name }, recipient);
      const sender = refusesOtherFrom(own(this.routes, name));
      if (!sender || mayUse({ name: '', address: from }, sender.mailbox, sender.allowed)) return null;
      refused ??= `Header From <${from}> cannot go through routes.${name}: ${sender.mailbox} may not send as it (routes.${name}.sender.allowed: ${sender.allowed.join(', ')}), and Exchange Online would refuse it (SendAsDenied); list it there once the mailbox has Send As on it, or set routes.${name}.sender.rewriteFrom: when-not-allowed to send it as ${sender.mailbox} with Reply-To <${from}>`;
    }
    return refused ? { code: 550, enhanced: '5.7.60', text: refused } : null;
  }
}

/** A Microsoft 365 route that lists what its mailbox may send as and does not rewrite the rest. */
function refusesOtherFrom(route: RouteConfig | undefined): { mailbox: string; allowed: string[] } | null {
  if (route?.transport !== 'graph' && route?.transport !== 'smtp-oauth' && route?.transport !== 'smtp-basic') return null;
  const { allowed, rewriteFrom } = route.sender;
  return rewriteFrom === 'never' && allowed.length ? { mailbox: route.mailbox, allowed } : null;
}
