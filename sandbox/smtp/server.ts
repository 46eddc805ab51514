// smtp-server set up as an Exchange Online endpoint: Microsoft's connections, the sandbox's TLS
// certificate, Exchange's limits on command length, and a way from a hook's session back to its
// connection (the hooks get smtp-server's session object; the sandbox's state lives on the connection).
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import type { SandboxContext } from '../context.js';
import { MicrosoftSmtpConnection } from './connection.js';
import { newSessionId, type ServerIdentity, type SmtpEndpointName } from './identity.js';

/** What differs between the two endpoints at the protocol level. */
export interface SmtpProfile {
  readonly endpoint: SmtpEndpointName;
  /** SASL mechanisms offered after STARTTLS (none on the MX). */
  readonly authMethods: readonly string[];
  /** A front-end server for a new connection. */
  identity(): ServerIdentity;
  /** EHLO keywords in Microsoft's order, before and after STARTTLS. */
  features(secure: boolean): string[];
}

/**
 * Long enough for `AUTH XOAUTH2 <base64 of user=...\x01auth=Bearer <JWT>\x01\x01>`: a JWT is 1–3 KB
 * and Microsoft takes it on one line; 64 KB leaves room for tokens with many claims.
 */
const MAX_COMMAND_LENGTH = 64 * 1024;

/** Commands smtp-server implements that Exchange does not answer: they get "500 5.3.3 Unrecognized command". */
const NOT_EXCHANGE = ['LHLO', 'HELP', 'VRFY', 'XCLIENT', 'XFORWARD', 'WIZ', 'SHELL', 'KILL'];

export class MicrosoftSmtpServer extends SMTPServer {
  private readonly bySession = new WeakMap<SMTPServerSession, MicrosoftSmtpConnection>();

  constructor(
    readonly ctx: SandboxContext,
    readonly profile: SmtpProfile,
    options: SMTPServerOptions,
  ) {
    super({
      key: ctx.pki.key,
      cert: ctx.pki.cert,
      minVersion: 'TLSv1.2', // Microsoft: TLS 1.2 or later
      logger: false,
      disableReverseLookup: true,
      hideENHANCEDSTATUSCODES: false,
      hideDSN: false,
      authMethods: [...profile.authMethods],
      maxCommandLength: MAX_COMMAND_LENGTH,
      maxAllowedUnauthenticatedCommands: false,
      disabledCommands: NOT_EXCHANGE,
      socketTimeout: 10 * 60 * 1000,
      closeTimeout: 1000,
      ...options,
    });
  }

  /** The sandbox's side of the connection a hook's session belongs to. */
  connectionOf(session: SMTPServerSession): MicrosoftSmtpConnection {
    const connection = this.bySession.get(session);
    if (!connection) throw new Error(`no sandbox connection for SMTP session ${session.id}`);
    return connection;
  }

  /** Every open connection, e.g. to close them when the endpoint stops. */
  get openConnections(): MicrosoftSmtpConnection[] {
    return [...this.connections] as MicrosoftSmtpConnection[];
  }

  override connect(socket: Socket | TLSSocket): void {
    const connection = new MicrosoftSmtpConnection(this, socket, { id: newSessionId() });
    this.bySession.set(connection.session, connection);
    this.connections.add(connection);
    connection.on('error', (err: Error) => this._onError(err));
    connection.on('connect', (data: unknown) => this._onClientConnect(data as never));
    connection.init();
  }

  // smtp-server's default hooks answer on setImmediate; answered at once, the greeting follows the
  // connection without a gap a client could talk into. Hooks given in the options replace these.
  override onConnect(_session: SMTPServerSession, callback: (err?: Error | null) => void): void {
    callback();
  }

  override onSecure(_socket: TLSSocket, _session: SMTPServerSession, callback: (err?: Error | null) => void): void {
    callback();
  }
}
