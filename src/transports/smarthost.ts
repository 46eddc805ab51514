/**
 * `smarthost`: any SMTP server, through nodemailer's pooled SMTP transport — Postfix,
 * an on-premises Exchange, a provider's relay. TLS 1.2 or later by default; STARTTLS is
 * required unless the route says otherwise; AUTH LOGIN/PLAIN when credentials are set.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import nodemailer, { type Mail } from 'nodemailer';
import type { SmarthostRouteConfig } from '../config/schema.js';
import { formatReply, outcomeFromReply, parseReply, type SmtpError } from './smtp-reply.js';
import { submit } from './smtp-submit.js';
import { outcome, type DeliveryJob, type DeliveryResult, type Outcome, type Transport } from './transport.js';

export class SmarthostTransport implements Transport {
  readonly kind = 'smarthost';
  private readonly mailer: Mail;
  private readonly who: string;

  constructor(
    readonly route: string,
    private readonly config: SmarthostRouteConfig,
    ehloName: string,
  ) {
    this.who = `${config.host}:${config.port}`;
    this.mailer = nodemailer.createTransport({
      pool: true,
      host: config.host,
      port: config.port,
      secure: config.tls === 'implicit',
      requireTLS: config.tls === 'starttls',
      ignoreTLS: config.tls === 'none',
      name: ehloName,
      maxConnections: config.maxConnections,
      maxMessages: Infinity,
      // The message is a stream, readable once: submit() resends it over a new connection
      // when a pooled one turns out closed, instead of nodemailer requeueing a spent stream.
      maxRequeues: 0,
      connectionTimeout: config.connectTimeout,
      greetingTimeout: config.connectTimeout,
      socketTimeout: config.timeout,
      auth: config.auth ? { user: config.auth.user, pass: config.auth.pass } : undefined,
      authMethod: config.auth?.method,
      tls: {
        minVersion: config.minTlsVersion,
        rejectUnauthorized: config.verifyCertificate,
        ca: config.ca.length ? config.ca.map((file) => readFileSync(file, 'utf8')) : undefined,
        // SNI carries host names only (RFC 6066); an IP address is checked against the certificate's IP entries.
        servername: isIP(config.host) ? undefined : config.host,
      },
      logger: false,
    });
  }

  async deliver(job: DeliveryJob): Promise<DeliveryResult> {
    const { result } = await submit(this.mailer, { envelopeFrom: job.mailFrom, recipients: job.recipients, openMessage: () => job.openMessage() }, this.who, (err) => this.explain(err));
    return result;
  }

  /** Turns a nodemailer error into a verdict with the reason and, where known, the fix. */
  private explain(err: SmtpError): Outcome {
    const name = `routes.${this.route}`;
    const reply = err.response ? parseReply(err.response) : null;
    if (err.code === 'ETLS' && err.command === 'STARTTLS' && reply) {
      return outcome('route-broken', `${this.who} does not offer STARTTLS (it answered "${formatReply(reply)}"), and ${name}.tls is ${this.config.tls}, which requires it.`, {
        reply,
        fix: `Enable STARTTLS on the server; only if the network path is trusted, set ${name}.tls to opportunistic or none.`,
      });
    }
    if (err.code === 'ETLS' || (!reply && /certificate|self[- ]signed|SSL|TLS/i.test(err.message))) {
      return outcome('route-broken', `TLS with ${this.who} failed: ${err.message}`, {
        fix: `If the server uses a private CA, add it to ${name}.ca; check ${name}.tls (${this.config.tls}) and ${name}.minTlsVersion (${this.config.minTlsVersion}).`,
      });
    }
    if (reply) {
      if (err.code === 'EAUTH' && reply.code !== null && reply.code >= 500) {
        return outcome('route-broken', `${this.who} refused the route's credentials: ${formatReply(reply)}`, {
          reply,
          fix: `Check ${name}.auth.user and ${name}.auth.pass, then: relay365 route release ${this.route}`,
        });
      }
      const base = outcomeFromReply(reply, this.who);
      return err.command ? { ...base, diagnosis: base.diagnosis.replace(':', ` at ${err.command}:`) } : base;
    }
    const cause = `${err.originalCode ?? err.code ?? ''} ${err.message}`;
    if (/ECONNREFUSED/.test(cause)) {
      return outcome('transient', `Could not connect to ${this.who}: connection refused. The smarthost is down or not listening there.`, {
        fix: `Check that the server runs and that ${name}.host and ${name}.port are right.`,
      });
    }
    if (/ETIMEDOUT|ETIMEOUT|timeout/i.test(cause)) {
      return outcome('transient', `${this.who} did not answer in time (${err.message}). A firewall may be dropping the connection, or the server is overloaded.`, {
        fix: `Check that ${this.who} is reachable from this host (port ${this.config.port} open on every firewall on the way).`,
      });
    }
    if (/ENOTFOUND|EAI_AGAIN|EDNS/.test(cause)) {
      return outcome('transient', `The name ${this.config.host} does not resolve (${err.message}).`, { fix: `Check ${name}.host and this host's DNS.` });
    }
    return outcome('transient', `Delivery to ${this.who} failed: ${err.message}`);
  }

  async close(): Promise<void> {
    this.mailer.close();
  }
}
