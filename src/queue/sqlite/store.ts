/**
 * The embedded store: SQLite in WAL mode with synchronous=FULL, so a commit is on disk
 * when it returns. Writes from the hot paths (accepting, finishing attempts) go through
 * GroupCommit; admin actions are rare and run in their own transactions. Routes, budgets,
 * connections and what nodes share are in shared-store.ts, on the same database.
 */
import { createReadStream, mkdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable } from 'node:stream';
import Database from 'better-sqlite3';
import { ACTIONS, PENDING_RECIPIENT_STATES, State, stateAfterAttempt, type Action, type RecipientState } from '../states.js';
import { SpoolWriter, spoolPath, type SpooledBody } from '../spool.js';
import { claimedFromNew } from '../claimed.js';
import { NoticeRaced } from '../store.js';
import type {
  ActivityBucket,
  AdminSession,
  ApiToken,
  NewApiToken,
  ActionOutcome,
  AttemptReport,
  BodyWriter,
  ClaimedMessage,
  DueReport,
  Lease,
  ListQuery,
  MessageDetail,
  MessageSummary,
  NewMessage,
  Notice,
  ReportMark,
  Store,
  StoredBody,
  IdempotencyClaim,
  IdempotencyRequest,
  IdempotentAnswer,
  Bounce,
  BounceOutcome,
  BounceReader,
  BounceTarget,
} from '../store.js';
import { GroupCommit } from './group-commit.js';
import { SqliteSharedStore } from './shared-store.js';
import { AdminAuthRows } from './admin-auth.js';
import { IdempotencyKeys } from './idempotency.js';
import { SqliteBounces } from './bounces.js';
import { SqliteQueries } from './queries.js';
import { migrate } from './migrations.js';
import { params, type MessageRow, type RecipientRow } from './rows.js';
import { SQL } from './sql.js';

/** Opens the database file (creating it and the spool folder) and brings its schema up to date. */
function openDatabase(options: SqliteStoreOptions): Database.Database {
  mkdirSync(dirname(options.path), { recursive: true });
  mkdirSync(options.spool, { recursive: true });
  const db = new Database(options.path, { timeout: 5000 });
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  migrate(db);
  return db;
}

export interface SqliteStoreOptions {
  path: string;
  spool: string;
  inlineLimit: number;
}

type Statements = { [K in keyof typeof SQL]: Database.Statement };

export class SqliteStore extends SqliteSharedStore implements Store {
  private readonly sql: Statements;
  private readonly commits: GroupCommit;
  private readonly adminAuth: AdminAuthRows;
  private readonly idempotency: IdempotencyKeys;
  private readonly bounces: SqliteBounces;
  private readonly queries: SqliteQueries;

  constructor(private readonly options: SqliteStoreOptions) {
    super(openDatabase(options));
    this.sql = Object.fromEntries(Object.entries(SQL).map(([name, text]) => [name, this.db.prepare(text)])) as Statements;
    this.commits = new GroupCommit(this.db);
    this.adminAuth = new AdminAuthRows(this.db);
    this.idempotency = new IdempotencyKeys(this.db);
    this.bounces = new SqliteBounces(this.db);
    this.queries = new SqliteQueries(this.db);
  }

  createBodyWriter(messageId: string): BodyWriter {
    return new SpoolWriter(spoolPath(this.options.spool, messageId), this.options.inlineLimit);
  }

  async accept(message: NewMessage, stored: StoredBody, lease?: Lease): Promise<ClaimedMessage> {
    const body = stored as SpooledBody;
    try {
      await this.commits.run(() => this.insertAccepted(message, body, lease));
    } catch (err) {
      if (body.file) await rm(body.file, { force: true });
      throw err;
    }
    return claimedFromNew(message, body.size);
  }

  private insertAccepted(message: NewMessage, body: SpooledBody, lease?: Lease): void {
    this.sql.insertMessage.run({
      id: message.id,
      received_at: message.receivedAt,
      listener: message.listener,
      client_address: message.clientAddress,
      client_helo: message.clientHelo,
      tls: message.tls,
      app: message.app,
      mail_from: message.mailFrom,
      mail_params: JSON.stringify(message.mailParams),
      size: body.size,
      sha256: body.sha256,
      body_file: body.file,
      received_header: message.receivedHeader,
      state: lease ? State.sending : State.queued,
      next_attempt_at: message.receivedAt,
      expires_at: message.expiresAt,
      lease_owner: lease?.node ?? null,
      lease_until: lease?.until ?? null,
      updated_at: message.receivedAt,
      message_id_header: message.messageIdHeader ?? null,
      subject: message.subject ?? null,
    });
    if (body.inline) this.sql.insertBody.run(message.id, body.inline);
    message.recipients.forEach((recipient, idx) =>
      this.sql.insertRecipient.run(message.id, idx, recipient.address, JSON.stringify(recipient.params), State.queued, message.receivedAt),
    );
  }

  async openBody(messageId: string): Promise<Readable> {
    const row = this.sql.selectBodyFile.get(messageId) as { body_file: string | null } | undefined;
    if (!row) throw new Error(`message ${messageId} is not in the store`);
    if (row.body_file) return createReadStream(row.body_file, { highWaterMark: 256 * 1024 });
    const inline = this.sql.selectBody.get(messageId) as { data: Buffer } | undefined;
    if (!inline) throw new Error(`message ${messageId} has no body in the store`);
    return Readable.from([inline.data]);
  }

  async commitNotice(notice: Notice | null, marks: ReportMark[], now: number): Promise<void> {
    const body = notice?.body as SpooledBody | undefined;
    try {
      await this.commits.run(() => {
        if (notice && body) {
          this.insertAccepted(notice.message, body);
          this.sql.setKind.run(notice.kind, notice.about ?? null, notice.message.id);
        }
        for (const m of marks) {
          // Marked already: another process reported it first, and this notice must not be sent too.
          if ((m.mark === 'final' ? this.sql.markReported : this.sql.markWarned).run(now, m.messageId, m.idx).changes === 0) throw new NoticeRaced(m);
        }
      });
    } catch (err) {
      if (body?.file) await rm(body.file, { force: true });
      throw err;
    }
  }

  async dueReports(delayedBefore: number, limit: number): Promise<DueReport[]> {
    const rows = this.sql.selectDueReports.all(delayedBefore, limit, limit) as { message_id: string; idx: number; state: RecipientState }[];
    return rows.map((r) => ({ messageId: r.message_id, idx: r.idx, state: r.state }));
  }

  async oldestWaitingAt(): Promise<number | null> {
    return (this.sql.oldestWaiting.get() as { at: number | null }).at;
  }

  async claimDue(node: string, limit: number, now: number, leaseMs: number): Promise<ClaimedMessage[]> {
    return this.db.transaction(() => {
      const due = this.sql.selectDue.all(now, limit) as MessageRow[];
      const recovered = due.length < limit ? (this.sql.selectExpiredLeases.all(now, limit - due.length) as MessageRow[]) : [];
      return [...due, ...recovered].map((row): ClaimedMessage => {
        this.sql.lease.run(node, now + leaseMs, now, row.id);
        const all = this.sql.selectRecipients.all(row.id) as RecipientRow[];
        const recipients = all.filter((r) => PENDING_RECIPIENT_STATES.includes(r.state));
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
          recovered: row.state === State.sending,
          recipients: recipients.map((r) => ({ idx: r.idx, address: r.address, params: params(r.params), state: r.state })),
          otherRecipientStates: all.filter((r) => !PENDING_RECIPIENT_STATES.includes(r.state)).map((r) => r.state),
        };
      });
    }).immediate();
  }

  async releaseLeases(node: string, now: number): Promise<string[]> {
    return (this.sql.releaseLeases.all(now, now, node) as { id: string }[]).map((r) => r.id);
  }

  async renewLeases(node: string, ids: string[], until: number): Promise<string[]> {
    return this.db.transaction(() => ids.filter((id) => this.sql.renewLease.run(until, id, node).changes > 0)).immediate();
  }

  async finishAttempt(report: AttemptReport): Promise<void> {
    const finishedAt = report.startedAt + report.durationMs;
    await this.commits.run(() => {
      // A message an admin deleted while it was being delivered has nothing left to update.
      const attempted = report.results.some((r) => r.attempted) ? 1 : 0;
      const finished = { id: report.messageId, state: report.state, next_attempt_at: report.nextAttemptAt, last_error: report.lastError, attempted, updated_at: finishedAt };
      if (this.sql.finishMessage.run(finished).changes === 0) return;
      for (const r of report.results) {
        const reply = { reply_code: r.reply?.code ?? null, reply_enhanced: r.reply?.enhanced ?? null, reply_text: r.reply?.text ?? null };
        if (r.attempted) this.sql.insertAttempt.run({
          message_id: report.messageId,
          attempt: report.attempt,
          recipient_idx: r.idx,
          started_at: report.startedAt,
          duration_ms: report.durationMs,
          node: report.node,
          route: r.route,
          transport: r.transport,
          verdict: r.verdict,
          ...reply,
          diagnosis: r.diagnosis,
          fix: r.fix,
        });
        this.sql.updateRecipient.run({
          message_id: report.messageId,
          idx: r.idx,
          state: r.state,
          route: r.route,
          retry_at: r.retryAt,
          ...reply,
          verdict: r.verdict,
          diagnosis: r.diagnosis,
          updated_at: finishedAt,
        });
      }
    }, false);
  }

  async nextWakeAt(): Promise<number | null> {
    const row = this.sql.nextWake.get() as { due: number | null; lease: number | null };
    const times = [row.due, row.lease].filter((t): t is number => t !== null);
    return times.length ? Math.min(...times) : null;
  }

  async expire(now: number, reason: (lastError: string | null) => string): Promise<string[]> {
    return this.db.transaction(() => {
      const rows = this.sql.selectExpired.all(now) as MessageRow[];
      for (const row of rows) {
        const text = reason(row.last_error);
        this.sql.expireRecipients.run(text, now, row.id);
        this.sql.setState.run(State.failed, null, text, now, row.id);
      }
      return rows.map((r) => r.id);
    }).immediate();
  }

  async purge(before: number): Promise<number> {
    this.purgeShared(before);
    const files = this.db.transaction(() => {
      const rows = this.sql.selectPurgeable.all(before) as { id: string; body_file: string | null }[];
      for (const row of rows) this.sql.deleteMessage.run(row.id);
      return rows;
    }).immediate();
    await Promise.all(files.filter((f) => f.body_file).map((f) => rm(f.body_file as string, { force: true })));
    return files.length;
  }

  async act(messageId: string, action: Action, now: number, note?: string): Promise<ActionOutcome> {
    const rule = ACTIONS[action];
    const outcome = this.db.transaction((): ActionOutcome & { file?: string | null } => {
      const row = this.sql.selectMessage.get(messageId) as MessageRow | undefined;
      if (!row) return { ok: false, reason: 'not-found' };
      if (!(rule.from as readonly State[]).includes(row.state)) return { ok: false, reason: 'wrong-state', state: row.state };
      if (rule.to === null) {
        this.sql.deleteMessage.run(messageId);
        return { ok: true, state: null, file: row.body_file };
      }
      const recipientRule = rule.recipients;
      const recipients = (this.sql.selectRecipients.all(messageId) as RecipientRow[]).map((r) => {
        if (recipientRule.to === null || !(recipientRule.from as readonly RecipientState[]).includes(r.state)) return r.state;
        this.sql.moveRecipient.run(recipientRule.to, note ?? null, now, messageId, r.idx);
        return recipientRule.to;
      });
      const state = action === 'requeue' ? State.queued : stateAfterAttempt(recipients, true);
      const due = state === State.queued ? now : null;
      this.sql.setState.run(state, due, note ?? row.last_error, now, messageId);
      return { ok: true, state };
    }).immediate();
    if (outcome.ok && outcome.file) await rm(outcome.file, { force: true });
    if (outcome.ok) return { ok: true, state: outcome.state };
    return outcome;
  }

  async releaseHeld(now: number, route?: string, limit = -1): Promise<number> {
    const ids = (route === undefined ? this.sql.selectHeld.all(limit) : this.sql.selectHeldOnRoute.all(route, limit)) as { id: string }[];
    let released = 0;
    for (const { id } of ids) if ((await this.act(id, 'release', now)).ok) released++;
    return released;
  }

  async claimIdempotencyKey(request: IdempotencyRequest): Promise<IdempotencyClaim> {
    return this.idempotency.claim(request);
  }

  async settleIdempotencyKey(key: string, answer: IdempotentAnswer): Promise<void> {
    this.idempotency.settle(key, answer);
  }

  async releaseIdempotencyKey(key: string): Promise<void> {
    this.idempotency.release(key);
  }

  async takeNotificationSlot(key: string, now: number, intervalMs: number): Promise<boolean> {
    return this.db.prepare(TAKE_NOTIFICATION_SLOT).run(key, now, now - intervalMs).changes === 1;
  }

  async createAdminSession(session: AdminSession, now: number): Promise<void> {
    this.adminAuth.createSession(session, now);
  }

  async adminSession(id: string, now: number): Promise<AdminSession | null> {
    return this.adminAuth.session(id, now);
  }

  async deleteAdminSession(id: string): Promise<void> {
    this.adminAuth.deleteSession(id);
  }

  async createApiToken(token: NewApiToken): Promise<void> {
    this.adminAuth.createToken(token);
  }

  async apiTokens(): Promise<ApiToken[]> {
    return this.adminAuth.tokens();
  }

  async useApiToken(hash: string, now: number): Promise<ApiToken | null> {
    return this.adminAuth.useToken(hash, now);
  }

  async revokeApiToken(idOrName: string, now: number): Promise<boolean> {
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
    if (this.db.open) this.db.close();
  }

  async recipientsByMessageIdHeader(header: string): Promise<BounceTarget[]> {
    return this.bounces.recipientsByMessageIdHeader(header);
  }

  async bounce(b: Bounce): Promise<BounceOutcome> {
    return this.bounces.bounce(b);
  }

  async takeBounceTurn(route: string, node: string, now: number, leaseMs: number): Promise<{ watermark: string | null } | null> {
    return this.bounces.takeBounceTurn(route, node, now, leaseMs);
  }

  async recordBounceRead(route: string, node: string, read: { watermark?: string; problem: string | null }): Promise<void> {
    this.bounces.recordBounceRead(route, node, read);
  }

  async bounceReaders(): Promise<BounceReader[]> {
    return this.bounces.bounceReaders();
  }
}

/** Taken when no send of the key is on record since the third parameter (now minus the interval). */
const TAKE_NOTIFICATION_SLOT = `INSERT INTO notification_slots (key, sent_at) VALUES (?, ?)
  ON CONFLICT (key) DO UPDATE SET sent_at = excluded.sent_at WHERE notification_slots.sent_at <= ?`;

