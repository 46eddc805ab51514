/**
 * `direct-send`: straight to the tenant's MX endpoint on port 25, without signing in, STARTTLS
 * when offered. Exchange Online takes such mail only for mailboxes in the tenant, so recipients
 * outside the route's accepted domains are not attempted at all: they fail at once with the
 * reason, or go to the route named in `fallback` (an smtp-oauth, graph or connector route).
 */
import type { DirectSendRouteConfig } from '../../config/schema.js';
import { domainOf, normalDomain } from '../../policy/addresses.js';
import type { SmtpError } from '../smtp-reply.js';
import { outcome, type DeliveryJob, type DeliveryResult, type Outcome, type Transport, type TransportContext } from '../transport.js';
import type { RouteFacts } from './route-facts.js';
import { mxHostFor } from './mx-host.js';
import { createSmtpPool, explainSmtpError, smtpRouteFacts, submit } from './smtp-send.js';
import type { Mail } from 'nodemailer';

/** Connections kept open to the MX endpoint (it has no per-mailbox limit; nodemailer's default). */
export const MX_CONNECTIONS = 5;


export class DirectSendTransport implements Transport {
  readonly kind = 'direct-send';
  private readonly endpoint: { host: string; port: number };
  private readonly facts: RouteFacts;
  private readonly accepted: Set<string>;
  private readonly mailer: Mail;

  constructor(
    readonly route: string,
    private readonly config: DirectSendRouteConfig,
    private readonly ctx: TransportContext,
  ) {
    this.endpoint = { host: config.host ?? mxHostFor(config.domain), port: config.port };
    this.facts = smtpRouteFacts(route, 'direct-send', this.endpoint, { domain: config.domain });
    this.accepted = new Set((config.acceptedDomains ?? [config.domain]).map((d) => normalDomain(d) ?? d.toLowerCase()));
    this.mailer = createSmtpPool({
      ...this.endpoint,
      tls: 'opportunistic',
      minTlsVersion: config.minTlsVersion,
      ca: config.ca,
      connectTimeout: config.connectTimeout,
      timeout: config.timeout,
      maxConnections: MX_CONNECTIONS,
      ehloName: ctx.ehloName,
    });
  }

  async deliver(job: DeliveryJob): Promise<DeliveryResult> {
    const inside = job.recipients.filter((r) => this.accepted.has(domainOf(r.address)));
    const outside = job.recipients.filter((r) => !this.accepted.has(domainOf(r.address)));
    const parts = await Promise.all([inside.length ? this.deliverInside(job, inside) : new Map(), outside.length ? this.deliverOutside(job, outside) : new Map()]);
    return new Map([...parts[0], ...parts[1]]);
  }

  private async deliverInside(job: DeliveryJob, recipients: DeliveryJob['recipients']): Promise<DeliveryResult> {
    const context = { facts: this.facts, envelopeFrom: job.mailFrom, size: job.size, mxHost: mxHostFor(this.config.domain) };
    const { result } = await submit(this.mailer, { envelopeFrom: job.mailFrom, recipients, openMessage: () => job.openMessage() }, this.facts.endpoint as string, (err: SmtpError, recipient?: string) =>
      explainSmtpError(err, { ...context, recipient }, this.endpoint),
    );
    return result;
  }

  /** Recipients Direct Send cannot reach: the fallback route's outcome, or failed at once. */
  private async deliverOutside(job: DeliveryJob, recipients: DeliveryJob['recipients']): Promise<DeliveryResult> {
    const key = `routes.${this.route}`;
    const tenant = [...this.accepted].join(', ');
    if (!this.config.fallback) {
      return new Map(
        recipients.map((r) => [
          r.idx,
          outcome(
            'permanent',
            `${r.address} is outside the tenant (${key}.acceptedDomains: ${tenant}), and Direct Send only reaches mailboxes in the tenant; relay365 did not try it.`,
            { fix: `To reach recipients outside the tenant, set ${key}.fallback to an smtp-oauth, graph or connector route. If ${domainOf(r.address)} is an accepted domain of the tenant, add it to ${key}.acceptedDomains.` },
          ),
        ]),
      );
    }
    const name = this.config.fallback;
    if (!this.ctx.hasRoute(name)) {
      const missing = outcome('route-broken', `${key}.fallback names the route "${name}", which is not configured, so recipients outside the tenant (${tenant}) cannot be delivered.`, {
        fix: `Add a route named ${name} (smtp-oauth, graph or connector), or correct ${key}.fallback.`,
      });
      return new Map(recipients.map((r) => [r.idx, missing]));
    }
    const handed = await job.handOver(name, recipients);
    const via = (o: Outcome): Outcome => ({ ...o, diagnosis: `Outside the tenant (${tenant}), so sent through the fallback route ${name}: ${o.diagnosis}` });
    return new Map(recipients.map((r) => [r.idx, via(handed.get(r.idx) ?? outcome('transient', `The fallback route ${name} gave no result for this recipient.`))]));
  }

  async close(): Promise<void> {
    this.mailer.close();
  }
}
