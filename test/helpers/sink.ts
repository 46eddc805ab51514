/**
 * A real SMTP server on loopback that stands for "the upstream" in relay tests: it keeps
 * every message byte for byte with its envelope, and can be told to refuse recipients or
 * messages, to stall, or to go down and come back on the same port.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { SMTPServer, type SMTPServerAddress } from 'smtp-server';
import { loadTlsIdentity, type TlsIdentity } from '../../src/ingress/tls.js';

export interface SinkMessage {
  from: string;
  to: string[];
  raw: Buffer;
}

export interface Reply {
  code: number;
  text: string;
}

export interface SinkBehaviour {
  /** Refuse a recipient at RCPT TO with this reply. */
  rcpt?: (address: string) => Reply | null;
  /** Refuse the message after DATA with this reply. */
  data?: (message: SinkMessage) => Reply | null;
  /** Wait this long before answering the end of DATA (a slow upstream). */
  dataDelayMs?: number;
  /** Wait this long before answering RCPT TO (an upstream that stalls before the message is sent). */
  rcptDelayMs?: number;
}

export interface SinkOptions {
  port?: number;
  /** Offer STARTTLS with this identity (and require it before AUTH). */
  tls?: { key: string; cert: string };
  /** Require AUTH with these credentials. */
  auth?: { user: string; pass: string };
}

export interface Sink {
  port: number;
  /** Successful AUTH commands, as "METHOD user". */
  logins: string[];
  messages: SinkMessage[];
  /** Connections accepted so far. */
  connections: number;
  behaviour: SinkBehaviour;
  waitForMessages(count: number, timeoutMs?: number): Promise<SinkMessage[]>;
  waitForConnections(count: number, timeoutMs?: number): Promise<void>;
  down(): Promise<void>;
  up(): Promise<void>;
  stop(): Promise<void>;
}

const errorReply = (reply: Reply) => Object.assign(new Error(reply.text), { responseCode: reply.code });

export async function startSink(behaviour: SinkBehaviour = {}, options: SinkOptions = {}): Promise<Sink> {
  const port = options.port ?? 0;
  const logins: string[] = [];
  const messages: SinkMessage[] = [];
  let server: SMTPServer;
  const sink: Sink = {
    port,
    logins,
    messages,
    connections: 0,
    behaviour,
    async waitForMessages(count, timeoutMs = 10_000) {
      await until(() => messages.length >= count, timeoutMs, () => `${messages.length} of ${count} messages arrived at the sink`);
      return messages;
    },
    async waitForConnections(count, timeoutMs = 10_000) {
      await until(() => sink.connections >= count, timeoutMs, () => `${sink.connections} of ${count} connections reached the sink`);
    },
    async down() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    async up() {
      server = create();
      await new Promise<void>((resolve) => server.listen(sink.port, '127.0.0.1', () => resolve()));
    },
    async stop() {
      await sink.down();
    },
  };

  function create(): SMTPServer {
    const created = new SMTPServer({
      logger: false,
      authOptional: !options.auth,
      disabledCommands: [...(options.auth ? [] : ['AUTH']), ...(options.tls ? [] : ['STARTTLS'])],
      ...(options.tls ? { key: options.tls.key, cert: options.tls.cert, minVersion: 'TLSv1.2' as const } : {}),
      authMethods: ['PLAIN', 'LOGIN'],
      onAuth(auth, _session, callback) {
        const ok = auth.username === options.auth?.user && auth.password === options.auth?.pass;
        if (ok) logins.push(`${auth.method} ${auth.username}`);
        callback(ok ? null : Object.assign(new Error('5.7.8 Authentication credentials invalid'), { responseCode: 535 }), ok ? { user: auth.username } : undefined);
      },
      disableReverseLookup: true,
      closeTimeout: 200,
      onConnect(_session, callback) {
        sink.connections++;
        callback();
      },
      onRcptTo(address: SMTPServerAddress, _session, callback) {
        const reply = sink.behaviour.rcpt?.(address.address);
        const answer = () => callback(reply ? errorReply(reply) : undefined);
        if (sink.behaviour.rcptDelayMs) setTimeout(answer, sink.behaviour.rcptDelayMs);
        else answer();
      },
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          const message: SinkMessage = {
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            raw: Buffer.concat(chunks),
          };
          const finish = () => {
            const reply = sink.behaviour.data?.(message);
            if (reply) return callback(errorReply(reply));
            messages.push(message);
            callback(null, 'sink kept it');
          };
          if (sink.behaviour.dataDelayMs) setTimeout(finish, sink.behaviour.dataDelayMs);
          else finish();
        });
      },
    });
    // A client that dies mid-session (a relay node killed on purpose) resets its socket:
    // smtp-server reports that as a server 'error', which is the client's business, not the sink's.
    created.on('error', () => {});
    return created;
  }

  server = create();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  sink.port = (server.server.address() as AddressInfo).port;
  return sink;
}

/**
 * A self-signed TLS identity for a sink (`startSink(b, { tls: identity })`), made the way the relay
 * makes its own, and its certificate in a PEM file for a route's `ca` to trust.
 */
export async function upstreamTlsIdentity(): Promise<{ identity: TlsIdentity; caFile: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'relay365-test-'));
  const identity = await loadTlsIdentity({}, 'upstream.test', dir, pino({ level: 'silent' }));
  const caFile = join(dir, 'upstream-ca.pem');
  writeFileSync(caFile, identity.cert);
  return { identity, caFile };
}

export async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, describe: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${describe()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
