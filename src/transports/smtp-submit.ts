/**
 * One SMTP submission through a nodemailer pool, with each recipient's own outcome — the
 * part every SMTP transport shares (smarthost, and Exchange Online's submission, Direct
 * Send and connector routes). What a failure means is the caller's `explain`.
 */
import type { Readable } from 'node:stream';
import type { Mail } from 'nodemailer';
import { outcomeFromReply, parseReply, type SmtpError } from './smtp-reply.js';
import type { DeliveryResult, Outcome } from './transport.js';

export interface Submission {
  envelopeFrom: string;
  recipients: { idx: number; address: string }[];
  openMessage(): Promise<Readable>;
}

/** How a failure is explained; `recipient` is set for refusals of one recipient (RCPT). */
export type Explain = (err: SmtpError, recipient?: string) => Outcome;

export interface SubmissionResult {
  result: DeliveryResult;
  /** The error that stopped the whole submission (connection, AUTH, MAIL, DATA), if any. */
  failure: SmtpError | null;
}

/** Sends one message to its recipients; every recipient gets its own outcome. */
export async function submit(mailer: Mail, submission: Submission, who: string, explain: Explain): Promise<SubmissionResult> {
  const first = await submitOnce(mailer, submission, who, explain);
  // A pooled connection the server closed while idle (Exchange Online ends idle sessions, a 421
  // ends a reused one) fails before the message went out: nodemailer would requeue it, but it
  // cannot with a stream, so it reports this error instead and the message goes once more, from
  // a fresh stream, over a new connection.
  if (first.failure?.code === 'ECONNECTION' && /maximum number of retries after connection was closed/.test(first.failure.message)) return submitOnce(mailer, submission, who, explain);
  return first;
}

async function submitOnce(mailer: Mail, submission: Submission, who: string, explain: Explain): Promise<SubmissionResult> {
  const byAddress = new Map(submission.recipients.map((r) => [r.address, r.idx]));
  const raw = await submission.openMessage();
  try {
    const info = await mailer.sendMail({ envelope: { from: submission.envelopeFrom, to: submission.recipients.map((r) => r.address) }, raw });
    const accepted = outcomeFromReply(parseReply(String(info.response ?? '250')), who);
    const result: DeliveryResult = new Map(submission.recipients.map((r) => [r.idx, accepted]));
    for (const err of (info as { rejectedErrors?: SmtpError[] }).rejectedErrors ?? []) {
      const idx = err.recipient === undefined ? undefined : byAddress.get(err.recipient);
      if (idx !== undefined) result.set(idx, explain(err, err.recipient));
    }
    return { result, failure: null };
  } catch (error) {
    const err = error as SmtpError;
    const result: DeliveryResult = new Map();
    // Every recipient refused at RCPT: each keeps its own reply.
    for (const rejected of err.rejectedErrors ?? []) {
      const idx = rejected.recipient === undefined ? undefined : byAddress.get(rejected.recipient);
      if (idx !== undefined) result.set(idx, explain(rejected, rejected.recipient));
    }
    const whole = err.rejectedErrors?.length ? null : err;
    for (const r of submission.recipients) if (!result.has(r.idx)) result.set(r.idx, explain(err));
    return { result, failure: whole };
  } finally {
    // A message never read (the session failed before DATA) must not keep its file open.
    raw.destroy();
  }
}

