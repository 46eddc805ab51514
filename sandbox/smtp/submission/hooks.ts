// Client submission's policy before DATA: signing in, the envelope sender, the recipients.
import type { SMTPServerAddress, SMTPServerAuthentication, SMTPServerAuthenticationResponse, SMTPServerSession } from 'smtp-server';
import type { SandboxContext } from '../../context.js';
import { findMailbox, isAcceptedDomain } from '../../tenant/accessors.js';
import { PROTOCOL, REFUSED, replyError, type SmtpReply } from '../replies.js';
import type { MicrosoftSmtpServer } from '../server.js';
import { ADVERTISED_SIZE } from '../settings.js';
import type { SendingLimits } from './limits.js';
import { maySendAs } from './send-as.js';
import { signInWithPassword, signInWithToken, type SignIn } from './sign-in.js';

type Done = (err?: Error | null) => void;

export class SubmissionHooks {
  constructor(
    private readonly ctx: SandboxContext,
    private readonly limits: SendingLimits,
    private readonly server: () => MicrosoftSmtpServer,
  ) {}

  onAuth(auth: SMTPServerAuthentication, session: SMTPServerSession, callback: (err: Error | null | undefined, response?: SMTPServerAuthenticationResponse) => void): void {
    const connection = this.server().connectionOf(session);
    const attempt: Promise<SignIn> =
      auth.method === 'XOAUTH2'
        ? signInWithToken(this.ctx, auth.username ?? '', auth.accessToken ?? '')
        : Promise.resolve(signInWithPassword(this.ctx, auth.username ?? '', auth.password ?? ''));
    attempt.then(
      (result) => {
        if (!result.ok) {
          connection.state.reason = result.reason;
          return callback(replyError(result.reply));
        }
        const open = this.limits.openSession(result.login.mailbox, connection.state.id);
        if (open === null) {
          connection.state.reason = `${result.login.mailbox} already has ${this.limits.limits.concurrentConnectionsPerMailbox} signed-in connections`;
          return callback(replyError(REFUSED.concurrentConnections));
        }
        connection.state.detail = { signedInConnections: open };
        connection.state.login = result.login;
        callback(null, { user: result.login.mailbox });
      },
      (e: unknown) => {
        connection.state.reason = `sign-in failed inside the sandbox: ${(e as Error).message}`;
        callback(replyError(REFUSED.temporaryError));
      },
    );
  }

  onMailFrom(address: SMTPServerAddress, session: SMTPServerSession, callback: Done): void {
    const connection = this.server().connectionOf(session);
    const login = connection.state.login;
    const t = this.ctx.tenant.current;
    const refuse = (r: SmtpReply, reason: string) => {
      connection.state.reason = reason;
      callback(replyError(r));
    };
    if (!login) return refuse(REFUSED.notAuthenticated, 'not signed in');
    const declared = address.args && typeof address.args.SIZE === 'string' ? Number(address.args.SIZE) : 0;
    const maxSize = Math.min(findMailbox(t, login.mailbox)?.maxSendSize ?? ADVERTISED_SIZE, ADVERTISED_SIZE);
    if (declared > maxSize) return refuse(REFUSED.messageTooLarge, `SIZE=${declared} is over ${login.mailbox}'s MaxSendSize of ${maxSize} bytes`);
    if (!maySendAs(t, login, address.address)) {
      return refuse(REFUSED.envelopeSendAs, `${login.login} may not send as <${address.address}>: it is not the signed-in mailbox and no Send As permission covers it`);
    }
    const { rateLimitBehaviour, messagesPerMinute } = this.limits.limits;
    if (rateLimitBehaviour === 'reject' && this.limits.messagesInLastMinute(login.mailbox) >= messagesPerMinute) {
      return refuse(REFUSED.rateLimited, `${login.mailbox} sent ${messagesPerMinute} messages in the last minute (rate limit behaviour 'reject'; unconfirmed reply)`);
    }
    callback();
  }

  onRcptTo(address: SMTPServerAddress, session: SMTPServerSession, callback: Done): void {
    const connection = this.server().connectionOf(session);
    const t = this.ctx.tenant.current;
    const already = session.envelope.rcptTo.some((r) => r.address.toLowerCase() === address.address.toLowerCase());
    if (!already && session.envelope.rcptTo.length >= this.limits.limits.recipientsPerMessage) {
      connection.state.reason = `a message may have at most ${this.limits.limits.recipientsPerMessage} recipients`;
      return callback(replyError(REFUSED.tooManyRecipients));
    }
    if (isAcceptedDomain(t, address.address) && !findMailbox(t, address.address)) {
      connection.state.reason = `${address.address} is in an accepted domain but no mailbox has that address`;
      return callback(replyError(PROTOCOL.recipientNotFound));
    }
    callback();
  }

  onClose(session: SMTPServerSession): void {
    const connection = this.server().connectionOf(session);
    const login = connection.state.login;
    if (!login) return;
    this.limits.closeSession(login.mailbox, connection.state.id);
    // Signed-in connections count against the mailbox until they close: tests wait for this.
    this.ctx.events.record({ endpoint: 'submission', action: 'close', outcome: 'ok', session: connection.state.id, mailbox: login.mailbox, message: 'signed-in connection closed' });
  }
}
