/**
 * The SMTP plumbing the four Exchange Online SMTP transports share: a nodemailer pool with
 * Microsoft's TLS rules, one submission of a message with each recipient's own outcome, and
 * what failures without an SMTP reply (TLS, network, DNS) mean for an Exchange Online route.
 * Replies with a status code are explained by classify-smtp.ts.
 */
import { isIP } from 'node:net';
import { rootCertificates } from 'node:tls';
import nodemailer, { type Mail, type XOAuth2Options } from 'nodemailer';
import { readCaCertificates } from '../../credentials/ca.js';
import { parseReply, type SmtpError } from '../smtp-reply.js';
export { submit, type Explain, type Submission, type SubmissionResult } from '../smtp-submit.js';
import { outcome, type Outcome } from '../transport.js';
import { classifySmtpReply, type SmtpRefusalContext } from './classify-smtp.js';
import type { RouteFacts } from './route-facts.js';

type XOAuth2ProvisionCallback = NonNullable<XOAuth2Options['provisionCallback']>;

export type SmtpSignIn = { method: 'LOGIN'; user: string; pass: string } | { method: 'XOAUTH2'; user: string; provision: XOAuth2ProvisionCallback };

export interface SmtpEndpointSettings {
  host: string;
  port: number;
  /** required: STARTTLS or nothing (client submission, connectors); opportunistic: STARTTLS when offered (Direct Send). */
  tls: 'required' | 'opportunistic';
  minTlsVersion: string;
  /** Extra CA certificates (PEM files or PEM text), trusted besides Node's own roots. */
  ca: string[];
  /** A client certificate (PEM private key and certificate) for certificate-based connectors. */
  clientCertificate?: { key: string; cert: string } | undefined;
  connectTimeout: number;
  timeout: number;
  maxConnections: number;
  ehloName: string;
  signIn?: SmtpSignIn | undefined;
}

export function createSmtpPool(settings: SmtpEndpointSettings): Mail {
  const { signIn } = settings;
  return nodemailer.createTransport({
    pool: true,
    host: settings.host,
    port: settings.port,
    secure: false, // Exchange Online has no implicit TLS (port 465 is not supported): STARTTLS
    requireTLS: settings.tls === 'required',
    // Opportunistic: a server that offers STARTTLS but then refuses it still gets the mail in plaintext.
    opportunisticTLS: settings.tls === 'opportunistic',
    name: settings.ehloName,
    maxConnections: settings.maxConnections,
    maxMessages: Infinity,
    // The message is a stream that can be read once: nodemailer must not requeue it by itself
    // (it would find the stream consumed); submit() resends it over a new connection instead.
    maxRequeues: 0,
    connectionTimeout: settings.connectTimeout,
    greetingTimeout: settings.connectTimeout,
    socketTimeout: settings.timeout,
    auth:
      signIn?.method === 'XOAUTH2'
        ? { type: 'OAuth2', user: signIn.user, provisionCallback: signIn.provision }
        : signIn
          ? { user: signIn.user, pass: signIn.pass }
          : undefined,
    authMethod: signIn?.method,
    tls: {
      minVersion: settings.minTlsVersion as 'TLSv1.2',
      rejectUnauthorized: true,
      // Extra CAs (a TLS-inspecting proxy, the sandbox) are added to Node's roots, not put in their place.
      ca: settings.ca.length ? [...rootCertificates, ...readCaCertificates(settings.ca)] : undefined,
      // SNI carries host names only (RFC 6066); an IP address is checked against the certificate's IP entries.
      servername: isIP(settings.host) ? undefined : settings.host,
      ...(settings.clientCertificate ?? {}),
    },
    logger: false,
  });
}

/** Explains a nodemailer error: the reply through classify-smtp.ts, or the TLS / network failure. */
export function explainSmtpError(err: SmtpError, ctx: SmtpRefusalContext, endpoint: { host: string; port: number }): Outcome {
  const reply = err.response ? parseReply(err.response) : null;
  const key = `routes.${ctx.facts.route}`;
  const who = `${endpoint.host}:${endpoint.port}`;
  if (err.code === 'ETLS' && err.command === 'STARTTLS' && reply) {
    return outcome('route-broken', `${who} did not start TLS (it answered STARTTLS with "${err.response?.trim()}"), and this route sends only over TLS. Exchange Online always offers STARTTLS: this is not Microsoft's endpoint, or something on the way interferes.`, {
      reply,
      fix: `Check ${key}.host and ${key}.port; a firewall doing "SMTP inspection" can strip STARTTLS — turn that off for this traffic.`,
    });
  }
  if (reply && reply.code !== null) return classifySmtpReply(reply, { ...ctx, command: err.command });
  const cause = `${err.originalCode ?? ''} ${err.code ?? ''} ${err.message}`;
  if (err.code === 'ETLS' || /certificate|self[- ]signed|SSL|TLS|ERR_TLS|CERT_/i.test(cause)) {
    return outcome('route-broken', `TLS with ${who} failed: ${err.message}`, {
      fix: `Exchange Online needs TLS 1.2 or later (${key}.minTlsVersion) and a certificate checked against its name: use the DNS name, never an IP address, in ${key}.host. If a TLS-inspecting proxy stands in between, add its CA to ${key}.ca.`,
    });
  }
  const portHint = endpoint.port === 25 ? ' (many hosting and cloud providers block outbound port 25)' : '';
  if (/ECONNRESET|EPIPE|Connection closed/i.test(cause)) {
    return outcome('transient', `The connection to ${who} was cut during the session (${err.message}); relay365 tries again.`);
  }
  if (/ECONNREFUSED|EHOSTUNREACH|ENETUNREACH/.test(cause)) {
    return outcome('transient', `Could not connect to ${who}: ${err.message}.`, { fix: `Check that outbound port ${endpoint.port} is open from this host to ${endpoint.host} on every firewall on the way${portHint}, and ${key}.host / ${key}.port.` });
  }
  if (/ETIMEDOUT|ETIMEOUT|timeout/i.test(cause)) {
    return outcome('transient', `${who} did not answer in time (${err.message}): a firewall may be dropping the connection${portHint}.`, { fix: `Check that outbound port ${endpoint.port} to ${endpoint.host} is open from this host.` });
  }
  if (/ENOTFOUND|EAI_AGAIN|EDNS/.test(cause)) {
    return outcome('transient', `The name ${endpoint.host} does not resolve (${err.message}).`, { fix: `Check ${key}.host and this host's DNS resolver.` });
  }
  return outcome('transient', `Delivery to ${who} failed: ${err.message}`);
}

/** The facts the fix texts of an SMTP route name. */
export function smtpRouteFacts(route: string, transport: RouteFacts['transport'], endpoint: { host: string; port: number }, extra: Partial<RouteFacts>): RouteFacts {
  return { route, transport, endpoint: `${endpoint.host}:${endpoint.port}`, ...extra };
}
