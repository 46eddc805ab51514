/**
 * Reading SMTP replies and nodemailer's errors: the reply code, the enhanced status
 * code (RFC 3463) and the text, and the general meaning of each class. Transports that
 * know their upstream (Microsoft 365) refine these verdicts; this is the floor.
 */
import type { UpstreamReply } from '../queue/store.js';
import { outcome, type Outcome } from './transport.js';

const REPLY = /^(\d{3})[ -](?:([245]\.\d{1,3}\.\d{1,3})\s+)?([\s\S]*)$/;

export function parseReply(response: string): UpstreamReply {
  const lines = response.trim().split(/\r?\n/);
  const first = REPLY.exec(lines[0] ?? '');
  if (!first) return { code: null, enhanced: null, text: response.trim() };
  // Continuation lines repeat the code and enhanced code; keep only their text.
  const rest = lines.slice(1).map((line) => REPLY.exec(line)?.[3] ?? line);
  return { code: Number(first[1]), enhanced: first[2] ?? null, text: [first[3] ?? '', ...rest].join(' ').trim() };
}

export const formatReply = (reply: UpstreamReply): string =>
  [reply.code, reply.enhanced, reply.text].filter((part) => part !== null && part !== '').join(' ');

/** The verdict an SMTP reply code carries on its own: 2xx delivered, 4xx try again, 5xx refused. */
export function outcomeFromReply(reply: UpstreamReply, who: string): Outcome {
  const code = reply.code ?? 0;
  if (code >= 200 && code < 300) return outcome('delivered', `${who} accepted the message.`, { reply });
  if (code >= 400 && code < 500) {
    return outcome('transient', `${who} asked to try again later: ${formatReply(reply)}`, { reply });
  }
  return outcome('permanent', `${who} refused it: ${formatReply(reply)}`, { reply });
}

/** The shape of a nodemailer error, as far as relay365 reads it. */
export interface SmtpError extends Error {
  code?: string;
  originalCode?: string;
  response?: string;
  responseCode?: number;
  command?: string;
  rejectedErrors?: SmtpError[];
  recipient?: string;
}
