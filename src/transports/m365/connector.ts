/**
 * `connector`: the tenant's MX endpoint on port 25 through an inbound relay connector, which
 * recognises this relay by its static public IP address or by the TLS client certificate it
 * presents (the connector's TlsSenderCertificateName). TLS is required (1.2 or later); once
 * attributed, mail may go to any recipient, inside the tenant or not.
 */
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import type { Mail } from 'nodemailer';
import type { ConnectorRouteConfig } from '../../config/schema.js';
import type { SmtpError } from '../smtp-reply.js';
import type { DeliveryJob, DeliveryResult, Transport, TransportContext } from '../transport.js';
import { MX_CONNECTIONS } from './direct-send.js';
import { mxHostFor } from './mx-host.js';
import type { RouteFacts } from './route-facts.js';
import { createSmtpPool, explainSmtpError, smtpRouteFacts, submit } from './smtp-send.js';

/** The route's client certificate, read and checked once at start-up so a bad file is reported as such, not as a TLS failure. */
export function loadClientCertificate(route: string, files: { key: string; cert: string }): { key: string; cert: string; names: string[] } {
  const read = (which: 'key' | 'cert') => {
    try {
      return readFileSync(files[which], 'utf8');
    } catch (e) {
      throw new Error(`routes.${route}.certificate.${which}: cannot read ${files[which]}: ${(e as Error).message}`);
    }
  };
  const pem = { key: read('key'), cert: read('cert') };
  try {
    createSecureContext(pem); // throws when the key is not the certificate's
    return { ...pem, names: certificateNames(pem.cert) };
  } catch (e) {
    throw new Error(`routes.${route}.certificate: ${files.key} and ${files.cert} are not a usable PEM private key and certificate pair: ${(e as Error).message}`);
  }
}

/** The names a connector can match in a client certificate: its CN and DNS subject alternative names. */
export function certificateNames(certPem: string | Buffer): string[] {
  const cert = new X509Certificate(certPem);
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(cert.subject)?.[1]?.trim();
  const sans = (cert.subjectAltName ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4));
  return [...new Set([...(cn ? [cn] : []), ...sans])];
}

export class ConnectorTransport implements Transport {
  readonly kind = 'connector';
  private readonly endpoint: { host: string; port: number };
  private readonly facts: RouteFacts;
  private readonly names: string[] | undefined;
  private readonly mxHost: string;
  private readonly mailer: Mail;

  constructor(
    readonly route: string,
    config: ConnectorRouteConfig,
    ctx: TransportContext,
  ) {
    this.mxHost = mxHostFor(config.domain);
    this.endpoint = { host: config.host ?? this.mxHost, port: config.port };
    this.facts = smtpRouteFacts(route, 'connector', this.endpoint, { domain: config.domain });
    const certificate = config.certificate ? loadClientCertificate(route, config.certificate) : undefined;
    this.names = certificate?.names;
    this.mailer = createSmtpPool({
      ...this.endpoint,
      tls: 'required',
      minTlsVersion: config.minTlsVersion,
      ca: config.ca,
      clientCertificate: certificate && { key: certificate.key, cert: certificate.cert },
      connectTimeout: config.connectTimeout,
      timeout: config.timeout,
      maxConnections: MX_CONNECTIONS,
      ehloName: ctx.ehloName,
    });
  }

  async deliver(job: DeliveryJob): Promise<DeliveryResult> {
    const context = { facts: this.facts, envelopeFrom: job.mailFrom, size: job.size, certificateNames: this.names, mxHost: this.mxHost };
    const { result } = await submit(this.mailer, { envelopeFrom: job.mailFrom, recipients: job.recipients, openMessage: () => job.openMessage() }, this.facts.endpoint as string, (err: SmtpError, recipient?: string) =>
      explainSmtpError(err, { ...context, recipient }, this.endpoint),
    );
    return result;
  }

  async close(): Promise<void> {
    this.mailer.close();
  }
}
