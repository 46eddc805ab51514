// The MX's policy: who may send to whom without signing in.
//
// Mail from a server that an inbound connector recognises (its IP address, or a domain in its
// TLS client certificate) is the tenant's own and may go anywhere. Anything else is Direct Send
// or ordinary internet mail: tenant mailboxes only, and with RejectDirectSend on, nothing that
// claims an accepted-domain sender.
import { randomBytes, X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import type { SMTPServerAddress, SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import type { SandboxContext } from '../../context.js';
import { findMailbox, isAcceptedDomain } from '../../tenant/accessors.js';
import { connectorFor } from '../../tenant/connectors.js';
import type { InboundConnector } from '../../tenant/schema.js';
import { discard, messageStream, readHeaders, receiveMessage, type ReceivedMessage } from '../message.js';
import { OK, PROTOCOL, REFUSED, replyError, type SmtpReply } from '../replies.js';
import type { MicrosoftSmtpServer } from '../server.js';
import { ADVERTISED_SIZE } from '../settings.js';

type Done = (err?: Error | null, message?: string) => void;

export class MxHooks {
  constructor(
    private readonly ctx: SandboxContext,
    private readonly maxHeaderBytes: number,
    private readonly server: () => MicrosoftSmtpServer,
  ) {}

  /** After STARTTLS: the names of a client certificate that chains to the sandbox CA (as EOP trusts only valid chains). */
  onSecure(socket: TLSSocket, session: SMTPServerSession, callback: (err?: Error | null) => void): void {
    const { state } = this.server().connectionOf(session);
    const cert = socket.getPeerX509Certificate();
    if (cert && socket.authorized) state.certificateNames = certificateNames(cert);
    if (cert) {
      const message = socket.authorized ? `client certificate for ${state.certificateNames.join(', ')}` : `client certificate ignored: ${String(socket.authorizationError ?? 'not trusted')}`;
      this.ctx.events.record({ endpoint: 'mx', action: 'STARTTLS', outcome: 'ok', session: state.id, message });
    }
    callback();
  }

  onMailFrom(address: SMTPServerAddress, session: SMTPServerSession, callback: Done): void {
    const t = this.ctx.tenant.current;
    if (!this.connectorOf(session) && t.organization.rejectDirectSend && isAcceptedDomain(t, address.address)) {
      return this.refuse(session, callback, REFUSED.directSendRejected, `RejectDirectSend is on and ${address.address || '<>'} is in an accepted domain, but no inbound connector recognises this server`);
    }
    callback();
  }

  onRcptTo(address: SMTPServerAddress, session: SMTPServerSession, callback: Done): void {
    const t = this.ctx.tenant.current;
    if (findMailbox(t, address.address)) return callback();
    if (isAcceptedDomain(t, address.address)) {
      return this.refuse(session, callback, PROTOCOL.recipientRejected, `${address.address} is in an accepted domain but no mailbox has that address`);
    }
    const connector = this.connectorOf(session);
    if (connector) return callback();
    const server = this.server().connectionOf(session).state;
    const seen = [`IP ${session.remoteAddress}`, ...(server.certificateNames.length ? [`certificate ${server.certificateNames.join(', ')}`] : session.secure ? ['no trusted client certificate'] : ['no TLS'])];
    return this.refuse(session, callback, REFUSED.relayDenied, `${address.address} is outside the tenant and no inbound connector recognises this server (${seen.join(', ')})`);
  }

  onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback: Done): void {
    void this.receive(stream, session, callback);
  }

  private async receive(stream: SMTPServerDataStream, session: SMTPServerSession, callback: Done): Promise<void> {
    const connection = this.server().connectionOf(session);
    let message: ReceivedMessage;
    try {
      message = await receiveMessage(stream, join(this.ctx.options.dataDir, 'smtp-spool'), { maxBytes: ADVERTISED_SIZE + 1, maxHeaderBytes: this.maxHeaderBytes });
    } catch {
      if (!connection.isGone()) callback(replyError(REFUSED.temporaryError));
      return;
    }
    try {
      const fault = await this.ctx.faults.consult('mx', 'DATA-END');
      if (fault?.type === 'reply') {
        connection.markFault();
        return callback(replyError(fault.smtp ?? REFUSED.temporaryError));
      }
      if (fault) return connection.drop(`connection dropped after the message (fault ${fault.type})`);
      if (message.headerBytes === null) return this.refuse(session, callback, REFUSED.headerTooLarge, `the header block is over ${this.maxHeaderBytes} bytes`);
      if (message.size > ADVERTISED_SIZE) return this.refuse(session, callback, REFUSED.messageTooLarge, `the message is over ${ADVERTISED_SIZE} bytes`);
      const headers = await readHeaders(message.headerBlock);
      const mailboxServer = connection.state.identity.mailboxServer;
      const added = headers.messageId ? undefined : `<${mailboxServer.split('.')[0]}${randomBytes(8).toString('hex').toUpperCase()}@${mailboxServer}>`;
      if (connection.isGone()) return;
      const envelope = { mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', rcptTo: session.envelope.rcptTo.map((r) => r.address) };
      await this.ctx.mailboxes.deliver({ raw: messageStream(message, added), envelope, via: 'mx', session: connection.state.id });
      callback(null, OK.queued(headers.messageId ?? added!, mailboxServer).text);
    } catch (e) {
      this.refuse(session, callback, REFUSED.temporaryError, `the sandbox failed to store the message: ${(e as Error).message}`);
    } finally {
      await discard(message);
    }
  }

  /** The connector this session is attributed to; a connector that requires TLS only counts on a TLS session. */
  private connectorOf(session: SMTPServerSession): InboundConnector | undefined {
    const { certificateNames } = this.server().connectionOf(session).state;
    const connector = connectorFor(this.ctx.tenant.current, { ip: session.remoteAddress, certificateNames });
    return connector && (!connector.requireTls || session.secure) ? connector : undefined;
  }

  private refuse(session: SMTPServerSession, callback: Done, reply: SmtpReply, reason: string): void {
    this.server().connectionOf(session).state.reason = reason;
    callback(replyError(reply));
  }
}

/** The CN and DNS subject alternative names of a certificate: what TlsSenderCertificateName is matched against. */
export function certificateNames(cert: X509Certificate): string[] {
  const cn = cert.subject
    .split('\n')
    .filter((part) => part.startsWith('CN='))
    .map((part) => part.slice(3));
  const sans = (cert.subjectAltName ?? '')
    .split(', ')
    .filter((entry) => entry.startsWith('DNS:'))
    .map((entry) => entry.slice(4));
  return [...new Set([...cn, ...sans].map((n) => n.toLowerCase()))];
}
