/**
 * The bounce reader: "delivered" must mean delivered. Microsoft 365 accepts some mail it then
 * cannot deliver (Graph's 202 for an address in the tenant that does not exist; SMTP submission
 * likewise) and says so later, in a non-delivery report to the sending mailbox. For each route
 * whose transport offers its mailbox (Transport.reports: graph routes with bounces.read: graph),
 * this reads what arrived since it last looked, takes the reports apart (ndr.ts), finds the
 * message by the Message-ID it was delivered with and the recipient by its address, and marks
 * it bounced with Microsoft's words and a diagnosis; the DSN sweep then owes the app its DSN.
 *
 * With several nodes on one store, one node reads a route's mailbox at a time: the store hands
 * out the turn as a lease (Store.takeBounceTurn), with how far the mailbox was read; another node
 * takes over when the lease runs out. What stops reading (no Mail.Read) is recorded for
 * `relay365 queue show` to say, and logged once, not at every look.
 */
import type { Logger } from 'pino';
import { metrics } from '../admin/metrics.js';
import type { Store, UpstreamReply } from '../queue/store.js';
import { classifySmtpReply } from '../transports/m365/classify-smtp.js';
import { formatReply, parseReply } from '../transports/smtp-reply.js';
import type { InboxMessage, ReportMailbox, Transport } from '../transports/transport.js';
import { readNonDeliveryReport, type ReportedRecipient } from './ndr.js';

/** A first look goes this far back: reports come within minutes of the delivery. */
const FIRST_LOOK_MS = 60 * 60_000;
/** Messages listed per look; the rest wait for the next (the watermark moves on). */
const PER_LOOK = 200;
/** Reports come from Exchange itself (MicrosoftExchange<hex>@, postmaster@) and are titled so in every language Outlook shows. */
const REPORT_SENDER = /^(?:MicrosoftExchange[0-9a-f]{32}|postmaster|mailer-daemon)@/i;
const REPORT_SUBJECT = /^(?:Undeliverable|Undelivered|Delivery has failed|Unzustellbar|Non remis|Non recapitabile|No se puede entregar|Onbestelbaar|Kan inte levereras|Não é possível entregar)\b/i;

export interface BounceReaderDeps {
  store: Store;
  transports: Map<string, Transport>;
  node: string;
  log: Logger;
  /** Writes the DSNs now due (the DSN sweep) and wakes delivery for them. */
  reportsDue: () => Promise<void>;
}

/** How often the reader checks which route is due for a look: routes added by a reload are found within this. */
const TICK_MS = 1000;

export class BounceReader {
  private timer: NodeJS.Timeout | null = null;
  /** When each route's mailbox was last looked at. */
  private readonly lastLook = new Map<string, number>();
  private readonly abort = new AbortController();
  private running: Promise<void> = Promise.resolve();
  /** The last problem logged per route, so a missing permission is logged once, not at every look. */
  private readonly told = new Map<string, string | null>();
  private stopped = false;

  constructor(private readonly deps: BounceReaderDeps) {}

  start(): void {
    this.tick(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.abort.abort();
    await this.running;
  }

  /** Looks at each route whose `every` has passed, then waits for the next one due (the transports may change on reload). */
  private tick(delay: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.running.then(async () => {
        const now = Date.now();
        let next = TICK_MS;
        for (const [route, transport] of this.deps.transports) {
          const mailbox = transport.reports;
          if (!mailbox) continue;
          const wait = (this.lastLook.get(route) ?? -Infinity) + mailbox.every - now;
          if (wait > 0) {
            next = Math.min(next, wait);
            continue;
          }
          this.lastLook.set(route, now);
          next = Math.min(next, mailbox.every);
          await this.look(route).catch((err: unknown) => this.deps.log.error({ err, route }, "could not read the route's non-delivery reports; trying again"));
        }
        this.tick(next);
      });
    }, delay);
    this.timer.unref();
  }

  private async look(route: string): Promise<number> {
    const mailbox = this.deps.transports.get(route)?.reports;
    if (!mailbox || this.stopped) return 0;
    const { store, node } = this.deps;
    const now = Date.now();
    const turn = await store.takeBounceTurn(route, node, now, Math.max(3 * mailbox.every, 60_000));
    if (!turn) return 0; // another node reads this mailbox
    const since = turn.watermark ?? graphTime(now - FIRST_LOOK_MS);
    const listed = await mailbox.arrivedSince(since, PER_LOOK, this.abort.signal);
    if (!listed.ok) return this.problem(route, mailbox, listed.problem);
    let bounced = 0;
    for (const message of listed.value.filter(mayBeReport)) {
      const read = await mailbox.mime(message.id, this.abort.signal);
      if (!read.ok) return this.problem(route, mailbox, read.problem);
      bounced += await this.apply(route, mailbox, message, read.value);
    }
    const last = listed.value.at(-1)?.receivedAt;
    await store.recordBounceRead(route, node, { ...(last ? { watermark: last } : {}), problem: null });
    if (this.told.get(route)) this.deps.log.info({ route, mailbox: mailbox.mailbox }, "the route's non-delivery reports can be read again");
    this.told.set(route, null);
    if (bounced) await this.deps.reportsDue();
    return bounced;
  }

  private async problem(route: string, mailbox: ReportMailbox, problem: string): Promise<number> {
    await this.deps.store.recordBounceRead(route, this.deps.node, { problem });
    if (this.told.get(route) !== problem) this.deps.log.warn({ route, mailbox: mailbox.mailbox }, `cannot read the route's non-delivery reports: ${problem}`);
    this.told.set(route, problem);
    return 0;
  }

  /** Marks the recipients a report names bounced; returns how many were marked now. */
  private async apply(route: string, mailbox: ReportMailbox, message: InboxMessage, mime: string): Promise<number> {
    const { store, log } = this.deps;
    const report = await readNonDeliveryReport(mime);
    if (!report) return 0;
    const targets = report.originalMessageId ? (await store.recipientsByMessageIdHeader(report.originalMessageId)).filter((t) => t.route === route) : [];
    if (targets.length === 0) {
      log.debug({ route, report: message.id, original: report.originalMessageId }, 'a non-delivery report about no message this route delivered');
      return 0;
    }
    let marked = 0;
    for (const failed of report.failed) {
      const target = targets.find((t) => t.address.toLowerCase() === failed.finalRecipient || t.address.toLowerCase() === failed.originalRecipient);
      if (!target) continue;
      const reply = replyOf(failed);
      const explained = classifySmtpReply(reply, { facts: { route, transport: 'graph', mailbox: mailbox.mailbox }, recipient: target.address });
      const diagnosis = `Microsoft 365 accepted the message, then returned it in a non-delivery report to ${mailbox.mailbox} (${message.receivedAt}): ${explained.diagnosis}${explained.fix ? ` ${explained.fix}` : ''}`;
      const result = await store.bounce({ messageId: target.messageId, idx: target.idx, reply, diagnosis, at: Date.now() });
      if (!result.ok) continue;
      marked++;
      metrics.bounced(route);
      log.warn({ msgId: target.messageId, route, rcpt: target.address, reply: formatReply(reply) }, 'bounced after delivery: Microsoft 365 returned a non-delivery report');
    }
    return marked;
  }
}

function mayBeReport(m: InboxMessage): boolean {
  return REPORT_SENDER.test(m.from) || REPORT_SUBJECT.test(m.subject);
}

/** Microsoft's words: the Diagnostic-Code as an SMTP reply; else the Status alone. */
function replyOf(r: ReportedRecipient): UpstreamReply {
  if (r.diagnostic) {
    const parsed = parseReply(r.diagnostic);
    if (parsed.code !== null) return parsed;
  }
  return { code: null, enhanced: r.status, text: r.diagnostic ?? `Status ${r.status ?? 'unknown'}` };
}

/** A time as Graph writes receivedDateTime: to the second, UTC. */
const graphTime = (ms: number) => `${new Date(ms).toISOString().slice(0, 19)}Z`;
