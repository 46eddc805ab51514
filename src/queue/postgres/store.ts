/**
 * The shared store: PostgreSQL, for several relay nodes on one database (any node accepts,
 * any node delivers). A commit is durable when it returns (synchronous_commit, as the
 * server has it: keep it on). Claims lock rows with FOR UPDATE SKIP LOCKED and lease them,
 * so a message is delivered by one node at a time and a dead node's messages go to the
 * others when its leases expire. Bodies live in the database too (bodies.ts). Accepts and
 * finished attempts go through group commit; the rest are single statements or short
 * transactions, and maintenance runs on one node at a time (maintenance.ts).
 */
import type { Readable } from 'node:stream';
import type pg from 'pg';
import { claimedFromNew } from '../claimed.js';
import { PENDING_RECIPIENT_STATES, type Action, type RecipientState, type State } from '../states.js';
import { NoticeRaced } from '../store.js';
import type {
  AccessTokenCache,
  ActivityBucket,
  AdminSession,
  ApiToken,
  NewApiToken,
  ActionOutcome,
  AttemptReport,
  BodyWriter,
  CachedAccessToken,
  ClaimedMessage,
  DueReport,
  Lease,
  ListQuery,
  MessageDetail,
  MessageSummary,
  NewMessage,
  NodeInfo,
  NodeStatus,
  Notice,
  ReportMark,
  Reservation,
  RouteState,
  RouteStatus,
  SendLimits,
  SendUsage,
  ConnectionInUse,
  SignInAdmission,
  SignInAttempt,
  Store,
  StoredBody,
  StoredTokenCache,
  IdempotencyClaim,
  IdempotencyRequest,
  IdempotentAnswer,
  Bounce,
  BounceOutcome,
  BounceReader,
  BounceTarget,
} from '../store.js';
import { params } from '../sqlite/rows.js';
import { act, releaseHeld } from './actions.js';
import { writeAccepts, writeFinishes, type AcceptItem } from './batches.js';
import { forgetUpload, openChunkedBody, PostgresBodyWriter, type ChunkedBody } from './bodies.js';
import { createPool, transaction } from './connection.js';
import { GroupCommit } from './group-commit.js';
import { expire, purge } from './maintenance.js';
import { hasSchema, migrate } from './migrations.js';
import { StoreMissing } from '../store-missing.js';
import { maskStoreUrl } from '../../config/store-url.js';
import { PostgresIdempotency } from './idempotency.js';
import { PostgresBounces } from './bounces.js';
import { PostgresNodes, PostgresTokens } from './nodes-and-tokens.js';
import { PostgresQueries } from './queries.js';
import { PostgresAdminAuth } from './admin-auth.js';
import { PostgresBudgets, PostgresRoutes } from './routes-and-budgets.js';
import { PostgresConnectionSlots } from './connection-slots.js';
import { PostgresSignInFailures } from './sign-in-failures.js';
import { SQL } from './sql.js';

export interface PostgresStoreOptions {
  url: string;
  password?: string;
  /** Connections this node keeps (store.connections); a few more are used for body uploads. */
  connections: number;
  inlineLimit: number;
  /** This node's name, shown in pg_stat_activity. */
  node?: string;
  /** Where a connection that broke while idle is reported. */
  onIdleError?: (err: Error) => void;
}

interface ClaimRow {
  id: string;
  received_at: number;
  expires_at: number;
  mail_from: string;
  mail_params: string;
  app: string | null;
  size: number;
  received_header: string;
  attempt_count: number;
  recovered: boolean;
  recipients: { idx: number; address: string; params: string; state: RecipientState }[] | null;
}

/** Connections for body uploads, which must not wait behind (or hold up) the queue's own. */
const UPLOAD_CONNECTIONS = 4;

/** Taken when no send of the key is on record since $3 (now minus the interval). */
const TAKE_NOTIFICATION_SLOT = `INSERT INTO notification_slots (key, sent_at) VALUES ($1, $2)
  ON CONFLICT (key) DO UPDATE SET sent_at = excluded.sent_at WHERE notification_slots.sent_at <= $3`;

function connectionOf(options: PostgresStoreOptions) {
  return {
    url: options.url,
    password: options.password,
    applicationName: `relay365${options.node ? ` ${options.node}` : ''}`,
    onIdleError: options.onIdleError ?? ((err: Error) => process.stderr.write(`relay365: a PostgreSQL connection broke while idle: ${err.message}\n`)),
  };
}

export class PostgresStore implements Store {
  private readonly pool: pg.Pool;
  private readonly uploads: pg.Pool;
  private readonly queries: PostgresQueries;
  private readonly accepts: GroupCommit<AcceptItem>;
  private readonly finishes: GroupCommit<AttemptReport>;
  private readonly routes: PostgresRoutes;
  private readonly budgets: PostgresBudgets;
  private readonly connections: PostgresConnectionSlots;
  private readonly signIns: PostgresSignInFailures;
  private readonly nodeRows: PostgresNodes;
  private readonly tokens: PostgresTokens;
  private readonly adminAuth: PostgresAdminAuth;
  private readonly idempotency: PostgresIdempotency;
  private readonly bounces: PostgresBounces;
  private closed = false;

  /** Connects and brings the schema up to date (waiting while another node does). */
  static async open(options: PostgresStoreOptions & { create?: boolean }): Promise<PostgresStore> {
    const store = new PostgresStore(options);
    try {
      if (options.create === false && !(await hasSchema(store.pool))) throw new StoreMissing(`the database ${maskStoreUrl(options.url)} has no relay365 tables`);
      await migrate(store.pool);
    } catch (err) {
      await store.close();
      throw err;
    }
    return store;
  }

  private constructor(private readonly options: PostgresStoreOptions) {
    const connection = connectionOf(options);
    this.pool = createPool({ ...connection, max: options.connections });
    this.uploads = createPool({ ...connection, max: UPLOAD_CONNECTIONS, applicationName: `${connection.applicationName} uploads`, asyncCommit: true });
    this.accepts = new GroupCommit((items) => writeAccepts(this.pool, items));
    this.finishes = new GroupCommit((reports) => writeFinishes(this.pool, reports));
    this.queries = new PostgresQueries(this.pool);
    this.routes = new PostgresRoutes(this.pool);
    this.budgets = new PostgresBudgets(this.pool);
    this.connections = new PostgresConnectionSlots(this.pool);
    this.signIns = new PostgresSignInFailures(this.pool);
    this.nodeRows = new PostgresNodes(this.pool);
    this.tokens = new PostgresTokens(this.pool);
    this.adminAuth = new PostgresAdminAuth(this.pool);
    this.idempotency = new PostgresIdempotency(this.pool);
    this.bounces = new PostgresBounces(this.pool);
  }

  createBodyWriter(messageId: string): BodyWriter {
    return new PostgresBodyWriter(this.uploads, messageId, this.options.inlineLimit);
  }

  async accept(message: NewMessage, stored: StoredBody, lease?: Lease): Promise<ClaimedMessage> {
    const body = stored as ChunkedBody;
    try {
      await this.accepts.run({ message, body, ...(lease ? { lease } : {}) });
    } catch (err) {
      if (body.tailSeq > 0) await forgetUpload(this.uploads, message.id).catch(() => undefined); // maintenance removes it otherwise
      throw err;
    }
    return claimedFromNew(message, body.size);
  }

  openBody(messageId: string): Promise<Readable> {
    return openChunkedBody(this.pool, messageId);
  }

  async commitNotice(notice: Notice | null, marks: ReportMark[], now: number): Promise<void> {
    const body = notice?.body as ChunkedBody | undefined;
    try {
      await transaction(this.pool, async (client) => {
        if (notice && body) {
          await writeAccepts(client, [{ message: notice.message, body }]);
          await client.query(SQL.setKind, [notice.kind, notice.message.id, notice.about ?? null]);
        }
        if (marks.length) {
          const { rowCount } = await client.query(SQL.markReports, [now, marks.map((m) => m.messageId), marks.map((m) => m.idx), marks.map((m) => m.mark)]);
          // Fewer rows: another node reported some first (it waited for their locks), so this notice must not be sent too.
          if (rowCount !== marks.length) throw new NoticeRaced(marks[0] as ReportMark);
        }
      });
    } catch (err) {
      if (notice && body && body.tailSeq > 0) await forgetUpload(this.uploads, notice.message.id).catch(() => undefined);
      throw err;
    }
  }

  async oldestWaitingAt(): Promise<number | null> {
    const { rows } = await this.pool.query<{ at: number | null }>(SQL.oldestWaiting);
    return rows[0]?.at ?? null;
  }

  async dueReports(delayedBefore: number, limit: number): Promise<DueReport[]> {
    const { rows } = await this.pool.query<{ message_id: string; idx: number; state: RecipientState }>(SQL.selectDueReports, [delayedBefore, limit]);
    return rows.map((r) => ({ messageId: r.message_id, idx: r.idx, state: r.state }));
  }

  async claimDue(node: string, limit: number, now: number, leaseMs: number): Promise<ClaimedMessage[]> {
    const { rows } = await this.pool.query<ClaimRow>({ name: 'claim', text: SQL.claim, values: [now, limit, node, now + leaseMs] });
    return rows.map((row): ClaimedMessage => {
      const all = row.recipients ?? [];
      const pending = all.filter((r) => PENDING_RECIPIENT_STATES.includes(r.state));
      return {
        id: row.id,
        receivedAt: row.received_at,
        expiresAt: row.expires_at,
        mailFrom: row.mail_from,
        mailParams: params(row.mail_params),
        app: row.app,
        size: row.size,
        receivedHeader: row.received_header,
        attemptCount: row.attempt_count,
        recovered: row.recovered,
        recipients: pending.map((r) => ({ idx: r.idx, address: r.address, params: params(r.params), state: r.state })),
        otherRecipientStates: all.filter((r) => !PENDING_RECIPIENT_STATES.includes(r.state)).map((r) => r.state),
      };
    });
  }

  async releaseLeases(node: string, now: number): Promise<string[]> {
    return (await this.pool.query<{ id: string }>(SQL.releaseLeases, [now, node])).rows.map((r) => r.id);
  }

  async renewLeases(node: string, ids: string[], until: number): Promise<string[]> {
    const held = new Set((await this.pool.query<{ id: string }>({ name: 'renew', text: SQL.renewLeases, values: [until, ids, node] })).rows.map((r) => r.id));
    return ids.filter((id) => held.has(id));
  }

  finishAttempt(report: AttemptReport): Promise<void> {
    return this.finishes.run(report, false);
  }

  async nextWakeAt(): Promise<number | null> {
    const { rows } = await this.pool.query<{ due: number | null; lease: number | null }>({ name: 'next-wake', text: SQL.nextWake });
    const times = [rows[0]?.due ?? null, rows[0]?.lease ?? null].filter((t): t is number => t !== null);
    return times.length ? Math.min(...times) : null;
  }

  expire(now: number, reason: (lastError: string | null) => string): Promise<string[]> {
    return expire(this.pool, now, reason);
  }

  purge(before: number): Promise<number> {
    return purge(this.pool, before, Date.now());
  }

  act(messageId: string, action: Action, now: number, note?: string): Promise<ActionOutcome> {
    return act(this.pool, messageId, action, now, note);
  }

  releaseHeld(now: number, route?: string, limit?: number): Promise<number> {
    return releaseHeld(this.pool, now, route, limit);
  }

  routeStatuses(): Promise<RouteStatus[]> {
    return this.routes.statuses();
  }

  routeStatus(name: string): Promise<RouteStatus> {
    return this.routes.status(name);
  }

  setRouteState(name: string, state: RouteState, now: number, details: { reason?: string | null; fix?: string | null; probeAt?: number | null } = {}): Promise<void> {
    return this.routes.setState(name, state, now, details);
  }

  noteRouteResult(name: string, ok: boolean, now: number, error: string | null = null): Promise<void> {
    return this.routes.noteResult(name, ok, now, error);
  }

  claimProbe(name: string, now: number, nextProbeAt: number): Promise<boolean> {
    return this.routes.claimProbe(name, now, nextProbeAt);
  }

  reserveSend(key: string, recipients: number, now: number, limits: SendLimits): Promise<Reservation> {
    return this.budgets.reserve(key, recipients, now, limits);
  }

  settleSend(id: number, at: number): Promise<void> {
    return this.budgets.settle(id, at);
  }

  sendUsage(key: string, now: number, limits: SendLimits): Promise<SendUsage> {
    return this.budgets.usage(key, now, limits);
  }

  takeConnection(key: string, node: string, limit: number, now: number, aliveSince: number): Promise<number | null> {
    return this.connections.take(key, node, limit, now, aliveSince);
  }

  releaseConnection(key: string, slot: number, node: string): Promise<void> {
    return this.connections.release(key, slot, node);
  }

  releaseConnections(node: string): Promise<void> {
    return this.connections.releaseNode(node);
  }

  connectionsInUse(key: string, aliveSince: number): Promise<ConnectionInUse[]> {
    return this.connections.inUse(key, aliveSince);
  }

  wantConnection(key: string, node: string, now: number): Promise<void> {
    return this.connections.want(key, node, now);
  }

  connectionWanted(key: string, node: string, since: number): Promise<number> {
    return this.connections.wanted(key, node, since);
  }

  signInAttempt(attempt: SignInAttempt, now: number): Promise<SignInAdmission> {
    return this.signIns.attempt(attempt, now);
  }

  signInFailed(attempt: SignInAttempt, now: number): Promise<number | null> {
    return this.signIns.failed(attempt, now);
  }

  signInSucceeded(attempt: SignInAttempt, now: number): Promise<void> {
    return this.signIns.succeeded(attempt, now);
  }

  heartbeat(node: NodeInfo, now: number): Promise<void> {
    return this.nodeRows.heartbeat(node, now);
  }

  nodeStopped(name: string, now: number): Promise<void> {
    return this.nodeRows.stopped(name, now);
  }

  nodes(): Promise<NodeStatus[]> {
    return this.nodeRows.list();
  }

  accessToken(key: string): Promise<CachedAccessToken | null> {
    return this.tokens.accessToken(key);
  }

  refreshAccessToken(key: string, refresh: Parameters<AccessTokenCache['refreshAccessToken']>[1]): Promise<CachedAccessToken> {
    return this.tokens.refreshAccessToken(key, refresh);
  }

  forgetAccessToken(key: string, value: string): Promise<void> {
    return this.tokens.forgetAccessToken(key, value);
  }

  claimIdempotencyKey(request: IdempotencyRequest): Promise<IdempotencyClaim> {
    return this.idempotency.claim(request);
  }

  settleIdempotencyKey(key: string, answer: IdempotentAnswer): Promise<void> {
    return this.idempotency.settle(key, answer);
  }

  releaseIdempotencyKey(key: string): Promise<void> {
    return this.idempotency.release(key);
  }

  recipientsByMessageIdHeader(header: string): Promise<BounceTarget[]> {
    return this.bounces.recipientsByMessageIdHeader(header);
  }

  bounce(b: Bounce): Promise<BounceOutcome> {
    return this.bounces.bounce(b);
  }

  takeBounceTurn(route: string, node: string, now: number, leaseMs: number): Promise<{ watermark: string | null } | null> {
    return this.bounces.takeBounceTurn(route, node, now, leaseMs);
  }

  recordBounceRead(route: string, node: string, read: { watermark?: string; problem: string | null }): Promise<void> {
    return this.bounces.recordBounceRead(route, node, read);
  }

  bounceReaders(): Promise<BounceReader[]> {
    return this.bounces.bounceReaders();
  }

  async takeNotificationSlot(key: string, now: number, intervalMs: number): Promise<boolean> {
    const taken = await this.pool.query(TAKE_NOTIFICATION_SLOT, [key, now, now - intervalMs]);
    return taken.rowCount === 1;
  }

  loadTokenCache(route: string): Promise<StoredTokenCache | null> {
    return this.tokens.loadTokenCache(route);
  }

  saveTokenCache(route: string, data: string, expectedVersion: number | null, now: number): Promise<number | null> {
    return this.tokens.saveTokenCache(route, data, expectedVersion, now);
  }

  deleteTokenCache(route: string): Promise<void> {
    return this.tokens.deleteTokenCache(route);
  }

  createAdminSession(session: AdminSession, now: number): Promise<void> {
    return this.adminAuth.createSession(session, now);
  }

  adminSession(id: string, now: number): Promise<AdminSession | null> {
    return this.adminAuth.session(id, now);
  }

  deleteAdminSession(id: string): Promise<void> {
    return this.adminAuth.deleteSession(id);
  }

  createApiToken(token: NewApiToken): Promise<void> {
    return this.adminAuth.createToken(token);
  }

  apiTokens(): Promise<ApiToken[]> {
    return this.adminAuth.tokens();
  }

  useApiToken(hash: string, now: number): Promise<ApiToken | null> {
    return this.adminAuth.useToken(hash, now);
  }

  revokeApiToken(idOrName: string, now: number): Promise<boolean> {
    return this.adminAuth.revokeToken(idOrName, now);
  }

  activity(since: number, bucketMs: number): Promise<ActivityBucket[]> {
    return this.queries.activity(since, bucketMs);
  }

  list(query: ListQuery): Promise<MessageSummary[]> {
    return this.queries.list(query);
  }

  get(messageId: string): Promise<MessageDetail | null> {
    return this.queries.get(messageId);
  }

  countByState(): Promise<Record<State, number>> {
    return this.queries.countByState();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([this.pool.end(), this.uploads.end()]);
  }
}
