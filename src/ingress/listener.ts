/**
 * An SMTP listener: smtp-server with relay365's rules at its hooks. The message streams
 * from the client through the line-ending guard into the store's body writer; only when
 * the store has committed message, envelope and body does the client hear
 * "250 2.0.0 Ok: queued as <id>". Anything short of that gets a reply that says what went
 * wrong, and nothing is kept.
 */
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { SMTPServerAddress, SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import type { ListenerConfig } from '../config/schema.js';
import { newMessageId } from '../queue/ids.js';
import type { BodyWriter, Store } from '../queue/store.js';
import type { DeliveryIntake } from '../delivery/scheduler.js';
import { RelaySmtpServer, smtpError } from './connection.js';
import { LineEndingGuard } from './line-endings.js';
import { receivedHeader } from './received.js';
import type { TlsIdentity } from './tls.js';

export interface IngressDeps {
  store: Store;
  /** Delivery: a free slot is reserved before the commit, and the message handed over after it. */
  delivery: DeliveryIntake;
  log: Logger;
  hostname: string;
  lifetimeMs: number;
  tls: TlsIdentity | null;
}

export class SmtpListener {
  private readonly server: RelaySmtpServer;
  private readonly log: Logger;

  constructor(
    readonly name: string,
    private readonly config: ListenerConfig,
    private readonly deps: IngressDeps,
  ) {
    this.log = deps.log.child({ listener: name });
    const tls = deps.tls;
    this.server = new RelaySmtpServer({
      name: deps.hostname,
      banner: 'relay365 ready',
      greetingDelay: config.greetingDelay,
      secure: config.tls.mode === 'implicit',
      hideSTARTTLS: config.tls.mode === 'none',
      ...(tls ? { key: tls.key, cert: tls.cert } : {}),
      minVersion: config.tls.minVersion,
      size: config.maxMessageSize,
      authOptional: true,
      disabledCommands: ['AUTH'],
      disableReverseLookup: true,
      maxClients: config.maxConnections,
      socketTimeout: config.idleTimeout,
      closeTimeout: 30_000,
      logger: false,
      onRcptTo: (address, session, callback) => this.onRcptTo(address, session, callback),
      onData: (stream, session, callback) => void this.onData(stream, session, callback),
    });
    this.server.on('error', (err) => this.log.warn({ err }, 'SMTP session error'));
  }

  async start(): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.server.server.once('error', reject);
      this.server.listen(this.config.port, this.config.host, () => {
        this.server.server.off('error', reject);
        resolve();
      });
    });
    const address = this.server.server.address() as AddressInfo;
    this.log.info({ address: address.address, port: address.port, tls: this.config.tls.mode }, 'listening');
    return address;
  }

  /** Stops accepting connections; sessions in progress may finish their message. */
  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private onRcptTo(_address: SMTPServerAddress, session: SMTPServerSession, callback: (err?: Error | null) => void): void {
    if (session.envelope.rcptTo.length >= this.config.maxRecipients) {
      callback(smtpError(452, '4.5.3', `Too many recipients: at most ${this.config.maxRecipients} per message; send the rest in another message`));
      return;
    }
    callback();
  }

  private async onData(
    stream: SMTPServerDataStream,
    session: SMTPServerSession,
    callback: (err?: Error | null, message?: string) => void,
  ): Promise<void> {
    const receivedAt = Date.now();
    const id = newMessageId(receivedAt);
    const log = this.log.child({ msgId: id });
    const writer = this.deps.store.createBodyWriter(id);
    const guard = new LineEndingGuard(this.config.bareLineEndings);
    try {
      await pump(stream, guard, writer);
      if (stream.sizeExceeded) {
        // smtp-server answers 552 5.3.4 itself.
        await writer.abort();
        log.info({ size: stream.byteLength, limit: this.config.maxMessageSize }, 'refused: message too large');
        callback(smtpError(552, '5.3.4', 'Message size exceeds fixed maximum message size'));
        return;
      }
      if (guard.violation) {
        await writer.abort();
        log.info({ client: session.remoteAddress, violation: guard.violation }, 'refused: bare line ending in DATA');
        callback(
          smtpError(550, '5.5.2', `Message refused: ${guard.violation} received; lines must end in CRLF (listener "${this.name}" has bareLineEndings: reject)`),
        );
        return;
      }
      const body = await writer.stored;
      const envelope = session.envelope;
      const mailFrom = envelope.mailFrom ? envelope.mailFrom.address : '';
      const recipients = envelope.rcptTo.map((r) => ({ address: r.address, params: r.args || {} }));
      const tls = session.tlsOptions ? { protocol: session.tlsOptions.version, cipher: session.tlsOptions.name } : null;
      const lease = this.deps.delivery.reserve();
      const accepted = await this.deps.store.accept(
        {
          id,
          receivedAt,
          listener: this.name,
          clientAddress: session.remoteAddress,
          clientHelo: session.hostNameAppearsAs || null,
          tls: tls ? `${tls.protocol} ${tls.cipher}` : null,
          app: null,
          mailFrom,
          mailParams: (envelope.mailFrom && envelope.mailFrom.args) || {},
          recipients,
          receivedHeader: receivedHeader({
            helo: session.hostNameAppearsAs || null,
            clientAddress: session.remoteAddress,
            hostname: this.deps.hostname,
            id,
            tls,
            authenticated: false,
            recipients: recipients.map((r) => r.address),
            date: new Date(receivedAt),
          }),
          expiresAt: receivedAt + this.deps.lifetimeMs,
        },
        body,
        lease ?? undefined,
      ).catch((err: unknown) => {
        if (lease) this.deps.delivery.unreserve();
        throw err;
      });
      log.info({ from: mailFrom, rcpts: recipients.length, size: body.size, client: session.remoteAddress }, 'queued');
      callback(null, `Ok: queued as ${id}`);
      if (lease) this.deps.delivery.deliverNow(accepted);
      else this.deps.delivery.queued();
    } catch (err) {
      await writer.abort().catch(() => undefined);
      if (stream.destroyed && !stream.readableEnded) {
        log.info({ client: session.remoteAddress }, 'client went away during DATA; nothing kept');
        callback(err as Error);
        return;
      }
      log.error({ err }, 'could not store the message; the client was told to try again');
      callback(smtpError(452, '4.3.1', 'Insufficient system storage: the message could not be stored; try again later'));
    }
  }
}

/**
 * stream -> guard -> writer, settling when the writer has finished or anything failed.
 * (stream.pipeline does the same but allocates an AbortController per call, which shows
 * on the accept path; the client going away mid-DATA destroys `stream` with an error.)
 */
function pump(stream: SMTPServerDataStream, guard: LineEndingGuard, writer: BodyWriter): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (err: Error | null | undefined) => reject(err ?? new Error('the client went away during DATA'));
    stream.once('error', fail);
    stream.once('close', () => {
      if (!stream.readableEnded) fail(null);
    });
    guard.once('error', fail);
    writer.once('error', fail);
    writer.once('finish', () => resolve());
    stream.pipe(guard).pipe(writer);
  });
}
