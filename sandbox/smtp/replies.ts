// Exchange Online's SMTP replies, word for word from shared/design/M365-FACTS.md.
//
// Each reply is written once here, with its enhanced status code as the start of its text; the
// connection sends that text as is and adds Microsoft's error trailer to 4xx/5xx replies. Replies
// the facts file does not list (protocol errors, unknown recipients) use Exchange's usual wording
// and are marked "not in the facts file" so nobody mistakes them for confirmed text.

export interface SmtpReply {
  readonly code: number;
  /** The text after the code, starting with the enhanced status code where there is one. */
  readonly text: string;
}

const reply = (code: number, text: string): SmtpReply => ({ code, text });

/** Success and protocol replies (facts: "Success replies", EHLO, STARTTLS, LOGIN prompts). */
export const OK = {
  startTls: reply(220, '2.0.0 SMTP server ready'),
  authenticated: reply(235, '2.7.0 Authentication successful'),
  sender: reply(250, '2.1.0 Sender OK'),
  recipient: reply(250, '2.1.5 Recipient OK'),
  startData: reply(354, 'Start mail input; end with <CRLF>.<CRLF>'),
  queued: (messageId: string, mailboxServer: string) => reply(250, `2.0.0 OK ${messageId} [Hostname=${mailboxServer}]`),
  closing: reply(221, '2.0.0 Service closing transmission channel'),
  loginUsername: reply(334, 'VXNlcm5hbWU6'),
  loginPassword: reply(334, 'UGFzc3dvcmQ6'),
  // Not in the facts file: Exchange's usual NOOP and RSET replies.
  noop: reply(250, '2.0.0 OK'),
  reset: reply(250, '2.0.0 Resetting'),
} as const;

/** The facts file's SMTP table, row by row. */
export const REFUSED = {
  invalidDomain: reply(501, '5.5.4 Invalid domain name'),
  unrecognizedAuth: reply(504, '5.7.4 Unrecognized authentication type'),
  authUnsuccessful: reply(535, '5.7.3 Authentication unsuccessful'),
  wrongPassword: reply(535, '5.7.139 Authentication unsuccessful, the user credentials were incorrect.'),
  smtpAuthDisabledTenant: reply(535, '5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information.'),
  smtpAuthDisabledMailbox: reply(535, '5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox. Visit https://aka.ms/smtp_auth_disabled for more information.'),
  basicAuthDisabled: reply(535, '5.7.139 Authentication unsuccessful, basic authentication is disabled.'),
  securityDefaults: reply(535, "5.7.139 Authentication unsuccessful, user is locked by your organization's security defaults policy. Contact your administrator."),
  conditionalAccess: reply(535, '5.7.139 Authentication unsuccessful, the request did not meet the criteria to be authenticated successfully. Contact your administrator.'),
  basicAuthRetired: reply(550, '5.7.30 Basic authentication is not supported for Client Submission.'),
  notAuthenticated: reply(530, '5.7.57 Client not authenticated to send mail.'),
  envelopeSendAs: reply(550, '5.7.60 SMTP; Client does not have permissions to send as this sender'),
  headerSendAs: (login: string, from: string) =>
    reply(
      554,
      `5.2.252 SendAsDenied; ${login} not allowed to send as ${from}; STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied; Failed to process message due to a permanent exception with message [BeginDiagnosticData]Cannot submit message.`,
    ),
  concurrentConnections: reply(432, '4.3.2 Concurrent connections limit exceeded.'),
  dailyRecipients: reply(554, '5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException'),
  mailboxFull: reply(554, '5.2.2 mailbox full; STOREDRV.Submission.Exception:QuotaExceededException.MapiExceptionShutoffQuotaExceeded'),
  messageTooLarge: reply(552, '5.3.4 Message size exceeds fixed maximum message size'),
  headerTooLarge: reply(552, '5.3.4 Header size exceeds fixed maximum size'),
  tooManyRecipients: reply(550, '5.5.3 RESOLVER.ADR.RecipLimit; too many recipients'),
  temporaryError: reply(451, '4.7.0 Temporary server error. Please try again later. PRX4'),
  serviceUnavailable: reply(421, '4.3.2 Service not available'),
  relayDenied: reply(550, '5.7.64 TenantAttribution; Relay Access Denied'),
  directSendRejected: reply(550, '5.7.68 TenantInboundAttribution; Direct Send not allowed for this organization from unauthorized sources'),
  /** Unconfirmed: the older documentation's "rejected, client retries" has no documented reply; this is on-premises Exchange's text for its message rate limit. */
  rateLimited: reply(421, '4.4.2 Message submission rate for this client has exceeded the configured limit'),
} as const;

/** Not in the facts file: Exchange's usual wording for protocol errors and unknown recipients. */
export const PROTOCOL = {
  unrecognizedCommand: (command: string) => reply(500, `5.3.3 Unrecognized command '${command}'`),
  helloFirst: reply(503, '5.5.2 Send hello first'),
  needMail: reply(503, '5.5.2 Need mail command'),
  needRcpt: reply(503, '5.5.2 Need rcpt command'),
  senderAlreadySpecified: reply(503, '5.5.2 Sender already specified'),
  alreadyAuthenticated: reply(503, '5.5.2 Already authenticated'),
  invalidSender: reply(501, '5.1.7 Invalid address'),
  invalidRecipient: reply(501, '5.1.3 Invalid address'),
  invalidArguments: reply(501, '5.5.4 Invalid arguments'),
  cannotDecode: reply(501, '5.5.2 Cannot Decode response'),
  authAborted: reply(501, '5.0.0 Authentication Aborted'),
  tooManyErrors: reply(421, '4.7.0 Too many errors on this connection, closing transmission channel'),
  timeout: reply(421, '4.4.1 Connection timed out'),
  /** Client submission: a recipient in an accepted domain without a mailbox (Microsoft accepts and sends an NDR). */
  recipientNotFound: reply(550, '5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup'),
  /** MX: Directory-Based Edge Blocking of an unknown recipient in an accepted domain. */
  recipientRejected: reply(550, '5.4.1 Recipient address rejected: Access denied. AS(201806281)'),
} as const;

/** An Error carrying a reply, for smtp-server's hook callbacks (`callback(replyError(...))`). */
export function replyError(r: SmtpReply): Error & { responseCode: number } {
  return Object.assign(new Error(r.text), { responseCode: r.code });
}

const ENHANCED = /^[245]\.\d{1,3}\.\d{1,3}(?: |$)/;

/** The enhanced status code a reply text starts with, e.g. '5.7.3'. */
export function enhancedCodeOf(text: string): string | undefined {
  return ENHANCED.exec(text)?.[0].trim();
}
