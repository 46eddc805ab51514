/**
 * One SMTP session for a check, through nodemailer's SMTPConnection: connect to the address the
 * doctor resolved (the certificate is still checked against the host name), EHLO, STARTTLS,
 * optionally AUTH — then QUIT. Nothing is ever sent here; the sender probe (sender.ts) stops a
 * session before the message.
 */
import { rootCertificates, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { isIP } from 'node:net';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import XOAuth2 from 'nodemailer/lib/xoauth2';
import { readCaCertificates } from '../credentials/ca.js';
import type { SmtpError } from '../transports/smtp-reply.js';

export interface SessionOptions {
  address: string;
  host: string;
  port: number;
  tls: 'required' | 'opportunistic' | 'implicit' | 'none';
  /** TLS options besides the name (servername) and the CAs. */
  tlsOptions?: ConnectionOptions;
  ca: readonly string[];
  timeoutMs: number;
  ehloName: string;
}

export type SessionSignIn = { method: 'LOGIN'; user: string; pass: string } | { method: 'XOAUTH2'; user: string; accessToken: string };

export class SmtpSession {
  private constructor(readonly connection: SMTPConnection) {}

  static open(o: SessionOptions): Promise<SmtpSession> {
    const connection = new SMTPConnection({
      host: o.address,
      port: o.port,
      secure: o.tls === 'implicit',
      requireTLS: o.tls === 'required',
      opportunisticTLS: o.tls === 'opportunistic',
      ignoreTLS: o.tls === 'none',
      name: o.ehloName,
      connectionTimeout: o.timeoutMs,
      greetingTimeout: o.timeoutMs,
      socketTimeout: o.timeoutMs,
      logger: false,
      tls: {
        servername: isIP(o.host) ? undefined : o.host,
        ca: o.ca.length ? [...rootCertificates, ...readCaCertificates([...o.ca])] : undefined,
        ...o.tlsOptions,
      },
    });
    return new Promise((resolve, reject) => {
      connection.once('error', reject);
      connection.connect(() => {
        connection.off('error', reject);
        connection.on('error', () => undefined); // late errors end the session; the check already has its answer
        resolve(new SmtpSession(connection));
      });
    });
  }

  /** The TLS socket once STARTTLS (or implicit TLS) ran; null on a plaintext session. */
  get tlsSocket(): TLSSocket | null {
    const socket = (this.connection as unknown as { _socket?: TLSSocket; secure?: boolean })._socket;
    return socket && typeof socket.getProtocol === 'function' ? socket : null;
  }

  signIn(auth: SessionSignIn): Promise<void> {
    const data =
      auth.method === 'XOAUTH2'
        ? { user: auth.user, method: 'XOAUTH2', oauth2: new XOAuth2({ user: auth.user, accessToken: auth.accessToken }) }
        : { user: auth.user, pass: auth.pass, method: 'LOGIN', credentials: { user: auth.user, pass: auth.pass } };
    return new Promise((resolve, reject) => this.connection.login(data as never, (err) => (err ? reject(err as SmtpError) : resolve())));
  }

  close(): void {
    this.connection.quit();
    setTimeout(() => this.connection.close(), 200).unref();
  }

  /** Ends the session at once, without QUIT (the sender probe, in the middle of DATA). */
  abort(): void {
    this.connection.close();
  }
}
