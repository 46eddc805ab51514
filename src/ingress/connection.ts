/**
 * relay365's SMTP server: smtp-server with these behaviours changed, in one subclass pair so
 * a dependency update cannot silently undo them (test/ingress/protocol.test.ts and
 * test/ingress/auth.test.ts fail if it does).
 *
 * 1. The greeting delay. smtp-server waits a hard-coded 100 ms before its 220 to catch
 *    "early talkers" (spam bots that speak first). That anti-spam measure caps clients
 *    that open a connection per message — most business applications — at ten messages
 *    per second each. A relay for known applications does not need it, so the delay is a
 *    listener setting (greetingDelay, default 0). With 0 the greeting goes out as soon as
 *    the connection is accepted, leaving no window in which a client could talk too soon.
 * 2. Enhanced status codes. smtp-server picks them from the reply code alone (452 becomes
 *    4.2.2, "mailbox full"); relay365's replies carry their own precise code as the start
 *    of their text ("452 4.3.1 …"), which is then sent as is, and a queued message is
 *    answered "250 2.0.0 Ok: queued as <id>".
 * 3. AUTH only where the docs promise it. smtp-server refuses AUTH without TLS only when it
 *    advertises STARTTLS, so a plaintext listener (tls.mode: none) would take a password in
 *    the clear. relay365 decides itself, per session: AUTH on a TLS session, or in plaintext
 *    on a trustedPlaintext listener (loopback only); before STARTTLS it is 530 5.7.0, and
 *    where it can never happen (no app has a password, or a plaintext listener that is not
 *    trusted) it is not advertised and answered as Postfix does with smtpd_tls_auth_only:
 *    503 5.5.1 Error: authentication not enabled.
 * 4. A client that is not (yet) an app — not authenticated, its address in no app's networks
 *    — gets a few commands and a short time (listeners.<name>.unauthenticated), then 421 4.7.0
 *    and the connection is closed: with authOptional, smtp-server would let it hold a
 *    session (and a connection slot) with NOOPs for as long as it likes.
 * 5. MAIL FROM with SIZE= over the limit. smtp-server refuses it with its own words and the
 *    listener's limit only ("message exceeds fixed maximum message size 36700160"); relay365
 *    leaves the comparison to the door (at onMailFrom), which knows the app, so the refusal
 *    names the smaller of the listener's and the app's limit, in MB, and the key that sets it.
 *    smtp-server still checks SIZE='s syntax and still advertises the listener's SIZE.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import { BARE_LOCAL_PART } from '../policy/addresses.js';

export interface RelaySmtpServerOptions extends SMTPServerOptions {
  /** Milliseconds to wait before the greeting; 0 sends it at once. */
  greetingDelay: number;
  /** When AUTH may happen: never, only on a TLS session, or also in plaintext (a trustedPlaintext listener). */
  auth: 'off' | 'tls' | 'plaintext';
  /** Whether a client address belongs to an app (in its networks): such a client is not held to `unauthenticated`. */
  isApp: (address: string) => boolean;
  /** Commands and milliseconds for a client that is not (yet) an app; `key` names them in the 421. */
  unauthenticated: { maxCommands: number; timeout: number; key: string };
}

type Reply = { code: number; text: string };
type MailParams = Parameters<SMTPConnection['_validateMailParams']>[0];
const AUTH_NOT_ENABLED: Reply = { code: 503, text: '5.5.1 Error: authentication not enabled' };
const STARTTLS_FIRST: Reply = { code: 530, text: '5.7.0 Must issue a STARTTLS command first' };

const ENHANCED_PREFIX = /^[245]\.\d{1,3}\.\d{1,3} /;

class RelayConnection extends SMTPConnection {
  /** Set when the greeting went out to a client whose address is no app's. */
  private stranger = false;
  private strangerCommands = 0;
  private strangerTimer: NodeJS.Timeout | null = null;

  override init(): void {
    this._setListeners(() => {
      const options = this._server.options as RelaySmtpServerOptions;
      if (options.maxClients && this._server.connections.size > options.maxClients) {
        this.send(421, `4.7.0 ${this.name} Too many connected clients, try again in a moment`);
        return;
      }
      if (options.greetingDelay > 0) setTimeout(() => this.connectionReady(), options.greetingDelay).unref();
      else this.connectionReady();
    });
  }

  override connectionReady(next?: () => void): void {
    super.connectionReady(() => {
      const options = this._server.options as RelaySmtpServerOptions;
      this.stranger = !options.isApp(this.remoteAddress);
      if (this.stranger) {
        const { timeout, key } = options.unauthenticated;
        this.strangerTimer = setTimeout(() => {
          if (!this.session.user) this.send(421, `4.7.0 ${this.name} No authentication within ${timeout / 1000} s (${key}.timeout); closing the connection`);
        }, timeout);
        this.strangerTimer.unref();
      }
      next?.();
    });
  }

  override _onCommand(command: Buffer, callback?: () => void): void {
    // Continuation lines of an AUTH exchange (_nextHandler) are part of the AUTH command.
    if (this.stranger && !this.session.user && this._ready && !this._upgrading && !this._nextHandler) {
      const { maxCommands, key } = (this._server.options as RelaySmtpServerOptions).unauthenticated;
      if (++this.strangerCommands > maxCommands) {
        this.send(421, `4.7.0 ${this.name} Too many commands without authentication (${key}.maxCommands is ${maxCommands}); closing the connection`);
        return;
      }
    }
    super._onCommand(command, callback);
  }

  override _onClose(): void {
    if (this.strangerTimer) clearTimeout(this.strangerTimer);
    super._onClose();
  }

  /** Why this session may not AUTH now, or null when it may. */
  private authRefusal(): Reply | null {
    const { auth } = this._server.options as RelaySmtpServerOptions;
    if (auth === 'off') return AUTH_NOT_ENABLED;
    if (auth === 'tls' && !this.secure) return STARTTLS_FIRST;
    return null;
  }

  override handler_AUTH(command: Buffer, callback: () => void): void {
    const refusal = this.authRefusal();
    if (!refusal) return super.handler_AUTH(command, callback);
    this.send(refusal.code, refusal.text);
    callback();
  }

  override send(code: number, data?: string | string[] | null, context?: string | false): void {
    // The EHLO reply (the one multi-line 250) lists AUTH only where it can succeed at some point of the session.
    if (code === 250 && Array.isArray(data) && this.authRefusal() === AUTH_NOT_ENABLED) {
      super.send(code, data.filter((line) => !/^AUTH\b/i.test(line)), context);
      return;
    }
    if (typeof data === 'string' && ENHANCED_PREFIX.test(data)) {
      super.send(code, data, false);
      return;
    }
    super.send(code, data, context === 'DATA_OK' ? 'RELAY365_QUEUED' : context);
  }

  // Bare local parts (MAIL FROM:<sapadmin>) pass smtp-server's syntax check marked with a
  // reserved domain; the door gives them the app's default domain (policy/addresses.ts).
  override _parseAddressCommand(name: string, command: string): ReturnType<SMTPConnection['_parseAddressCommand']> {
    const bare = /^(\s*(?:MAIL FROM|RCPT TO)\s*:\s*<)([^<>@\s:]+)(>.*)$/is.exec(String(command));
    if (bare && (bare[2] as string).toLowerCase() !== 'postmaster') {
      return super._parseAddressCommand(name, `${bare[1]}${bare[2]}${BARE_LOCAL_PART}${bare[3]}`);
    }
    return super._parseAddressCommand(name, command);
  }

  override _validateMailParams(parsed: MailParams): ReturnType<SMTPConnection['_validateMailParams']> {
    const args = parsed.args;
    // A well-formed SIZE is the door's to judge (listener.ts onMailFrom); a malformed one stays smtp-server's 501.
    if (args && typeof args.SIZE === 'string' && /^\d{1,20}$/.test(args.SIZE)) {
      const { SIZE: _declared, ...rest } = args;
      return super._validateMailParams({ ...parsed, args: rest });
    }
    return super._validateMailParams(parsed);
  }

  override _getEnhancedStatusCode(code: number, context?: string | false): string {
    if (context === 'RELAY365_QUEUED') return '2.0.0';
    return super._getEnhancedStatusCode(code, context);
  }
}

export class RelaySmtpServer extends SMTPServer {
  constructor(options: RelaySmtpServerOptions) {
    super({ hideENHANCEDSTATUSCODES: false, ...options });
  }

  // smtp-server's default hooks answer on setImmediate, which lets a client's first
  // command arrive before the greeting is marked sent: answered at once, a greeting delay
  // of 0 really is 0. Hooks given in the options replace these.
  override onConnect(_session: SMTPServerSession, callback: (err?: Error | null) => void): void {
    callback();
  }

  override onSecure(_socket: TLSSocket, _session: SMTPServerSession, callback: (err?: Error | null) => void): void {
    callback();
  }

  override connect(socket: Socket, socketOptions?: ConstructorParameters<typeof SMTPConnection>[2]): void {
    const connection = new RelayConnection(this, socket, socketOptions);
    this.connections.add(connection);
    connection.on('error', (err: Error) => this._onError(err));
    connection.on('connect', (data: unknown) => this._onClientConnect(data as never));
    connection.init();
  }
}

/** An error whose text starts with its enhanced status code, sent to the client as is. */
export function smtpError(code: number, enhanced: string, text: string): Error & { responseCode: number } {
  return Object.assign(new Error(`${enhanced} ${text}`), { responseCode: code });
}
