// Client submission after DATA: Exchange's checks on the whole message, then delivery.
//
// The message is on disk before any check, and the final 250 is sent only once the message is in
// the recipients' mailboxes, or safely in the spool when the rate limit delays it: the sandbox,
// like Exchange, never acknowledges what it has not kept.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import type { SandboxContext } from '../../context.js';
import { findMailbox } from '../../tenant/accessors.js';
import type { MicrosoftSmtpConnection } from '../connection.js';
import { discard, messageStream, readHeaders, receiveMessage, type ReceivedMessage } from '../message.js';
import { OK, REFUSED, replyError, type SmtpReply } from '../replies.js';
import type { MicrosoftSmtpServer } from '../server.js';
import type { SessionLogin } from '../session.js';
import { ADVERTISED_SIZE } from '../settings.js';
import type { DelayedDeliveries } from './delayed.js';
import type { SendingLimits } from './limits.js';
import { maySendAs } from './send-as.js';

type Done = (err?: Error | null, message?: string) => void;
type Verdict = { accept: true; messageId: string; addedMessageId?: string } | { accept: false; reply: SmtpReply; reason: string };

export class SubmissionData {
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly ctx: SandboxContext,
    private readonly limits: SendingLimits,
    private readonly delayed: DelayedDeliveries,
    private readonly server: () => MicrosoftSmtpServer,
  ) {}

  onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback: Done): void {
    const work = this.handle(stream, session, callback);
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
  }

  /** Resolves when every message being received has been answered. */
  async settled(): Promise<void> {
    await Promise.all([...this.inFlight]);
  }

  private async handle(stream: SMTPServerDataStream, session: SMTPServerSession, callback: Done): Promise<void> {
    const connection = this.server().connectionOf(session);
    const login = connection.state.login!;
    const maxSize = Math.min(findMailbox(this.ctx.tenant.current, login.mailbox)?.maxSendSize ?? ADVERTISED_SIZE, ADVERTISED_SIZE);
    let message: ReceivedMessage;
    try {
      message = await receiveMessage(stream, join(this.ctx.options.dataDir, 'smtp-spool'), { maxBytes: maxSize + 1, maxHeaderBytes: this.limits.limits.maxHeaderBytes });
    } catch (e) {
      if (connection.isGone()) return; // the client went away mid-message: there is nobody to answer
      connection.state.reason = `the sandbox could not spool the message: ${(e as Error).message}`;
      return callback(replyError(REFUSED.temporaryError));
    }
    let keep = false;
    try {
      const fault = await this.ctx.faults.consult('submission', 'DATA-END');
      if (fault?.type === 'reply') {
        connection.markFault();
        return callback(replyError(fault.smtp ?? REFUSED.temporaryError));
      }
      if (fault) return connection.drop(`connection dropped after the message (fault ${fault.type})`);
      const verdict = await this.judge(login, message, session.envelope.rcptTo.length, maxSize, connection.state.identity.mailboxServer);
      if (!verdict.accept) {
        connection.state.reason = verdict.reason;
        return callback(replyError(verdict.reply));
      }
      if (connection.isGone()) return; // dropped mid-way: the client never saw a 250, so nothing is delivered
      keep = await this.deliver(connection, login, message, session, verdict.addedMessageId);
      callback(null, OK.queued(verdict.messageId, connection.state.identity.mailboxServer).text);
    } catch (e) {
      connection.state.reason = `the sandbox failed to store the message: ${(e as Error).message}`;
      callback(replyError(REFUSED.temporaryError));
    } finally {
      if (!keep) await discard(message);
    }
  }

  /** Exchange's checks, in order: header size, message size, header From, quota, daily recipients. */
  private async judge(login: SessionLogin, message: ReceivedMessage, recipients: number, maxSize: number, mailboxServer: string): Promise<Verdict> {
    const { maxHeaderBytes } = this.limits.limits;
    if (message.headerBytes === null) return { accept: false, reply: REFUSED.headerTooLarge, reason: `the header block is over ${maxHeaderBytes} bytes` };
    if (message.size > maxSize) return { accept: false, reply: REFUSED.messageTooLarge, reason: `the message is ${message.size} bytes or more; ${login.mailbox}'s MaxSendSize is ${maxSize}` };
    const headers = await readHeaders(message.headerBlock);
    const t = this.ctx.tenant.current;
    if (headers.from && !maySendAs(t, login, headers.from)) {
      return { accept: false, reply: REFUSED.headerSendAs(login.login, headers.from), reason: `the From header ${headers.from} is neither ${login.mailbox} nor a mailbox it has Send As on` };
    }
    if (findMailbox(t, login.mailbox)?.full) return { accept: false, reply: REFUSED.mailboxFull, reason: `${login.mailbox} is over its quota (full: true)` };
    if (!this.limits.recipientsFit(login.mailbox, recipients)) {
      const used = this.limits.recipientsInLastDay(login.mailbox);
      return { accept: false, reply: REFUSED.dailyRecipients, reason: `${login.mailbox} has sent to ${used} recipients in 24 hours; ${recipients} more is over ${this.limits.limits.recipientsPerDay}` };
    }
    if (headers.messageId) return { accept: true, messageId: headers.messageId };
    // Exchange stamps a Message-ID of its own on a message that has none, named after the mailbox server.
    const generated = `<${mailboxServer.split('.')[0]}${randomBytes(8).toString('hex').toUpperCase()}@${mailboxServer}>`;
    return { accept: true, messageId: generated, addedMessageId: generated };
  }

  /** Delivers now, or leaves the message in the spool until the rate limit lets it go; true when the spool file is kept. */
  private async deliver(connection: MicrosoftSmtpConnection, login: SessionLogin, message: ReceivedMessage, session: SMTPServerSession, addedMessageId: string | undefined): Promise<boolean> {
    const envelope = { mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', rcptTo: session.envelope.rcptTo.map((r) => r.address) };
    this.limits.countRecipients(login.mailbox, envelope.rcptTo.length);
    const at = this.limits.takeMessageSlot(login.mailbox);
    const store = () => this.ctx.mailboxes.deliver({ raw: messageStream(message, addedMessageId), envelope, via: 'submission', sentItemsOf: login.mailbox, session: connection.state.id });
    if (at <= this.ctx.clock.now()) {
      await store();
      return false;
    }
    const id = connection.state.id;
    this.ctx.events.record({ endpoint: 'submission', action: 'DATA', outcome: 'ok', session: id, mailbox: login.mailbox, message: `over ${this.limits.limits.messagesPerMinute} messages a minute: accepted, delivery delayed until ${new Date(at).toISOString()}` });
    this.delayed.schedule(at, async () => {
      try {
        await store();
        this.ctx.events.record({ endpoint: 'submission', action: 'deliver (delayed)', outcome: 'ok', session: id, mailbox: login.mailbox, message: 'delivered after the rate-limit delay' });
      } finally {
        await discard(message);
      }
    });
    return true;
  }
}
