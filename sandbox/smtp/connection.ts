// One SMTP connection to the sandbox, speaking like an Exchange Online front end.
//
// smtp-server's SMTPConnection parses the protocol; this subclass changes what it says and when
// it fails: Microsoft's greeting and EHLO lists, Exchange's reply texts with their error trailer
// (reply-shaping.ts), AUTH only as the endpoint offers it, and fault injection consulted at each
// stage (CONNECT, EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA; DATA-END is consulted by the data hook).
// Every final reply is also written to the sandbox's event log.
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import type { FaultAction } from '../state/faults.js';
import { errorTrailer, rfcDate } from './identity.js';
import { REFUSED, enhancedCodeOf, type SmtpReply } from './replies.js';
import { shapeReply } from './reply-shaping.js';
import type { MicrosoftSmtpServer } from './server.js';
import type { SessionState } from './session.js';

/** The fault-injection stage each command is consulted at. */
const STAGE_OF: Readonly<Record<string, string>> = { EHLO: 'EHLO', HELO: 'EHLO', STARTTLS: 'STARTTLS', AUTH: 'AUTH', MAIL: 'MAIL', RCPT: 'RCPT', DATA: 'DATA' };

/** An EHLO/HELO argument Exchange takes: a domain-like name or an address literal. */
const HELO_NAME = /^(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?|\[(?:\d{1,3}(?:\.\d{1,3}){3}|IPv6:[0-9A-Fa-f:.]+)\])$/;

export class MicrosoftSmtpConnection extends SMTPConnection {
  readonly state: SessionState;
  /** The next reply is an injected fault's (the event log says so). */
  private faultReply = false;

  constructor(server: MicrosoftSmtpServer, socket: Socket | TLSSocket, options: { id: string }) {
    super(server, socket, options);
    this.state = { id: this.id, endpoint: server.profile.endpoint, identity: server.profile.identity(), command: 'CONNECT', certificateNames: [] };
  }

  private get sandbox(): MicrosoftSmtpServer {
    return this._server as MicrosoftSmtpServer;
  }

  /** No early-talker delay (clients connecting per message would be slowed for nothing); CONNECT faults first. */
  override init(): void {
    this._setListeners(() => {
      void this.sandbox.ctx.faults.consult(this.state.endpoint, 'CONNECT').then((action) => {
        if (this._closing || this._closed) return;
        if (!action) return this.connectionReady();
        this.applyFault(action, 'CONNECT');
        if (action.type === 'reply') this.close();
      });
    });
  }

  override _sendGreeting(): void {
    const { identity } = this.state;
    this.send(220, `${identity.greetingName} Microsoft ESMTP MAIL Service ready at ${rfcDate(this.sandbox.ctx.clock.date())} [${this.state.id}]`, false);
  }

  override send(code: number, data?: string | string[] | null, context?: string | false): void {
    if (Array.isArray(data)) {
      super.send(code, data, false);
      this.record({ code, text: data[0] ?? '' });
      return;
    }
    const reply = shapeReply(code, data ?? '', context, this.state, (c) => this._getEnhancedStatusCode(c, context));
    const trailer = reply.code >= 400 ? errorTrailer(this.state.identity, this.sandbox.ctx.clock.date(), this.state.id) : '';
    super.send(reply.code, reply.text + trailer, false);
    this.record(reply);
  }

  /** Sends a reply from replies.ts. */
  reply(r: SmtpReply): void {
    this.send(r.code, r.text);
  }

  override _onCommand(command: Buffer, callback?: () => void): void {
    const next = callback ?? (() => undefined);
    const verb = (command.toString().split(' ')[0] ?? '').toUpperCase();
    const inExchange = this._nextHandler !== false; // an AUTH continuation line: never logged, never a stage
    if (!inExchange && !this._upgrading) this.state.command = commandLabel(verb, command);
    const stage = inExchange || this._upgrading || !this._ready ? undefined : STAGE_OF[verb];
    if (stage === undefined) return super._onCommand(command, callback);
    this.sandbox.ctx.faults.consult(this.state.endpoint, stage).then(
      (action) => {
        if (this._closed) return next();
        if (!action) return super._onCommand(command, callback);
        if (action.type === 'drop' && stage === 'DATA') {
          // Mid-DATA: let the client start sending the message, then cut the connection.
          super._onCommand(command, callback);
          this._socket.once('data', () => this.drop('connection dropped mid-DATA (fault)'));
          return;
        }
        this.applyFault(action, stage);
        next();
      },
      (e: unknown) => {
        this.reply(REFUSED.temporaryError);
        this.sandbox.ctx.events.record({ endpoint: this.state.endpoint, action: this.state.command, outcome: 'error', message: (e as Error).message, session: this.state.id });
        next();
      },
    );
  }

  /** Answers with an injected reply, or drops the connection (drop, down). */
  applyFault(action: FaultAction, stage: string): void {
    if (action.type === 'reply') {
      const r = action.smtp ?? REFUSED.temporaryError;
      this.markFault();
      this.send(r.code, r.text);
      return;
    }
    this.drop(action.type === 'down' ? `endpoint down (fault, ${action.mode}) at ${stage}` : `connection dropped at ${stage} (fault)`);
  }

  /** The next reply comes from an injected fault (logged as such). */
  markFault(): void {
    this.faultReply = true;
  }

  /** Whether the client has gone (or been dropped): nothing sent to it now can be acknowledged. */
  isGone(): boolean {
    return this._closing || this._closed || this._socket.destroyed;
  }

  /** Closes the connection without a word, as a failing front end does. */
  drop(reason: string): void {
    this.sandbox.ctx.events.record({ endpoint: this.state.endpoint, action: this.state.command, outcome: 'fault', message: reason, session: this.state.id });
    this._socket.destroy();
  }

  override handler_EHLO(command: Buffer, callback: () => void): void {
    if (!this.greet(command, 'EHLO')) return callback();
    this.send(250, [`${this.state.identity.greetingName} Hello [${this.remoteAddress}]`, ...this.sandbox.profile.features(this.secure)]);
    callback();
  }

  override handler_HELO(command: Buffer, callback: () => void): void {
    if (!this.greet(command, 'HELO')) return callback();
    this.send(250, `${this.state.identity.greetingName} Hello [${this.remoteAddress}]`, false);
    callback();
  }

  /** Only the mechanisms the endpoint offers, and only once TLS is up: anything else is "unrecognized". */
  override handler_AUTH(command: Buffer, callback: () => void): void {
    const mechanism = (command.toString().trim().split(/\s+/)[1] ?? '').toUpperCase();
    if (!this.secure || !this.sandbox.profile.authMethods.includes(mechanism)) {
      this.reply(REFUSED.unrecognizedAuth);
      return callback();
    }
    this.state.authMechanism = mechanism;
    super.handler_AUTH(command, callback);
  }

  private greet(command: Buffer, verb: 'EHLO' | 'HELO'): boolean {
    const args = command.toString().trim().split(/\s+/).slice(1);
    if (args.length !== 1 || !HELO_NAME.test(args[0]!)) {
      this.reply(REFUSED.invalidDomain);
      return false;
    }
    this.openingCommand = verb;
    this.hostNameAppearsAs = args[0]!.toLowerCase();
    this._resetSession(); // EHLO is an implicit RSET
    return true;
  }

  private record(reply: SmtpReply): void {
    if (reply.code === 334 || reply.code === 354) return; // steps of a command, not its answer
    const { login, reason, detail } = this.state;
    const fault = this.faultReply;
    this.faultReply = false;
    this.state.reason = undefined;
    this.state.detail = undefined;
    this.sandbox.ctx.events.record({
      endpoint: this.state.endpoint,
      action: this.state.command,
      outcome: fault ? 'fault' : reply.code >= 400 ? 'refused' : 'ok',
      status: reply.code,
      ...(enhancedCodeOf(reply.text) ? { code: enhancedCodeOf(reply.text) } : {}),
      message: reply.text,
      session: this.state.id,
      ...(reason || detail ? { detail: { ...detail, ...(reason ? { reason } : {}) } } : {}),
      ...(login ? { mailbox: login.mailbox, ...(login.appId ? { appId: login.appId } : {}), ...(login.principal.kind === 'user' ? { user: login.principal.address } : {}) } : {}),
    });
  }
}

/** What the event log calls a command: its verb (and AUTH's mechanism), never its arguments. */
function commandLabel(verb: string, command: Buffer): string {
  if (verb === 'MAIL') return 'MAIL FROM';
  if (verb === 'RCPT') return 'RCPT TO';
  if (verb === 'AUTH') return `AUTH ${(command.toString().trim().split(/\s+/)[1] ?? '').toUpperCase().slice(0, 20)}`.trim();
  return verb.replace(/[^A-Z0-9-]/g, '').slice(0, 20) || '(empty)';
}
