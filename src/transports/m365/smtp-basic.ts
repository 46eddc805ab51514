/**
 * `smtp-basic`: SMTP AUTH client submission with the mailbox's password (AUTH LOGIN, the only
 * password method Exchange Online offers, after STARTTLS). It works while the tenant allows
 * it, but Microsoft disables Basic SMTP AUTH by default at the end of December 2026 and then
 * removes it, so the route says so at start-up and in its status, with what to switch to.
 */
import type { SmtpBasicRouteConfig } from '../../config/schema.js';
import type { DeliveryJob, DeliveryResult, Pacing, Transport, TransportContext } from '../transport.js';
import { ClientSubmission } from './smtp-submission.js';
import { routeWarnings } from '../warnings.js';

export class SmtpBasicTransport implements Transport {
  readonly kind = 'smtp-basic';
  readonly warnings: readonly string[];
  readonly pacing: Pacing;
  private readonly submission: ClientSubmission;

  constructor(
    readonly route: string,
    config: SmtpBasicRouteConfig,
    ctx: TransportContext,
  ) {
    this.submission = new ClientSubmission(route, config, ctx, { method: 'LOGIN', user: config.mailbox, pass: config.password }, { transport: 'smtp-basic' });
    this.pacing = this.submission.pacing;
    this.warnings = routeWarnings(route, config);
    for (const warning of this.warnings) ctx.log.warn({ route, transport: this.kind }, warning);
  }

  async deliver(job: DeliveryJob): Promise<DeliveryResult> {
    return (await this.submission.deliver(job)).result;
  }

  closeConnection(slot: number): Promise<void> {
    return this.submission.closeConnection(slot);
  }

  close(): Promise<void> {
    return this.submission.close();
  }
}
