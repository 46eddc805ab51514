/**
 * `graph`: delivery through Microsoft Graph as the route's mailbox, with an app-only token
 * (Mail.Send). A message up to largeMessages.threshold (3 MB) goes in one
 * `POST /users/{mailbox}/sendMail` as base64 MIME, as stored (only its recipient headers may
 * change, see below); a larger one through a
 * draft and upload sessions (graph-large.ts, needs Mail.ReadWrite) or handed over to another
 * route of the same mailbox (largeMessages.via: route, typically smtp-oauth).
 *
 * Graph sends to the message's To/Cc/Bcc, not to an envelope: graph-recipients.ts makes those the
 * delivery's recipients first. saveToSentItems: Graph's MIME form has no such parameter and
 * always keeps a copy in Sent Items (so does a draft's /send); saveToSentItems: false is
 * therefore reported as a standing warning of the route rather than silently ignored.
 * At most pacing.concurrency (4) requests run at once for the mailbox: the delivery layer counts
 * them for all nodes together, and this node's own limiter keeps to it too.
 */
import type { Agent } from 'node:https';
import type { Logger } from 'pino';
import type { GraphRouteConfig } from '../../config/routes.js';
import { createRouteTokenProvider, type RouteTokenProvider } from '../../credentials/providers.js';
import { readCaCertificates } from '../../credentials/ca.js';
import { outcome, sameForAll, type DeliveryJob, type DeliveryResult, type Pacing, type ReportMailbox, type Transport, type TransportContext } from '../transport.js';
import { classifyGraphFailure, type GraphFacts, type GraphFailure } from './classify-graph.js';
import { entraFacts } from './classify-token.js';
import { GraphApi } from './graph-api.js';
import { GraphReportMailbox } from './graph-reports.js';
import { graphAgent } from './graph-http.js';
import { sendThroughDraft } from './graph-large.js';
import { RequestLimiter } from './graph-limiter.js';
import { base64Body, readBounded } from './graph-mime.js';
import { withEnvelopeRecipients, type RecipientPlan } from './graph-recipients.js';
import { prepareSender, type PreparedSender } from './sender.js';
import { pacingOf } from '../pacing.js';
import { routeWarnings } from '../warnings.js';

const REQUEST_TIMEOUT_MS = 5 * 60_000;
const MB = 1024 * 1024;
// A small message in KB: "0.0 MB" reads as empty.
const mb = (bytes: number) => (bytes < MB ? `${Math.max(1, Math.ceil(bytes / 1024))} KB` : `${(bytes / MB).toFixed(1)} MB`);

export class GraphTransport implements Transport {
  readonly kind = 'graph';
  readonly pacing: Pacing;
  readonly warnings: readonly string[];
  readonly reports?: ReportMailbox;
  private readonly tokens: RouteTokenProvider;
  private readonly agent: Agent;
  private readonly api: GraphApi;
  private readonly facts: GraphFacts;
  private readonly log: Logger;

  constructor(
    readonly route: string,
    private readonly config: GraphRouteConfig,
    private readonly ctx: TransportContext,
  ) {
    this.log = ctx.log.child({ route, transport: 'graph', mailbox: config.mailbox });
    const concurrency = (pacingOf(config) as Pacing).concurrency;
    this.tokens = createRouteTokenProvider({ route, transport: 'graph', mailbox: config.mailbox, credentials: config.credentials, ca: config.ca, endpoint: config.endpoint, log: this.log, signIns: ctx.signIns, sharedTokens: ctx.sharedTokens });
    this.agent = graphAgent(readCaCertificates(config.ca), concurrency);
    this.api = new GraphApi({ endpoint: config.endpoint, mailbox: config.mailbox, tokens: this.tokens, agent: this.agent, limiter: new RequestLimiter(concurrency), log: this.log, timeoutMs: REQUEST_TIMEOUT_MS });
    const base = { route, transport: 'graph' as const, mailbox: config.mailbox, tenant: config.credentials.tenant, clientId: config.credentials.clientId, endpoint: config.endpoint };
    this.facts = { ...entraFacts(base, this.tokens, config.credentials.certificate?.cert), threshold: config.largeMessages.threshold };
    this.pacing = pacingOf(config) as Pacing;
    if (config.bounces.read === 'graph') this.reports = new GraphReportMailbox(route, config, this.api);
    this.warnings = routeWarnings(route, config);
    for (const warning of this.warnings) this.log.warn(warning);
  }

  async deliver(job: DeliveryJob): Promise<DeliveryResult> {
    // The route's sender rules (sender.allowed, rewriteFrom): a From the mailbox may not send as is
    // refused before anything goes up, or rewritten. Graph has no envelope sender to set.
    const sender = await prepareSender(job, this.config.mailbox, this.config.sender, this.facts);
    if (sender.refusal) return sameForAll(job, sender.refusal);
    const threshold = this.config.largeMessages.threshold;
    const envelope = job.recipients.map((r) => r.address);
    if (job.size <= threshold) {
      const read = await readBounded(await sender.openMessage(), threshold);
      if (read.ok) {
        const rewritten = withEnvelopeRecipients(read.message, envelope);
        if (rewritten.message.length <= threshold) return this.sendSmall(job, rewritten.message, rewritten.plan, rewritten.from ?? sender.headerFrom ?? undefined);
      }
    }
    return this.config.largeMessages.via === 'route' ? this.handOver(job) : this.sendLarge(job, sender, envelope);
  }

  async close(): Promise<void> {
    this.tokens.close();
    this.agent.destroy();
  }

  private async sendSmall(job: DeliveryJob, message: Buffer, plan: RecipientPlan, from: string | undefined): Promise<DeliveryResult> {
    const sent = await this.api.sendMime(base64Body(message), job.signal);
    if (!sent.ok) return this.refused(job, sent.failure, { size: message.length, ...(from ? { from } : {}) });
    return sameForAll(job, outcome('delivered', `Accepted by Microsoft Graph (202) for ${this.config.mailbox}: sendMail with the MIME message (${mb(message.length)})${this.recipientNote(job, plan)}.`, { reply: ACCEPTED }));
  }

  private async sendLarge(job: DeliveryJob, sender: PreparedSender, envelope: string[]): Promise<DeliveryResult> {
    const result = await sendThroughDraft(this.api, sender.openMessage, envelope, job.signal, job.log.child({ route: this.route }));
    if (!result.ok && 'unreadable' in result) {
      return sameForAll(job, outcome('permanent', `relay365 could not take the message apart to send it through a Graph draft (it is ${mb(job.size)}, over ${mb(this.config.largeMessages.threshold)}): ${result.unreadable}`, {
        fix: `Look at the message (relay365 queue show ${job.messageId}); or hand large messages to an SMTP route, which sends them as they are: routes.${this.route}.largeMessages.via: route.`,
      }));
    }
    if (!result.ok) return this.refused(job, result.failure, { size: job.size, ...(result.from ? { from: result.from } : {}) });
    const v = result.value;
    const parts = `${v.attachments} attachment${v.attachments === 1 ? '' : 's'}, ${v.uploadSessions} through upload sessions`;
    return sameForAll(job, outcome('delivered', `Accepted by Microsoft Graph (202) for ${this.config.mailbox}: a ${mb(job.size)} message, over the ${mb(this.config.largeMessages.threshold)} of one request, sent as a draft with ${parts}${this.recipientNote(job, v.plan)}.`, { reply: ACCEPTED }));
  }

  /** largeMessages.via: route — the other route delivers; each outcome says it was handed over. */
  private async handOver(job: DeliveryJob): Promise<DeliveryResult> {
    const name = this.config.largeMessages.route ?? '';
    const why = `The message is ${mb(job.size)}, over routes.${this.route}.largeMessages.threshold (${mb(this.config.largeMessages.threshold)})`;
    if (!this.ctx.hasRoute(name)) {
      return sameForAll(job, outcome('route-broken', `${why}, and its hand-over route "${name}" does not exist.`, { fix: `Set routes.${this.route}.largeMessages.route to a configured route (an smtp-oauth route of ${this.config.mailbox}), or largeMessages.via: upload-session.` }));
    }
    const results = await job.handOver(name, job.recipients);
    return new Map([...results].map(([idx, o]) => [idx, { ...o, diagnosis: `${why}: handed over to route "${name}". ${o.diagnosis}` }]));
  }

  private refused(job: DeliveryJob, failure: GraphFailure, extra: { size: number; from?: string }): DeliveryResult {
    // The delivery layer logs each recipient's outcome and the route's hold; nothing to add here.
    return sameForAll(job, classifyGraphFailure(failure, { ...this.facts, ...extra }));
  }

  private recipientNote(job: DeliveryJob, plan: RecipientPlan): string {
    const hidden = plan.bcc.length > 0 ? `; ${plan.bcc.length} recipient${plan.bcc.length === 1 ? '' : 's'} not in To/Cc sent as Bcc` : '';
    if (plan.leftOut.length > 0) job.log.info({ route: this.route, leftOut: plan.leftOut }, 'To/Cc addresses that are not recipients of this delivery were left out of the Graph submission');
    const left = plan.leftOut.length > 0 ? `; To/Cc addresses that are not recipients of this delivery were left out: ${plan.leftOut.join(', ')}` : '';
    return `${hidden}${left}`;
  }
}

const ACCEPTED = { code: 202, enhanced: null, text: 'Accepted' };
