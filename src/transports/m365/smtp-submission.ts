/**
 * SMTP AUTH client submission — smtp.office365.com:587, or High Volume Email's
 * smtp.hve.mx.microsoft:587 — as smtp-oauth and smtp-basic share it: STARTTLS required, TLS
 * 1.2 or later, one connection per slot of the mailbox's pacing.concurrency (default 3; the
 * delivery layer hands out the slots, counted for every node), the mailbox's sending limits
 * for the delivery layer, the sender rules, and the context every refusal is explained in.
 * The two transports differ only in how they sign in.
 */
import type { Mail } from 'nodemailer';
import type { SmtpBasicRouteConfig, SmtpOAuthRouteConfig } from '../../config/schema.js';
import type { SmtpError } from '../smtp-reply.js';
import { pacingOf } from '../pacing.js';
import { sameForAll, type DeliveryJob, type Outcome, type Pacing, type TransportContext } from '../transport.js';
import type { SmtpRefusalContext } from './classify-smtp.js';
import type { RouteFacts } from './route-facts.js';
import { prepareSender } from './sender.js';
import { createSmtpPool, explainSmtpError, smtpRouteFacts, submit, type SmtpEndpointSettings, type SmtpSignIn, type SubmissionResult } from './smtp-send.js';

export const SUBMISSION_HOST = 'smtp.office365.com';
export const HVE_HOST = 'smtp.hve.mx.microsoft';

export type SubmissionRouteConfig = SmtpOAuthRouteConfig | SmtpBasicRouteConfig;

export function submissionEndpoint(config: SubmissionRouteConfig): { host: string; port: number } {
  return { host: config.host ?? (config.hve ? HVE_HOST : SUBMISSION_HOST), port: config.port };
}

export class ClientSubmission {
  readonly facts: RouteFacts;
  readonly endpoint: { host: string; port: number };
  readonly pacing: Pacing;
  /** Per connection slot, a pool of one connection: it stays open between messages and reconnects when the server closed it. */
  private readonly connections = new Map<number, Mail>();
  private readonly settings: SmtpEndpointSettings;

  constructor(
    route: string,
    private readonly config: SubmissionRouteConfig,
    ctx: TransportContext,
    signIn: SmtpSignIn,
    facts: Partial<RouteFacts> & { transport: 'smtp-oauth' | 'smtp-basic' },
  ) {
    this.endpoint = submissionEndpoint(config);
    this.facts = smtpRouteFacts(route, facts.transport, this.endpoint, { mailbox: config.mailbox, ...facts });
    this.pacing = pacingOf(config) as Pacing;
    this.settings = {
      ...this.endpoint,
      tls: 'required',
      minTlsVersion: config.minTlsVersion,
      ca: config.ca,
      connectTimeout: config.connectTimeout,
      timeout: config.timeout,
      maxConnections: 1,
      ehloName: ctx.ehloName,
      signIn,
    };
  }

  private connection(slot: number): Mail {
    let mailer = this.connections.get(slot);
    if (!mailer) {
      mailer = createSmtpPool(this.settings);
      this.connections.set(slot, mailer);
    }
    return mailer;
  }

  /**
   * Sends the job's message. `refusalContext` adds what only the transport knows (the token's
   * claims); `ownFailure` explains failures of the transport's own making (a token that could
   * not be had when a new connection signed in) before they are read as network trouble.
   */
  async deliver(job: DeliveryJob, refusalContext: Partial<SmtpRefusalContext> = {}, ownFailure: (err: SmtpError) => Outcome | null = () => null): Promise<SubmissionResult> {
    const sender = await prepareSender(job, this.config.mailbox, this.config.sender, this.facts);
    if (sender.refusal) return { result: sameForAll(job, sender.refusal), failure: null };
    const context: SmtpRefusalContext = {
      facts: this.facts,
      envelopeFrom: sender.envelopeFrom,
      concurrency: this.pacing.concurrency,
      recipientsPerMessage: this.pacing.recipientsPerMessage,
      size: job.size,
      ...refusalContext,
    };
    return submit(this.connection(job.connection ?? 0), { envelopeFrom: sender.envelopeFrom, recipients: job.recipients, openMessage: sender.openMessage }, this.facts.endpoint as string, (err: SmtpError, recipient?: string) =>
      (err.response ? null : ownFailure(err)) ?? explainSmtpError(err, { ...context, recipient }, this.endpoint),
    );
  }

  async closeConnection(slot: number): Promise<void> {
    this.connections.get(slot)?.close();
    this.connections.delete(slot);
  }

  async close(): Promise<void> {
    for (const mailer of this.connections.values()) mailer.close();
    this.connections.clear();
  }
}
