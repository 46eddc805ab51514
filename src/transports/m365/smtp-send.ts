/**
 * The SMTP plumbing the four Exchange Online SMTP transports share: a nodemailer pool with
 * Microsoft's TLS rules, one submission of a message with each recipient's own outcome, and
 * what failures without an SMTP reply (TLS, network, DNS) mean for an Exchange Online route.
 * Replies with a status code are explained by classify-smtp.ts.
 */
import { isIP } from 'node:net';
import type { Readable } from 'node:stream';
import { rootCertificates } from 'node:tls';
import nodemailer, { type Mail, type XOAuth2Options } from 'nodemailer';
import { readCaCertificates } from '../../credentials/ca.js';
import { outcomeFromReply, parseReply, type SmtpError } from '../smtp-reply.js';
import { outcome, type DeliveryResult, type Outcome } from '../transport.js';
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

export interface Submission {
  envelopeFrom: string;
  recipients: { idx: number; address: string }[];
  openMessage(): Promise<Readable>;
}

/** How a failure is explained; `recipient` is set for refusals of one recipient (RCPT). */
export type Explain = (err: SmtpError, recipient?: string) => Outcome;

export interface SubmissionResult {
  result: DeliveryResult;
  /** The error that stopped the whole submission (connection, AUTH, MAIL, DATA), if any. */
  failure: SmtpError | null;
}

/** Sends one message to its recipients; every recipient gets its own outcome. */
export async function submit(mailer: Mail, submission: Submission, who: string, explain: Explain): Promise<SubmissionResult> {
  const first = await submitOnce(mailer, submission, who, explain);
  // A pooled connection the server closed while idle (Exchange Online ends idle sessions, a 421
  // ends a reused one) fails before the message went out: nodemailer would requeue it, but it
  // cannot with a stream, so it reports this error instead and the message goes once more, from
  // a fresh stream, over a new connection.
  if (first.failure?.code === 'ECONNECTION' && /maximum number of retries after connection was closed/.test(first.failure.message)) return submitOnce(mailer, submission, who, explain);
  return first;
}

async function submitOnce(mailer: Mail, submission: Submission, who: string, explain: Explain): Promise<SubmissionResult> {
  const byAddress = new Map(submission.recipients.map((r) => [r.address, r.idx]));
  const raw = await submission.openMessage();
  try {
    const info = await mailer.sendMail({ envelope: { from: submission.envelopeFrom, to: submission.recipients.map((r) => r.address) }, raw });
    const accepted = outcomeFromReply(parseReply(String(info.response ?? '250')), who);
    const result: DeliveryResult = new Map(submission.recipients.map((r) => [r.idx, accepted]));
    for (const err of (info as { rejectedErrors?: SmtpError[] }).rejectedErrors ?? []) {
      const idx = err.recipient === undefined ? undefined : byAddress.get(err.recipient);
      if (idx !== undefined) result.set(idx, explain(err, err.recipient));
    }
    return { result, failure: null };
  } catch (error) {
    const err = error as SmtpError;
    const result: DeliveryResult = new Map();
    // Every recipient refused at RCPT: each keeps its own reply.
    for (const rejected of err.rejectedErrors ?? []) {
      const idx = rejected.recipient === undefined ? undefined : byAddress.get(rejected.recipient);
      if (idx !== undefined) result.set(idx, explain(rejected, rejected.recipient));
    }
    const whole = err.rejectedErrors?.length ? null : err;
    for (const r of submission.recipients) if (!result.has(r.idx)) result.set(r.idx, explain(err));
    return { result, failure: whole };
  } finally {
    // A message never read (the session failed before DATA) must not keep its file open.
    raw.destroy();
  }
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
