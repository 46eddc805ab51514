/** Rows as SQLite returns them, and their mapping to the store's types. */
import type { AttemptDetail, MailParams, MessageDetail, MessageKind, MessageSummary, RecipientDetail, UpstreamReply } from '../store.js';
import type { RecipientState, State, Verdict } from '../states.js';

export interface MessageRow {
  id: string;
  received_at: number;
  listener: string;
  client_address: string;
  client_helo: string | null;
  tls: string | null;
  app: string | null;
  mail_from: string;
  mail_params: string;
  size: number;
  sha256: string;
  body_file: string | null;
  received_header: string;
  state: State;
  next_attempt_at: number | null;
  expires_at: number;
  lease_owner: string | null;
  lease_until: number | null;
  attempt_count: number;
  last_error: string | null;
  updated_at: number;
  kind: MessageKind;
  message_id_header: string | null;
  subject: string | null;
  about: string | null;
}

export interface NoticeRow {
  id: string;
  kind: MessageKind;
  state: State;
  received_at: number;
}

export interface RecipientRow {
  message_id: string;
  idx: number;
  address: string;
  params: string;
  state: RecipientState;
  route: string | null;
  retry_at: number | null;
  reply_code: number | null;
  reply_enhanced: string | null;
  reply_text: string | null;
  verdict: Verdict | null;
  diagnosis: string | null;
  bounced_at: number | null;
  updated_at: number;
}

export interface AttemptRow {
  attempt: number;
  recipient_idx: number;
  started_at: number;
  duration_ms: number;
  node: string;
  route: string;
  transport: string;
  verdict: Verdict;
  reply_code: number | null;
  reply_enhanced: string | null;
  reply_text: string | null;
  diagnosis: string | null;
  fix: string | null;
}

export const params = (json: string): MailParams => JSON.parse(json) as MailParams;

const reply = (code: number | null, enhanced: string | null, text: string | null): UpstreamReply | null =>
  text === null && code === null ? null : { code, enhanced, text: text ?? '' };

export function toSummary(row: MessageRow, recipients: string[]): MessageSummary {
  return {
    id: row.id,
    receivedAt: row.received_at,
    updatedAt: row.updated_at,
    state: row.state,
    kind: row.kind,
    mailFrom: row.mail_from,
    recipients,
    size: row.size,
    app: row.app,
    clientAddress: row.client_address,
    attemptCount: row.attempt_count,
    nextAttemptAt: row.next_attempt_at,
    lastError: row.last_error,
    subject: row.subject,
  };
}

export function toDetail(row: MessageRow, recipients: RecipientRow[], attempts: AttemptRow[], notices: NoticeRow[]): MessageDetail {
  return {
    ...toSummary(
      row,
      recipients.map((r) => r.address),
    ),
    messageIdHeader: row.message_id_header ?? null,
    listener: row.listener,
    clientHelo: row.client_helo,
    tls: row.tls,
    mailParams: params(row.mail_params),
    sha256: row.sha256,
    expiresAt: row.expires_at,
    leaseOwner: row.lease_owner,
    leaseUntil: row.lease_until,
    receivedHeader: row.received_header,
    recipientDetails: recipients.map(
      (r): RecipientDetail => ({
        idx: r.idx,
        address: r.address,
        params: params(r.params),
        state: r.state,
        route: r.route,
        retryAt: r.retry_at,
        reply: reply(r.reply_code, r.reply_enhanced, r.reply_text),
        verdict: r.verdict,
        diagnosis: r.diagnosis,
        bouncedAt: r.bounced_at === null || r.bounced_at === undefined ? null : Number(r.bounced_at),
        updatedAt: r.updated_at,
      }),
    ),
    attempts: attempts.map(
      (a): AttemptDetail => ({
        attempt: a.attempt,
        recipientIdx: a.recipient_idx,
        startedAt: a.started_at,
        durationMs: a.duration_ms,
        node: a.node,
        route: a.route,
        transport: a.transport,
        verdict: a.verdict,
        reply: reply(a.reply_code, a.reply_enhanced, a.reply_text),
        diagnosis: a.diagnosis,
        fix: a.fix,
      }),
    ),
    about: row.about,
    notices: notices.map((n) => ({ id: n.id, kind: n.kind, state: n.state, receivedAt: n.received_at })),
  };
}
