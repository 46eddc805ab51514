/**
 * An SMTP listener: smtp-server with relay365's rules at its hooks. Who may connect,
 * authenticate and send what is the door's business (policy/door.ts); taking the message
 * in and committing it is receive.ts's. The client hears "250 2.0.0 Ok: queued as <id>"
 * only once the store has committed message, envelope and body.
 */
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { SMTPServerAddress, SMTPServerAuthentication, SMTPServerSession } from 'smtp-server';
import type { ListenerConfig } from '../config/schema.js';
import type { DeliveryIntake } from '../delivery/scheduler.js';
import type { App } from '../policy/apps.js';
import type { Door, Refusal, SizeLimit } from '../policy/door.js';
import type { Store } from '../queue/store.js';
import { RelaySmtpServer, smtpError, type RelaySmtpServerOptions } from './connection.js';
import { receive } from './receive.js';
import type { TlsIdentity } from './tls.js';

export interface IngressDeps {
  store: Store;
  /** Delivery: a free slot is reserved before the commit, and the message handed over after it. */
  delivery: DeliveryIntake;
  door: Door;
  log: Logger;
  hostname: string;
  lifetimeMs: number;
  tls: TlsIdentity | null;
}

type Callback = (err?: Error | null) => void;

/** When a listener lets a session AUTH (docs: only after STARTTLS, unless trustedPlaintext). */
function authOn(config: ListenerConfig, appsUseAuth: boolean): RelaySmtpServerOptions['auth'] {
  if (!appsUseAuth) return 'off';
  if (config.trustedPlaintext) return 'plaintext';
  return config.tls.mode === 'none' ? 'off' : 'tls';
}
const refused = (r: Refusal) => smtpError(r.code, r.enhanced, r.text);
const isRefusal = (value: object): value is Refusal => 'code' in value && 'enhanced' in value;

export class SmtpListener {
  private readonly server: RelaySmtpServer;
  private readonly log: Logger;
  /** Each connection's app, as decided at MAIL FROM (connection ids are smtp-server's). */
  private readonly appOf = new Map<string, App>();
  /** Connections that hold a place in the door's per-address count. */
  private readonly counted = new Set<string>();
  /** This listener's maxMessageSize, as the 552 names it. */
  private readonly sizeLimit: SizeLimit;

  constructor(
    readonly name: string,
    private readonly config: ListenerConfig,
    private readonly deps: IngressDeps,
  ) {
    this.log = deps.log.child({ listener: name });
    this.sizeLimit = { bytes: config.maxMessageSize, of: `listener "${name}"`, key: `listeners.${name}.maxMessageSize` };
    const receiveDeps = { ...deps, log: this.log, listener: name, config, sizeLimit: this.sizeLimit }; // once, not per message
    const tls = deps.tls;
    this.server = new RelaySmtpServer({
      name: deps.hostname,
      banner: 'relay365 ready',
      greetingDelay: config.greetingDelay,
      secure: config.tls.mode === 'implicit',
      hideSTARTTLS: config.tls.mode === 'none',
      // Hidden is not off: smtp-server would still answer STARTTLS, with the test key it ships.
      disabledCommands: config.tls.mode === 'none' ? ['STARTTLS'] : [],
      ...(tls ? { key: tls.key, cert: tls.cert } : {}),
      minVersion: config.tls.minVersion,
      size: config.maxMessageSize,
      authOptional: true,
      // DSN (RFC 3461): smtp-server checks NOTIFY, RET, ENVID and ORCPT; they are kept with the
      // message and its recipients (mailParams, recipient params) for src/notify's DSNs.
      hideDSN: false,
      authMethods: ['PLAIN', 'LOGIN'],
      // Only apps with a password can use AUTH; without any, or on a plaintext listener that is
      // not trusted, it is not offered at all. Enforced by RelaySmtpServer (connection.ts).
      auth: authOn(config, deps.door.apps.usesAuth),
      // Through the door, so a reloaded config's networks count from the next connection on.
      isApp: (address) => deps.door.apps.byAddress(address) !== undefined,
      unauthenticated: { ...config.unauthenticated, key: `listeners.${name}.unauthenticated` },
      allowInsecureAuth: config.trustedPlaintext,
      disableReverseLookup: true,
      maxClients: config.maxConnections,
      socketTimeout: config.idleTimeout,
      closeTimeout: 30_000,
      logger: false,
      onConnect: (session, callback) => this.onConnect(session, callback),
      onClose: (session) => this.onClose(session),
      onAuth: (auth, session, callback) => void this.onAuth(auth, session, callback),
      onMailFrom: (address, session, callback) => void this.onMailFrom(address, session, callback),
      onRcptTo: (address, session, callback) => this.onRcptTo(address, session, callback),
      onData: (stream, session, callback) => {
        const app = this.appOf.get(session.id);
        if (!app) return callback(smtpError(503, '5.5.1', 'Error: MAIL FROM first'));
        void receive(stream, session, app, receiveDeps).then(
          (reply) => callback(reply.ok ? null : refused(reply), reply.ok ? reply.message : undefined),
        );
      },
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

  private onConnect(session: SMTPServerSession, callback: Callback): void {
    const refusal = this.deps.door.connect(session.remoteAddress, { name: this.name, restricted: this.config.restricted });
    if (refusal) {
      this.log.info({ client: session.remoteAddress, reply: `${refusal.code} ${refusal.enhanced}` }, 'connection refused');
      return callback(refused(refusal));
    }
    this.counted.add(session.id);
    callback();
  }

  private onClose(session: SMTPServerSession): void {
    this.appOf.delete(session.id);
    if (this.counted.delete(session.id)) this.deps.door.disconnect(session.remoteAddress);
  }

  private async onAuth(auth: SMTPServerAuthentication, session: SMTPServerSession, callback: (err: Error | null | undefined, response?: { user: string }) => void): Promise<void> {
    const result = await this.deps.door.authenticate(auth.username ?? '', auth.password ?? '', session.remoteAddress);
    if (isRefusal(result)) return callback(refused(result));
    this.log.info({ client: session.remoteAddress, app: result.name }, 'authenticated');
    callback(null, { user: result.name });
  }

  private async onMailFrom(address: SMTPServerAddress, session: SMTPServerSession, callback: Callback): Promise<void> {
    const size = address.args && typeof address.args.SIZE === 'string' ? Number(address.args.SIZE) : null;
    let result: Awaited<ReturnType<Door['mailFrom']>>;
    try {
      result = await this.deps.door.mailFrom(session, address.address, size, this.sizeLimit);
    } catch (err) {
      // The app's rate limit is read from the store: without it, the sender may try again later.
      this.log.error({ err, client: session.remoteAddress }, 'MAIL FROM could not be checked: the store did not answer');
      return callback(smtpError(451, '4.3.0', 'Temporary local problem; try again later'));
    }
    if (isRefusal(result)) return callback(refused(result));
    this.appOf.set(session.id, result.app);
    // smtp-server keeps this object as the envelope sender: the door's form of it is what is stored.
    address.address = result.address;
    callback();
  }

  private onRcptTo(address: SMTPServerAddress, session: SMTPServerSession, callback: Callback): void {
    const count = session.envelope.rcptTo.length;
    if (count >= this.config.maxRecipients) {
      return callback(smtpError(452, '4.5.3', `Too many recipients: at most ${this.config.maxRecipients} per message; send the rest in another message`));
    }
    const app = this.appOf.get(session.id);
    if (!app) return callback(smtpError(503, '5.5.1', 'Error: MAIL FROM first'));
    const mailFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
    const result = this.deps.door.rcptTo(app, mailFrom, address.address, count);
    if (isRefusal(result)) return callback(refused(result));
    address.address = result.address;
    callback();
  }
}
