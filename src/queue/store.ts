/**
 * The queue's store: the one interface between the relay's logic and where its state
 * lives. SQLite (embedded, the default) and PostgreSQL (several nodes on one database)
 * implement it, so nothing here may assume a single process: claims are leases with an
 * owner, every multi-row change is one transaction, and the clock is always passed in.
 */
import type { Readable, Writable } from 'node:stream';
import type { Action, RecipientState, State, Verdict } from './states.js';

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
  expiresAt: number;
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
}

/**
 * A signed-in console user's session. The store keeps only the SHA-256 of the cookie's value,
 * so any node of a cluster accepts the cookie and a copy of the database does not sign anyone in.
 */
export interface AdminSession {
  /** SHA-256 (hex) of the session cookie's value. */
  id: string;
  user: string;
  /** The CSRF token every state-changing request of the session must carry (a synchronizer token). */
  csrf: string;
  createdAt: number;
  expiresAt: number;
}

export interface ActivityBucket {
  at: number;
  received: number;
  delivered: number;
  failed: number;
}

/** An API token for automation (`Authorization: Bearer`); the store keeps its SHA-256, never the token. */
export interface ApiToken {
  id: string;
  name: string;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

/** A route's own state, apart from its messages: admins pause it; a route-broken answer holds it. */
export type RouteState = 'active' | 'paused' | 'held';

export interface RouteStatus {
  name: string;
  state: RouteState;
  /** Why it is paused or held, and what to do about it. */
  reason: string | null;
  fix: string | null;
  since: number | null;
  /** When a held route next lets one message through to see whether it works again. */
  probeAt: number | null;
  lastSuccessAt: number | null;
  lastFailureAt: number | null;
  lastError: string | null;
}

/** A mailbox's sending budget (Exchange Online's limits by default). */
export interface SendLimits {
  messages: number;
  minuteMs: number;
  recipients: number;
  dayMs: number;
}

export type Reservation =
  | { ok: true; id: number }
  | { ok: false; until: number; limit: 'messages' | 'recipients'; used: number };

export interface SendUsage {
  messagesThisMinute: number;
  recipientsToday: number;
}

/**
 * A route's delegated sign-in as the store keeps it: msal-node's token cache (accounts, refresh
 * and access tokens), sealed with the master key by src/credentials before it gets here — the
 * store never sees a token. `version` goes up by one on every write; writers say which version
 * they read, so two nodes refreshing at once cannot overwrite the newer refresh token with an
 * older one (optimistic concurrency, compare-and-set).
 */
export interface StoredTokenCache {
  route: string;
  /** Opaque sealed text (key id + AES-256-GCM); never logged. */
  data: string;
  version: number;
  /** When it was last written: the last sign-in or token refresh. */
  updatedAt: number;
}

/** A relay365 process using the store; several share one PostgreSQL database. */
export interface NodeInfo {
  /** node.name: unique among the nodes sharing a store (leases are held in its name). */
  name: string;
  /** The machine it runs on, and its process id there. */
  host: string;
  pid: number;
  version: string;
  startedAt: number;
}

export interface NodeStatus extends NodeInfo {
  /** Its last heartbeat (queue/heartbeat.ts): a node that stopped beating has died. */
  heartbeatAt: number;
  /** When it shut down cleanly; null while it runs (or if it died). */
  stoppedAt: number | null;
  /** Messages it holds leases on now. */
  delivering: number;
}

/** An app-only access token as the nodes share it: the value is opaque here (the token provider decides what it stores). */
export interface CachedAccessToken {
  value: string;
  expiresAt: number;
}

/**
 * App-only access tokens shared by the nodes (credentials/app-token.ts consults it after its
 * own memory): one node asks Entra ID for a token, the others take it from the store. The
 * store never logs a value.
 */
export interface AccessTokenCache {
  /** The token stored under `key`, whatever its expiry; null when there is none. */
  accessToken(key: string): Promise<CachedAccessToken | null>;
  /**
   * Runs `refresh` with `key` locked against every other node and the token stored now, and
   * stores what it returns. A node that waited for the lock finds the token the first one
   * fetched, and `refresh` returns it unchanged instead of asking Entra ID again.
   */
  refreshAccessToken(key: string, refresh: (cached: CachedAccessToken | null) => Promise<CachedAccessToken>): Promise<CachedAccessToken>;
  /** Forgets the token if it is still `value` (the upstream refused it). */
  forgetAccessToken(key: string, value: string): Promise<void>;
}

export type ActionOutcome = { ok: true; state: State | null } | { ok: false; reason: 'not-found' } | { ok: false; reason: 'wrong-state'; state: State };

export interface Store extends AccessTokenCache {
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

  /** The state of every route that ever had one (routes not listed are active). */
  routeStatuses(): Promise<RouteStatus[]>;
  routeStatus(name: string): Promise<RouteStatus>;
  /** Pauses, holds or re-activates a route; a held route gets its first probe at `probeAt`. */
  setRouteState(name: string, state: RouteState, now: number, details?: { reason?: string | null; fix?: string | null; probeAt?: number | null }): Promise<void>;
  /** Notes the outcome of a delivery on a route (last success / last failure). */
  noteRouteResult(name: string, ok: boolean, now: number, error?: string | null): Promise<void>;
  /** For a held route whose probe is due: claims the probe (true) and schedules the next one. */
  claimProbe(name: string, now: number, nextProbeAt: number): Promise<boolean>;

  /**
   * Takes one message of `recipients` recipients from a mailbox's budget, or says when the
   * budget allows it. The budget is shared by every node using the store.
   */
  reserveSend(key: string, recipients: number, now: number, limits: SendLimits): Promise<Reservation>;
  /**
   * Moves a reserved send to when it finished. Microsoft counts a message when it arrives,
   * which is after the reservation; counting it from its end keeps the window conservative.
   */
  settleSend(id: number, at: number): Promise<void>;
  sendUsage(key: string, now: number, limits: SendLimits): Promise<SendUsage>;

  /** The route's sealed token cache, or null when nobody signed in for it (or after signing out). */
  loadTokenCache(route: string): Promise<StoredTokenCache | null>;
  /**
   * Writes the route's sealed token cache if the stored version is still `expectedVersion` (null:
   * only if there is none yet), as one atomic compare-and-set. Returns the new version, or null
   * when another writer got there first: the caller then keeps what is stored, which is newer.
   */
  saveTokenCache(route: string, data: string, expectedVersion: number | null, now: number): Promise<number | null>;
  /** Forgets the route's sign-in (`relay365 auth logout`). */
  deleteTokenCache(route: string): Promise<void>;

  /**
   * Nodes: every running relay beats into the store every few seconds (queue/heartbeat.ts),
   * so any node and the CLI can show the whole cluster, and a node can refuse to start under
   * the name of one that is alive (it would take that node's leases for its own).
   */
  heartbeat(node: NodeInfo, now: number): Promise<void>;
  /** The node shut down cleanly. */
  nodeStopped(name: string, now: number): Promise<void>;
  /** Every node that used the store within store.retention, by name. */
  nodes(): Promise<NodeStatus[]>;

  /** Console sessions (admin/auth.ts): created at login, looked up by the hash of the cookie. */
  createAdminSession(session: AdminSession, now: number): Promise<void>;
  /** The session, if it exists and has not expired at `now`. */
  adminSession(id: string, now: number): Promise<AdminSession | null>;
  deleteAdminSession(id: string): Promise<void>;
  /** API tokens: `hash` is the SHA-256 (hex) of the token, the only form the store ever sees. */
  createApiToken(token: { id: string; name: string; hash: string; createdAt: number }): Promise<void>;
  apiTokens(): Promise<ApiToken[]>;
  /** The unrevoked token with this hash (its last use is noted), or null. */
  useApiToken(hash: string, now: number): Promise<ApiToken | null>;
  /** Revokes by id or name; false when there is no such unrevoked token. */
  revokeApiToken(idOrName: string, now: number): Promise<boolean>;

  /**
   * Idempotency-Key of the HTTP submission API (ingress/http/idempotency.ts): the first request
   * with a key claims it, naming the message id it will commit under; a retry finds the claim
   * (with the first answer once settled) instead of creating a second message. Expired keys
   * are forgotten here too.
   */
  claimIdempotencyKey(request: IdempotencyRequest): Promise<IdempotencyClaim>;
  /** The answer the claimant gave, for every retry until the key expires. */
  settleIdempotencyKey(key: string, answer: IdempotentAnswer): Promise<void>;
  /** Forgets an unsettled claim whose request committed nothing, so that a retry may try again. */
  releaseIdempotencyKey(key: string): Promise<void>;

  /**
   * Takes the slot of an admin notification (notify/admin-notifications.ts): true, and `now`
   * recorded, when no node has taken `key` within `intervalMs` before `now`; false otherwise.
   * One statement, so two nodes asking at once cannot both get it.
   */
  takeNotificationSlot(key: string, now: number, intervalMs: number): Promise<boolean>;

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

export interface IdempotencyRequest {
  key: string;
  /** What the request asked for (a digest): a retry with the same key must ask the same. */
  fingerprint: string;
  /** The id the message will be committed under, so a claim left by a crash can be checked. */
  messageId: string;
  now: number;
  expiresAt: number;
}

export interface IdempotentAnswer {
  status: number;
  body: string;
}

export type IdempotencyClaim =
  | { claimed: true }
  | { claimed: false; fingerprint: string; messageId: string; since: number; answer: IdempotentAnswer | null };
