/**
 * Finds the recipients whose senders are owed a DSN — failed for good (an upstream refusal,
 * expiry, or bounced: refused after delivery in Microsoft's report), still waiting after
 * notify.dsn.delayWarning, or delivered with NOTIFY=SUCCESS — and writes one DSN per message
 * into the queue.
 *
 * Why a sweep over the store rather than a call at the moment a recipient fails: a final state
 * is written in several places (a finished attempt, expiry in maintenance, on either store),
 * and the DSN has to survive a crash at any point. The store keeps a `reported` mark per
 * recipient, and Store.commitNotice commits the DSN and the marks in one transaction: a crash
 * before that commit leaves the recipients due (the next sweep writes the DSN again), a crash
 * after it leaves them marked (never a second DSN). Two nodes sweeping at once cannot both
 * commit: the second finds the marks set and its transaction is rolled back.
 */
import { PassThrough, type Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { own } from '../config/own.js';
import { formatReply } from '../transports/smtp-reply.js';
import { NoticeRaced, type MessageDetail, type RecipientDetail, type ReportMark, type Store } from '../queue/store.js';
import { composeDsn, decodeXtext, type DsnAction, type DsnRecipient } from './dsn.js';
import { commitNotice, postmasterFor } from './notice.js';

const BATCH = 200;
/** The original's header block is read at most this far (headers only go into a DSN by default). */
const MAX_HEADERS = 256 * 1024;
/**
 * RET=FULL returns the whole original only up to this size; beyond it, its headers (as
 * Postfix's bounce_size_limit does): a DSN must not be refused for its size where the
 * original was delivered to us, nor fill the sender's mailbox twice.
 */
const FULL_RETURN_LIMIT = 10 * 1024 * 1024;

export interface DsnSweepDeps {
  store: Store;
  config: Config;
  node: string;
  log: Logger;
}

export class DsnSweep {
  constructor(private readonly deps: DsnSweepDeps) {}

  /** Reports what is due; returns how many DSNs were queued. */
  async run(now: number): Promise<number> {
    const { delayWarning } = this.deps.config.notify.dsn;
    const due = await this.deps.store.dueReports(delayWarning > 0 ? now - delayWarning : -1, BATCH);
    const byMessage = new Map<string, number[]>();
    for (const d of due) byMessage.set(d.messageId, [...(byMessage.get(d.messageId) ?? []), d.idx]);
    let queued = 0;
    for (const [id, idxs] of byMessage) {
      try {
        if (await this.report(id, idxs, now)) queued++;
      } catch (err) {
        if (err instanceof NoticeRaced) this.deps.log.debug({ msgId: id }, 'another node wrote this DSN first');
        else this.deps.log.error({ err, msgId: id }, 'could not write the DSN for this message; trying again at the next sweep');
      }
    }
    return queued;
  }

  private async report(id: string, idxs: number[], now: number): Promise<boolean> {
    const { store, config, log } = this.deps;
    const message = await store.get(id);
    if (!message) return false;
    const marks: ReportMark[] = [];
    const reported: DsnRecipient[] = [];
    for (const r of message.recipientDetails.filter((x) => idxs.includes(x.idx))) {
      const action: DsnAction = r.state === 'failed' || r.state === 'bounced' ? 'failed' : r.state === 'delivered' ? 'relayed' : 'delayed';
      marks.push({ messageId: id, idx: r.idx, mark: action === 'delayed' ? 'delay' : 'final' });
      if (wants(r, action)) reported.push(describe(message, r, action, now));
    }
    const to = target(message, config);
    if (!config.notify.dsn.enabled || !to || !reported.length) {
      await store.commitNotice(null, marks, now);
      return false;
    }
    const ret = String(message.mailParams.RET ?? 'HDRS').toUpperCase();
    const headers = await readHeaders(await store.openBody(id));
    const full = ret === 'FULL' && message.size <= FULL_RETURN_LIMIT ? await openFull(store, message) : null;
    const envid = typeof message.mailParams.ENVID === 'string' ? decodeXtext(message.mailParams.ENVID) : null;
    const mime = composeDsn({
      reportingMta: this.deps.node,
      from: postmasterFor(config, this.deps.node, message.recipientDetails.find((r) => idxs.includes(r.idx) && r.route)?.route ?? null),
      to,
      original: { id, mailFrom: message.mailFrom, receivedAt: message.receivedAt, envid, subject: subjectOf(headers), headers, full },
      recipients: reported,
    });
    const dsnId = await commitNotice(
      store,
      { kind: 'dsn', mailFrom: '', to: [to], app: message.app, node: this.deps.node, lifetimeMs: config.delivery.lifetime, about: id, subject: String(mime.getHeader('subject')) },
      mime.createReadStream(),
      marks,
    );
    log.info({ msgId: id, dsn: dsnId, to, actions: [...new Set(reported.map((r) => r.action))] }, 'DSN queued for the sender');
    return true;
  }
}

/** Where the DSN goes: nowhere for a null sender or relay365's own mail; else as apps.<app>.dsn says. */
function target(message: MessageDetail, config: Config): string | null {
  if (message.mailFrom === '' || message.kind !== 'normal') return null;
  const setting = message.app ? (own(config.apps, message.app)?.dsn ?? 'sender') : 'sender';
  if (setting === 'none') return null;
  return setting === 'sender' ? message.mailFrom : setting;
}

/** NOTIFY (RFC 3461 §4.1): absent means FAILURE and DELAY; NEVER means nothing. */
function wants(r: RecipientDetail, action: DsnAction): boolean {
  const notify = typeof r.params.NOTIFY === 'string' ? r.params.NOTIFY.toUpperCase().split(',') : null;
  if (!notify) return action !== 'relayed';
  return notify.includes(action === 'failed' ? 'FAILURE' : action === 'delayed' ? 'DELAY' : 'SUCCESS');
}

function describe(message: MessageDetail, r: RecipientDetail, action: DsnAction, now: number): DsnRecipient {
  const attempts = message.attempts.filter((a) => a.recipientIdx === r.idx);
  const last = attempts.at(-1);
  // A failure that no upstream refusal explains is the message outliving delivery.lifetime.
  const expired = r.state === 'failed' && last?.verdict !== 'permanent';
  // Bounced: accepted (the last attempt), then refused in Microsoft's report, whose words and fix are the recipient's own.
  const bounced = r.state === 'bounced';
  const orcpt = typeof r.params.ORCPT === 'string' ? decodeXtext(r.params.ORCPT).replace(/^([^;]+);\s*/, '$1; ') : null;
  return {
    address: r.address,
    originalRecipient: orcpt,
    action,
    status: statusOf(r, action, expired),
    upstream: r.reply ? formatReply(r.reply) : null,
    upstreamIsSmtp: bounced || last?.transport !== 'graph', // Graph answers in HTTP and JSON, every other transport (and every report) in SMTP
    upstreamName: last?.transport === 'smarthost' ? 'The upstream server' : 'Microsoft 365',
    diagnosis: r.diagnosis,
    fix: bounced ? null : (last?.fix ?? null),
    lastAttemptAt: last ? last.startedAt : null,
    willRetryUntil: action === 'delayed' ? Math.max(message.expiresAt, now) : null,
  };
}

function statusOf(r: RecipientDetail, action: DsnAction, expired: boolean): string {
  const given = r.reply?.enhanced ?? null;
  if (action === 'relayed') return '2.0.0';
  if (action === 'delayed') return given?.startsWith('4.') ? given : '4.0.0';
  if (expired) return '5.4.7'; // RFC 3463: delivery time expired
  return given?.startsWith('5.') ? given : '5.0.0';
}

async function readHeaders(body: Readable): Promise<string> {
  let text = '';
  try {
    for await (const chunk of body) {
      text += (chunk as Buffer).toString('latin1');
      const end = text.search(/\r?\n\r?\n/);
      if (end >= 0) return text.slice(0, end) + '\r\n';
      if (text.length > MAX_HEADERS) break;
    }
  } finally {
    body.destroy();
  }
  return text.slice(0, MAX_HEADERS);
}

/** The original as it was received: this relay's Received header, then the stored body. */
async function openFull(store: Store, message: MessageDetail): Promise<Readable> {
  const body = await store.openBody(message.id);
  const out = new PassThrough();
  out.write(message.receivedHeader);
  body.on('error', (err) => out.destroy(err));
  body.pipe(out);
  return out;
}

function subjectOf(headers: string): string | null {
  const m = /^Subject:[ \t]*(.*(?:\r?\n[ \t].*)*)/im.exec(headers);
  return m ? (m[1] as string).replace(/\r?\n[ \t]+/g, ' ').trim().slice(0, 200) : null;
}
