// Test helpers for the sandbox's SMTP servers: a raw line client (to check replies byte for
// byte, with STARTTLS done by node:tls over the same socket), Microsoft's reply shapes as
// regexes, and the tokens and blobs a client sends.
import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls, type TLSSocket } from 'node:tls';
import type { Tenant } from '../../sandbox/tenant/schema.js';
import { confidentialClient, DEMO, EXCHANGE_DEFAULT_SCOPE, type TestSandbox } from './sandbox.js';

/** The parts of Microsoft's replies that change: host names, dates, session ids. */
export const MS = {
  /** `SN4PR06CA0017` */
  machine: '[A-Z0-9]{8,20}',
  /** `Tue, 4 Jun 2024 10:00:00 +0000` */
  rfcDate: '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \\d{1,2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \\d{4} \\d{2}:\\d{2}:\\d{2} \\+0000',
  sessionId: '[0-9A-F]{16}',
  /** ` [SN4PR06CA0017.namprd06.prod.outlook.com 2024-06-04T10:00:00.123Z 08DC84A1B2C3D4E5]` */
  trailer: ' \\[[A-Z0-9]{8,20}\\.(?:nam|eur)prd\\d{2}\\.prod\\.outlook\\.com \\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z [0-9A-F]{16}\\]',
  /** `SN4PR06MB1234.namprd06.prod.outlook.com` */
  mailboxServer: '[A-Z0-9]{8,20}\\.(?:nam|eur)prd\\d{2}\\.prod\\.outlook\\.com',
} as const;

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A regex for an error reply: the exact text, then Microsoft's trailer. */
export function errorReply(text: string): RegExp {
  return new RegExp(`^${escape(text)}${MS.trailer}$`);
}

/** A regex for the final 250 of DATA: `250 2.0.0 OK <message-id> [Hostname=<host>]`. */
export function queuedReply(messageId?: string): RegExp {
  return new RegExp(`^250 2\\.0\\.0 OK ${messageId ? escape(messageId) : '<[^>\\s]+>'} \\[Hostname=${MS.mailboxServer}\\]$`);
}

/** SMTP over a raw socket: one line out, one whole reply (all its lines, CRLF-joined) back. */
export class RawSmtpClient {
  private socket: Socket | TLSSocket;
  private buffer = '';
  private lines: string[] = [];
  private readonly replies: string[] = [];
  private waiting: Array<(reply: string) => void> = [];
  private readonly onData = (chunk: Buffer) => this.take(chunk);
  /** Resolves when the server closes the connection. */
  readonly closed: Promise<void>;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', this.onData);
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => undefined); // a dropped connection shows as `closed`
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawSmtpClient> {
    return new Promise((resolve, reject) => {
      const socket = connectTcp(port, host, () => {
        socket.off('error', reject);
        resolve(new RawSmtpClient(socket));
      });
      socket.once('error', reject);
    });
  }

  /** The next reply; rejects if none arrives within `timeoutMs`. */
  read(timeoutMs = 5000): Promise<string> {
    const ready = this.replies.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = this.waiting.filter((w) => w !== deliver);
        reject(new Error(`no SMTP reply within ${timeoutMs} ms (buffered: ${JSON.stringify(this.buffer)})`));
      }, timeoutMs);
      const deliver = (reply: string) => {
        clearTimeout(timer);
        resolve(reply);
      };
      this.waiting.push(deliver);
    });
  }

  /** Sends bytes as they are (a message body, pipelined commands). */
  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Sends one command line and returns the reply. */
  command(line: string): Promise<string> {
    this.socket.write(`${line}\r\n`);
    return this.read();
  }

  /** STARTTLS, then the TLS handshake on the same socket, trusting `ca` (and presenting a client certificate if given). */
  async startTls(ca: string, clientCertificate?: { certPem: string; keyPem: string }): Promise<string> {
    const reply = await this.command('STARTTLS');
    if (!reply.startsWith('220 ')) return reply;
    const raw = this.socket;
    raw.off('data', this.onData);
    const secure = connectTls({ socket: raw as Socket, ca, servername: 'localhost', ...(clientCertificate ? { cert: clientCertificate.certPem, key: clientCertificate.keyPem } : {}) });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    secure.on('error', () => undefined);
    secure.on('data', this.onData);
    this.socket = secure;
    return reply;
  }

  get secure(): boolean {
    return 'encrypted' in this.socket && this.socket.encrypted === true;
  }

  close(): void {
    this.socket.destroy();
  }

  private take(chunk: Buffer): void {
    this.buffer += chunk.toString('utf8');
    let end: number;
    while ((end = this.buffer.indexOf('\r\n')) >= 0) {
      const line = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      this.lines.push(line);
      if (line.charAt(3) !== '-') {
        const reply = this.lines.join('\r\n');
        this.lines = [];
        const waiter = this.waiting.shift();
        if (waiter) waiter(reply);
        else this.replies.push(reply);
      }
    }
  }
}

/** The XOAUTH2 initial response: base64 of `user=<mailbox>\x01auth=Bearer <token>\x01\x01`. */
export function xoauth2(user: string, token: string): string {
  return Buffer.from(`user=${user}\x01auth=Bearer ${token}\x01\x01`).toString('base64');
}

export const b64 = (s: string) => Buffer.from(s).toString('base64');

/** An app-only token for SMTP from the sandbox, by the real msal-node (demo app unless told otherwise). */
export async function appOnlyToken(t: TestSandbox, app: { clientId: string; secret: string } = { clientId: DEMO.appOnly.clientId, secret: DEMO.appOnly.secret }): Promise<string> {
  const cca = confidentialClient(t, { clientId: app.clientId, clientSecret: app.secret });
  const result = await cca.acquireTokenByClientCredential({ scopes: [EXCHANGE_DEFAULT_SCOPE] });
  if (!result?.accessToken) throw new Error('msal-node returned no access token');
  return result.accessToken;
}

/** Connects, reads the greeting, says EHLO, upgrades to TLS and says EHLO again. */
export async function securedClient(t: TestSandbox, endpoint: 'submission' | 'mx' = 'submission', clientCertificate?: { certPem: string; keyPem: string }): Promise<RawSmtpClient> {
  const port = t.sandbox.ports[endpoint];
  if (port === null) throw new Error(`the sandbox has no ${endpoint} endpoint`);
  const client = await RawSmtpClient.connect(port);
  await client.read();
  await client.command('EHLO client.example');
  const started = await client.startTls(t.sandbox.caPem, clientCertificate);
  if (!started.startsWith('220 ')) throw new Error(`STARTTLS refused: ${started}`);
  await client.command('EHLO client.example');
  return client;
}

/** A secured submission session signed in with XOAUTH2 as `user`; throws unless the answer is 235. */
export async function signedInClient(t: TestSandbox, user: string, token: string): Promise<RawSmtpClient> {
  const client = await securedClient(t);
  const reply = await client.command(`AUTH XOAUTH2 ${xoauth2(user, token)}`);
  if (!reply.startsWith('235 ')) throw new Error(`AUTH XOAUTH2 as ${user}: ${reply}`);
  return client;
}

/** A secured submission session signed in with AUTH LOGIN as `user`; throws unless the answer is 235. */
export async function signedInWithPassword(t: TestSandbox, user: { address: string; password: string }): Promise<RawSmtpClient> {
  const client = await securedClient(t);
  await client.command('AUTH LOGIN');
  await client.command(b64(user.address));
  const reply = await client.command(b64(user.password));
  if (!reply.startsWith('235 ')) throw new Error(reply);
  return client;
}

/** A tenant change: basic auth and SMTP AUTH allowed for the whole organisation (the demo tenant allows SMTP AUTH for relay@ only). */
export function allowSmtpAuth(draft: Tenant): void {
  draft.organization.basicAuthAllowed = true;
  draft.organization.smtpClientAuthenticationDisabled = false;
}

/** A small message with the given headers, CRLF line ends, ending with the lone dot. */
export function messageData(headers: Record<string, string>, body = 'Hello from the sandbox test.'): string {
  return `${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}`)
    .join('\r\n')}\r\n\r\n${body}\r\n.\r\n`;
}

/** MAIL, RCPTs, DATA and the message; returns every reply in order (stops at the first refusal). */
export async function sendMessage(client: RawSmtpClient, envelope: { from: string; to: string[] }, data: string): Promise<string[]> {
  const replies = [await client.command(`MAIL FROM:<${envelope.from}>`)];
  if (!replies[0]!.startsWith('250 ')) return replies;
  for (const rcpt of envelope.to) {
    const r = await client.command(`RCPT TO:<${rcpt}>`);
    replies.push(r);
    if (!r.startsWith('250 ')) return replies;
  }
  const go = await client.command('DATA');
  replies.push(go);
  if (!go.startsWith('354')) return replies;
  client.write(data);
  replies.push(await client.read());
  return replies;
}
