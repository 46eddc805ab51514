/**
 * The one interface every transport implements — smarthost and capture now, the
 * Microsoft 365 transports (graph, smtp-oauth, smtp-basic, direct-send, connector) next.
 * A transport never decides what happens to a message; it reports, per recipient, what
 * the upstream said and what that means (the verdict), in words an admin can act on.
 */
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { MailParams, SendLimits, UpstreamReply } from '../queue/store.js';
import type { Verdict } from '../queue/states.js';
import type { SignInStore } from '../credentials/providers.js';
import type { SharedAccessTokens } from '../credentials/shared-access-tokens.js';

export interface DeliveryJob {
  messageId: string;
  /** "" for the null sender. */
  mailFrom: string;
  mailParams: MailParams;
  recipients: { idx: number; address: string; params: MailParams }[];
  /** Stored size, without the Received header. */
  size: number;
  /** The message as it goes out (Received header + stored body); may be opened again. */
  openMessage(): Promise<Readable>;
  /**
   * Passes recipients to another route (direct-send's fallback, graph's large-message route),
   * through that route's own state, budget and splitting, as if they had been routed there.
   * Its outcomes come back marked with `via`.
   */
  handOver(route: string, recipients: DeliveryJob['recipients']): Promise<DeliveryResult>;
  /**
   * Which of the mailbox's connections this delivery holds (routes with pacing: the delivery
   * layer counts them for every node). A transport with a connection per slot sends over it.
   */
  connection?: number | undefined;
  signal: AbortSignal;
  log: Logger;
}

export interface Outcome {
  verdict: Verdict;
  /** What the upstream answered, when it answered. */
  reply: UpstreamReply | null;
  /** What happened, in plain words. */
  diagnosis: string;
  /** What the admin can do about it, when there is something. */
  fix: string | null;
  /** When the upstream said when to come back (Retry-After); otherwise the backoff decides. */
  retryAt: number | null;
  /** The route that gave this outcome, when the recipient was handed over to it. */
  via?: string;
}

/** Every recipient index of the job maps to its outcome. */
export type DeliveryResult = Map<number, Outcome>;

/** What a transport may use besides its own route config. */
export interface TransportContext {
  /** This relay's name, for EHLO. */
  ehloName: string;
  log: Logger;
  /** Whether a route of this name is configured (hand-overs check their target at start). */
  hasRoute(route: string): boolean;
  /** Where delegated routes keep their users' sign-ins (the store, sealed with the master key). */
  signIns?: SignInStore;
  /** App-only tokens shared by the nodes through the store, sealed with the master key: one node asks Entra ID, the others take its token. */
  sharedTokens?: SharedAccessTokens;
  /** The config's route `sandbox` is the demo route serve made (no relay365.yaml): its outcomes say so. */
  demo?: boolean;
}

/** A Microsoft 365 mailbox's sending limits, which the delivery layer enforces before calling the transport. */
export interface Pacing {
  /** Whose budget: the mailbox address. */
  key: string;
  limits: SendLimits;
  /** Longer recipient lists go out as several submissions of the same message. */
  recipientsPerMessage: number;
  /** Deliveries to this mailbox at once, on all nodes together (Exchange Online: 3 SMTP connections, 4 Graph requests). */
  concurrency: number;
}

export interface Transport {
  /** The route's name from the config. */
  readonly route: string;
  /** The transport kind, e.g. "smarthost". */
  readonly kind: string;
  /** Limits of the mailbox this route sends as, when it has them. */
  readonly pacing?: Pacing;
  /** Standing warnings about the route's configuration (Basic SMTP AUTH is being retired…), shown in its status. */
  readonly warnings?: readonly string[];
  deliver(job: DeliveryJob): Promise<DeliveryResult>;
  /** The route's mailbox as a place to read Microsoft's non-delivery reports from (graph routes with bounces.read: graph). */
  readonly reports?: ReportMailbox;
  /** Closes the connection kept for a slot of the mailbox (DeliveryJob.connection), now idle. */
  closeConnection?(slot: number): Promise<void>;
  /** Closes pooled connections; in-flight deliveries finish first. */
  close(): Promise<void>;
}

export function sameForAll(job: DeliveryJob, outcome: Outcome): DeliveryResult {
  return new Map(job.recipients.map((r) => [r.idx, outcome]));
}

export function outcome(verdict: Verdict, diagnosis: string, extra: Partial<Omit<Outcome, 'verdict' | 'diagnosis'>> = {}): Outcome {
  return { verdict, diagnosis, reply: extra.reply ?? null, fix: extra.fix ?? null, retryAt: extra.retryAt ?? null };
}

/** A message of the route mailbox's Inbox that may be a non-delivery report. */
export interface InboxMessage {
  id: string;
  /** When it arrived (Graph's receivedDateTime, to the second). */
  receivedAt: string;
  subject: string;
  from: string;
}

/** What reading the mailbox came to: its messages, or why it could not be read (`denied`: a permission is missing). */
export type MailboxRead<T> = { ok: true; value: T } | { ok: false; problem: string; denied: boolean };

/**
 * Where Microsoft 365 puts its non-delivery reports for mail a route sent: the route's mailbox.
 * The bounce reader (src/notify/bounces.ts) lists what arrived since it last looked and reads
 * the reports among it.
 */
export interface ReportMailbox {
  readonly mailbox: string;
  /** How often to look (routes.<route>.bounces.every), ms. */
  readonly every: number;
  /** What arrived at or after `since`, oldest first, at most `limit` messages. */
  arrivedSince(since: string, limit: number, signal: AbortSignal): Promise<MailboxRead<InboxMessage[]>>;
  /** One message's MIME. */
  mime(id: string, signal: AbortSignal): Promise<MailboxRead<string>>;
}
