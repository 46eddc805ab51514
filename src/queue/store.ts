/**
 * The queue's store: the one interface between the relay's logic and where its state
 * lives. SQLite (embedded, the default) and PostgreSQL (several nodes on one database)
 * implement it, so nothing here may assume a single process: claims are leases with an
 * owner, every multi-row change is one transaction, and the clock is always passed in.
 */
import type { Readable, Writable } from 'node:stream';
import type { Action, RecipientState, State, Verdict } from './states.js';
import type { AdminStore } from './store-admin.js';
import type { BounceStore } from './store-bounces.js';
import type { ClusterStore } from './store-cluster.js';
import type { RouteStore } from './store-routes.js';

// The store by concern: messages here; routes and pacing, what the nodes share, and what the
// admin server and the HTTP API keep, in their own files (the Store interface joins them).
export type * from './store-admin.js';
export type * from './store-bounces.js';
export type * from './store-cluster.js';
export type * from './store-routes.js';

export type MailParams = Record<string, string | boolean>;

/** What a message is: mail an app sent, a DSN relay365 wrote to a sender, or a notification to the admins (src/notify). */
export type MessageKind = 'normal' | 'dsn' | 'notification';

export interface NewRecipient {
  address: string;
  /** RCPT TO parameters as given (NOTIFY, ORCPT), kept for DSNs. */
  params: MailParams;
}

export interface NewMessage {
  id: string;
  receivedAt: number;
  listener: string;
  clientAddress: string;
  clientHelo: string | null;
  /** Negotiated protocol and cipher, e.g. "TLSv1.3 TLS_AES_256_GCM_SHA384"; null for plaintext. */
  tls: string | null;
  /** The application that sent it, once apps are configured; null until then. */
  app: string | null;
  /** Envelope sender; "" is the null sender of bounces. */
  mailFrom: string;
  mailParams: MailParams;
  recipients: NewRecipient[];
  /** The Received header this relay adds in front of the message when delivering it. */
  receivedHeader: string;
  /**
   * The message's Message-ID as delivered (the app's, or the one relay365 added at the door):
   * Microsoft's non-delivery reports name it, and it leads them back to this message.
   */
  messageIdHeader?: string | null;
  expiresAt: number;
  /** The Subject header as read at the door, encoded words decoded; null when there is none. */
  subject?: string | null;
}

/** Where a body was written and what it is: filled in by the BodyWriter when it finishes. */
export interface StoredBody {
  size: number;
  sha256: string;
}

/**
 * Takes a message body as it streams in from a client. Nothing is acknowledged on the
 * strength of it: only Store.accept, after the writer has finished, commits the message.
 * abort() removes whatever was written.
 */
export interface BodyWriter extends Writable {
  /** Resolves after the body is durably written (the 'finish' of the stream). */
  readonly stored: Promise<StoredBody>;
  abort(): Promise<void>;
}

export interface Lease {
  node: string;
  until: number;
}

export interface ClaimedRecipient {
  idx: number;
  address: string;
  params: MailParams;
  state: RecipientState;
}

export interface ClaimedMessage {
  id: string;
  receivedAt: number;
  expiresAt: number;
  mailFrom: string;
  mailParams: MailParams;
  app: string | null;
  size: number;
  receivedHeader: string;
  /** Attempts before this one. */
  attemptCount: number;
  /** True when this claim took over an expired lease (a node died while delivering it). */
  recovered: boolean;
  /** Recipients still to be tried (queued or deferred). */
  recipients: ClaimedRecipient[];
  /** The states of the other recipients (done, or held), which the message's new state depends on too. */
  otherRecipientStates: RecipientState[];
}

export interface UpstreamReply {
  code: number | null;
  enhanced: string | null;
  text: string;
}

/** One recipient's result in one attempt. */
export interface RecipientResult {
  idx: number;
  /** False when the recipient was not tried (its route is held, its mailbox's budget is used up): no attempt row. */
  attempted: boolean;
  route: string;
  /** The route that gave the outcome, when the recipient was handed over to it (a fallback). */
  via?: string;
  transport: string;
  verdict: Verdict;
  state: RecipientState;
  reply: UpstreamReply | null;
  diagnosis: string | null;
  fix: string | null;
  retryAt: number | null;
}

export interface AttemptReport {
  messageId: string;
  /** 1 for the first attempt (the claimed attemptCount + 1). */
  attempt: number;
  node: string;
  startedAt: number;
  durationMs: number;
  results: RecipientResult[];
  /** The message's state after the attempt, as queue/states.ts decides it. */
  state: State;
  nextAttemptAt: number | null;
  lastError: string | null;
}

export interface MessageSummary {
  id: string;
  receivedAt: number;
  updatedAt: number;
  state: State;
  kind: MessageKind;
  mailFrom: string;
  recipients: string[];
  size: number;
  app: string | null;
  clientAddress: string;
  attemptCount: number;
  nextAttemptAt: number | null;
  lastError: string | null;
  /** The Subject (decoded) as received; null when it had none or came before subjects were kept. */
  subject: string | null;
}

export interface RecipientDetail {
  idx: number;
  address: string;
  params: MailParams;
  state: RecipientState;
  route: string | null;
  retryAt: number | null;
  reply: UpstreamReply | null;
  verdict: Verdict | null;
  diagnosis: string | null;
  /** When Microsoft's non-delivery report for it was read (state bounced; reply and diagnosis are then the report's). */
  bouncedAt: number | null;
  updatedAt: number;
}

export interface AttemptDetail {
  attempt: number;
  recipientIdx: number;
  startedAt: number;
  durationMs: number;
  node: string;
  route: string;
  transport: string;
  verdict: Verdict;
  reply: UpstreamReply | null;
  diagnosis: string | null;
  fix: string | null;
}

export interface MessageDetail extends MessageSummary {
  /** The Message-ID it was delivered with; null for messages stored before relay365 kept it. */
  messageIdHeader: string | null;
  listener: string;
  clientHelo: string | null;
  tls: string | null;
  mailParams: MailParams;
  sha256: string;
  expiresAt: number;
  leaseOwner: string | null;
  leaseUntil: number | null;
  receivedHeader: string;
  recipientDetails: RecipientDetail[];
  attempts: AttemptDetail[];
  /** For a DSN or notification: the message it reports on. */
  about: string | null;
  /** What relay365 wrote about this message (its DSNs), oldest first. */
  notices: NoticeLink[];
}

export interface ListQuery {
  states?: State[];
  app?: string;
  /** Substring of the envelope sender. */
  sender?: string;
  /** Substring of any recipient address. */
  recipient?: string;
  /** Only messages with a recipient on this route (the route it was last tried on). */
  route?: string;
  /** Received at or after this time (ms); ids start with their receive time, so this is a range of ids. */
  since?: number;
  /** Received before this time (ms). */
  until?: number;
  /** Only messages with ids before this one (paging backwards in time: ids sort by arrival). */
  before?: string;
  /** Only DSNs, or only admin notifications (or only normal mail). */
  kind?: MessageKind;
  limit: number;
}

/**
 * A recipient whose sender may be owed a DSN (src/notify/dsn-sweep.ts decides): it failed, it
 * is still waiting (deferred or held) since before `delayedBefore` without a delay warning, or
 * it was delivered and its NOTIFY asked for SUCCESS.
 */
export interface DueReport {
  messageId: string;
  idx: number;
  state: RecipientState;
}

/** A recipient's DSN dealt with: `final` (failure/success, sent or not due) is never reported again; `delay` only once. */
export interface ReportMark {
  messageId: string;
  idx: number;
  mark: 'final' | 'delay';
}

/** Store.commitNotice found a recipient marked already: another node reported it; nothing was committed. */
export class NoticeRaced extends Error {
  readonly code = 'notice-raced';
  constructor(mark: ReportMark) {
    super(`the DSN for recipient ${mark.idx} of ${mark.messageId} was written by another node first`);
  }
}

/** A message relay365 writes itself, with its kind, committed like any accepted message. */
export interface Notice {
  kind: Exclude<MessageKind, 'normal'>;
  message: NewMessage;
  body: StoredBody;
  /** The message it reports on (a DSN's original), so each can link to the other. */
  about?: string;
}

/** A DSN or notification relay365 wrote about a message. */
export interface NoticeLink {
  id: string;
  kind: MessageKind;
  state: State;
  receivedAt: number;
}

export interface ActivityBucket {
  at: number;
  received: number;
  delivered: number;
  failed: number;
}

export type ActionOutcome = { ok: true; state: State | null } | { ok: false; reason: 'not-found' } | { ok: false; reason: 'wrong-state'; state: State };

export interface Store extends RouteStore, ClusterStore, AdminStore, BounceStore {
  /** A writer for a new message's body; bodies are streamed, never held whole when large. */
  createBodyWriter(messageId: string): BodyWriter;
  /**
   * Commits a message, its recipients and its body (written by a finished BodyWriter) in one
   * transaction. Only after this resolves may the client be told 250. On failure nothing is
   * kept (the body is removed) and the error says why. With a lease, the message is
   * committed already claimed by that node (it has a free delivery slot for it), returned
   * as the node would have claimed it.
   */
  accept(message: NewMessage, body: StoredBody, lease?: Lease): Promise<ClaimedMessage>;
  /** Streams a stored body (without the Received header). */
  openBody(messageId: string): Promise<Readable>;
  /**
   * Commits a notice (a DSN or an admin notification; none when nothing is to be sent) and
   * marks the recipients it reports on, in one transaction: a crash before the commit leaves
   * them due (the DSN is written again), after it they are marked (never sent twice).
   */
  commitNotice(notice: Notice | null, marks: ReportMark[], now: number): Promise<void>;
  /** Recipients that may be owed a DSN (see DueReport), oldest messages first, at most `limit`. */
  dueReports(delayedBefore: number, limit: number): Promise<DueReport[]>;
  /** When the longest-waiting undelivered message (queued, deferred or held) arrived; null when none waits (queue-growing). */
  oldestWaitingAt(): Promise<number | null>;

  /**
   * Claims up to `limit` messages that are due at `now` (or whose lease expired) for `node`,
   * leased until now + leaseMs. A message is claimed by one node at a time.
   */
  claimDue(node: string, limit: number, now: number, leaseMs: number): Promise<ClaimedMessage[]>;
  /**
   * Returns to the queue what an earlier run of this node was delivering when it stopped
   * (a node holds no deliveries right after it starts), without waiting for the leases.
   */
  releaseLeases(node: string, now: number): Promise<string[]>;
  /** Extends the leases `node` holds on these messages; returns the ids it still holds. */
  renewLeases(node: string, ids: string[], until: number): Promise<string[]>;
  /** Records an attempt's results and the message's new state, releasing the lease, in one transaction. */
  finishAttempt(report: AttemptReport): Promise<void>;
  /** The earliest time any queued/deferred message becomes due, or any lease expires; null when none. */
  nextWakeAt(): Promise<number | null>;

  /**
   * Fails what outlived its lifetime; returns the ids so notifications can follow. With
   * several nodes on one store, one node does it at a time; another asking meanwhile gets [].
   */
  expire(now: number, reason: (lastError: string | null) => string): Promise<string[]>;
  /**
   * Deletes final messages (delivered, failed, cancelled) last changed before `before`, and
   * what else is older (sends, nodes, tokens). One node at a time, as expire.
   */
  purge(before: number): Promise<number>;

  /** An admin or the system moves a message (see ACTIONS in states.ts for what is allowed). */
  act(messageId: string, action: Action, now: number, note?: string): Promise<ActionOutcome>;
  /** Releases held messages whose held recipients are on `route` (all held when omitted), oldest first, at most `limit`. */
  releaseHeld(now: number, route?: string, limit?: number): Promise<number>;

  /**
   * Messages received, delivered and failed per `bucketMs` since `since` (the console's chart),
   * oldest first, only buckets with something in them. Read from the messages still stored.
   */
  activity(since: number, bucketMs: number): Promise<ActivityBucket[]>;

  list(query: ListQuery): Promise<MessageSummary[]>;
  get(messageId: string): Promise<MessageDetail | null>;
  countByState(): Promise<Record<State, number>>;

  close(): Promise<void>;
}

