// What the sandbox's SMTP servers can be told: where to listen, and Exchange Online's sending
// limits (Microsoft's values by default; tests lower them to reach a limit in a few messages).
import type { ResolvedSandboxOptions } from '../options.js';

/**
 * What happens to the 31st message in a minute. Microsoft's current documentation: the service
 * accepts it and delays its delivery ('delay'). Older documentation said it was rejected and the
 * client retried ('reject'); Microsoft never documented that reply, so the sandbox's is unconfirmed.
 */
export type RateLimitBehaviour = 'delay' | 'reject';

export interface SubmissionLimits {
  /** Authenticated connections one mailbox may hold open at once (432 4.3.2 beyond). */
  concurrentConnectionsPerMailbox: number;
  /** Messages per mailbox per minute before `rateLimitBehaviour` applies. */
  messagesPerMinute: number;
  /** The length of that "minute" (60 s; tests shorten it, as they shorten the relay's pacing window). */
  minuteMs: number;
  rateLimitBehaviour: RateLimitBehaviour;
  /** Recipients per mailbox per rolling 24 hours (554 5.2.0 beyond). */
  recipientsPerDay: number;
  /** Recipients per message (550 5.5.3 beyond). */
  recipientsPerMessage: number;
  /** Bytes of a message's header block (552 5.3.4 beyond). */
  maxHeaderBytes: number;
}

export interface SmtpOptions {
  /** Listening address; default: the sandbox's `host`. */
  host?: string;
  /** Client submission (smtp.office365.com:587). Default 5587, or 0 (a free port) when `httpsPort` is 0. */
  submissionPort?: number;
  /** MX (<tenant>.mail.protection.outlook.com:25). Default 5025, or 0 when `httpsPort` is 0. */
  mxPort?: number;
  /** Exchange Online's sending limits; Microsoft's values unless given. */
  limits?: Partial<SubmissionLimits>;
  /** TLS as Microsoft would never offer it, for relay365 doctor's tests (both endpoints); see tls-faults.ts. */
  tls?: TlsFaults;
}

export interface TlsFaults {
  /** The highest TLS version offered: below TLSv1.2 is what an old middlebox or a wrong host gives. */
  maxVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  /** A server certificate for another name (wrong-name) or one that has run out (expired). */
  certificate?: 'wrong-name' | 'expired';
}

export const DEFAULT_SUBMISSION_PORT = 5587;
export const DEFAULT_MX_PORT = 5025;

/** Exchange Online's limits, from the facts file ("Sending limits"). */
export const EXCHANGE_ONLINE_LIMITS: SubmissionLimits = {
  concurrentConnectionsPerMailbox: 3,
  messagesPerMinute: 30,
  minuteMs: 60_000,
  rateLimitBehaviour: 'delay',
  recipientsPerDay: 10_000,
  recipientsPerMessage: 500,
  maxHeaderBytes: 256 * 1024,
};

/** The SIZE both endpoints advertise (150 MB, Exchange Online's largest settable message size). */
export const ADVERTISED_SIZE = 157_286_400;

export interface SmtpSettings {
  host: string;
  submissionPort: number;
  mxPort: number;
  limits: SubmissionLimits;
  tls: TlsFaults;
}

/**
 * A sandbox asked for a free HTTPS port (tests, several at once) gets free SMTP ports too, so two
 * sandboxes never fight over 5587; the CLI and `startSandbox()` get the fixed, documented ports.
 */
export function smtpSettingsOf(options: ResolvedSandboxOptions): SmtpSettings {
  const smtp = options.smtp;
  const freePorts = options.httpsPort === 0;
  return {
    host: smtp.host ?? options.host,
    submissionPort: smtp.submissionPort ?? (freePorts ? 0 : DEFAULT_SUBMISSION_PORT),
    mxPort: smtp.mxPort ?? (freePorts ? 0 : DEFAULT_MX_PORT),
    limits: { ...EXCHANGE_ONLINE_LIMITS, ...smtp.limits },
    tls: smtp.tls ?? {},
  };
}
