// Turns the replies smtp-server writes itself into Exchange Online's.
//
// smtp-server parses the protocol and answers the commands the sandbox has no hook for (QUIT,
// NOOP, bad syntax, commands out of order) in its own words. Those words are mapped here to
// Microsoft's, exactly; a text starting with an enhanced status code is the sandbox's own
// (replies.ts) and is sent as is. If an smtp-server update rewords a reply, the byte-for-byte
// tests (test/sandbox/smtp-protocol.test.ts) fail rather than the sandbox silently drifting.
import { OK, PROTOCOL, REFUSED, enhancedCodeOf, type SmtpReply } from './replies.js';
import type { SessionState } from './session.js';

type Shaper = SmtpReply | ((state: SessionState) => SmtpReply);

const unrecognized = (state: SessionState) => PROTOCOL.unrecognizedCommand(state.command.split(' ')[0] ?? '');

/** smtp-server's reply text → Exchange's reply. */
const SMTP_SERVER_WORDING: ReadonlyMap<string, Shaper> = new Map<string, Shaper>([
  ['Bye', OK.closing],
  ['Ready to start TLS', OK.startTls],
  ['End data with <CR><LF>.<CR><LF>', OK.startData],
  ['Authentication successful', OK.authenticated],
  ['OK', OK.noop],
  ['Flushed', OK.reset],
  ['Error: send HELO/EHLO first', PROTOCOL.helloFirst],
  ['Error: need MAIL command', PROTOCOL.needMail],
  ['Error: need RCPT command', PROTOCOL.needRcpt],
  ['Error: nested MAIL command', PROTOCOL.senderAlreadySpecified],
  ['Error: No identity changes permitted', PROTOCOL.alreadyAuthenticated],
  ['Error: Bad sender address syntax', PROTOCOL.invalidSender],
  ['Error: Bad recipient address syntax', PROTOCOL.invalidRecipient],
  // A malformed XOAUTH2 blob is just a failed sign-in to Exchange; a LOGIN line that is not base64 cannot be decoded.
  ['Error: invalid userdata', (s) => (s.authMechanism === 'XOAUTH2' ? REFUSED.authUnsuccessful : PROTOCOL.cannotDecode)],
  ['Error: missing username', PROTOCOL.cannotDecode],
  ['Authentication aborted', PROTOCOL.authAborted],
  ['Error: command not recognized', unrecognized],
  // STARTTLS is not offered once TLS is up, so Exchange treats it like any unknown command.
  ['Error: TLS already active', unrecognized],
  ['Error: too many unrecognized commands', PROTOCOL.tooManyErrors],
  ['Timeout - closing connection', PROTOCOL.timeout],
  ['Server shutting down', REFUSED.serviceUnavailable],
]);

/**
 * The reply to send for smtp-server's `send(code, text, context)`. `enhancedFor` is smtp-server's
 * own choice of enhanced code, used only for texts neither the sandbox nor the table knows.
 */
export function shapeReply(code: number, text: string, context: string | false | undefined, state: SessionState, enhancedFor: (code: number) => string): SmtpReply {
  if (context === false || code === 334 || enhancedCodeOf(text) !== undefined) return { code, text };
  if (text === 'Accepted') return context === 'MAIL_FROM_OK' ? OK.sender : OK.recipient;
  const known = SMTP_SERVER_WORDING.get(text) ?? (text.startsWith('Error: syntax:') || text.startsWith('Error: Syntax:') ? PROTOCOL.invalidArguments : undefined);
  if (known) return typeof known === 'function' ? known(state) : known;
  const enhanced = enhancedFor(code);
  return { code, text: enhanced ? `${enhanced} ${text.replace(/^Error: /, '')}` : text };
}
