/**
 * The door: every decision the SMTP listeners make about who may send what, in one place,
 * called from smtp-server's hooks (ingress/listener.ts). Each answer is either the go-ahead
 * (with the address as relay365 will keep it) or a refusal that names the address and the
 * rule — a relay that accepts what it should not only moves the error where no one looks.
 */
import type { Logger } from 'pino';
import type { ProtectionConfig } from '../config/schema.js';
import type { Originators } from '../mime/from-header.js';
import type { Store } from '../queue/store.js';
import { AppDirectory, type App } from './apps.js';
import type { Predictions } from './predict.js';
import { humanSize } from '../config/fields.js';
import { maskSecret } from '../config/secrets.js';
import { ConnectionsPerAddress } from './protection.js';
import { isBelowCurrentCost } from './passwords.js';
import { SignInGuard } from './sign-in-guard.js';
import { checkHeaderFrom, checkRecipient, checkSender, withDefaultDomain, type Refusal } from './rules.js';

export type { Refusal } from './rules.js';

/**
 * A size limit as the client hears of it: the bytes, what it is the limit of (listener
 * "default", app "erp", the HTTP API) and the config key that sets it.
 */
export interface SizeLimit {
  bytes: number;
  of: string;
  key: string;
}

const MINUTE = 60_000;
const DAY = 86_400_000;

export class Door {
  /** AUTH attempts: counted before the password is checked, cool-downs, slow-downs, checks at once. */
  private readonly failures: SignInGuard;
  private readonly connections: ConnectionsPerAddress;

  constructor(
    private appDirectory: AppDirectory,
    private predictions: Predictions,
    private readonly store: Store,
    protection: ProtectionConfig,
    private readonly log: Logger,
  ) {
    const { max, window, coolDown, perUser, slowDown, trustSignedIn } = protection.authFailures;
    this.failures = new SignInGuard(store, 'smtp', {
      limits: { address: { max, windowMs: window, coolDownMs: coolDown }, user: { max: perUser, windowMs: window, slowDownMs: slowDown }, trustMs: trustSignedIn },
      atOnce: protection.authAtOnce,
    });
    this.connections = new ConnectionsPerAddress(protection.connectionsPerAddress);
    for (const app of appDirectory.list()) {
      if (app.config.auth && isBelowCurrentCost(app.config.auth.passwordHash)) {
        log.warn({ app: app.name }, `apps.${app.name}.auth.passwordHash was made with less scrypt work than new hashes get: it works, but is cheaper to guess; make a new one with \`relay365 app passwd ${app.name}\``);
      }
    }
  }

  get apps(): AppDirectory {
    return this.appDirectory;
  }

  /**
   * The apps and route predictions of a reloaded config (SIGHUP). Sessions already past
   * MAIL FROM finish under the app they started with; counts of connections and failed AUTH
   * attempts carry on.
   */
  reload(apps: AppDirectory, predictions: Predictions): void {
    this.appDirectory = apps;
    this.predictions = predictions;
  }

  /** A new connection; on success it holds a place for its address until disconnect(). */
  connect(address: string, listener: { name: string; restricted: boolean }): Refusal | null {
    const cooling = this.failures.coolingDownUntil(address);
    if (cooling) return coolingDown(address, cooling);
    if (listener.restricted && !this.apps.isKnownAddress(address)) {
      return { code: 554, enhanced: '5.7.1', text: `${address} may not use this relay: listener ${listener.name} only takes connections from the networks of configured apps` };
    }
    if (!this.connections.take(address)) return { code: 421, enhanced: '4.7.0', text: `Too many connections from ${address}; try again in a moment` };
    return null;
  }

  disconnect(address: string): void {
    this.connections.release(address);
  }

  async authenticate(user: string, password: string, address: string): Promise<App | Refusal> {
    // The user field may hold a password typed in the wrong place: only a configured app's user is logged as it is.
    const shown = { client: address, user: this.apps.appOfUser(user) ? user : maskSecret(user) };
    try {
      const outcome = await this.failures.attempt(address, user, () => this.apps.authenticate(user, password));
      if (outcome.ok) return outcome.value;
      switch (outcome.refusal) {
        case 'wrong':
          this.log.warn({ ...shown, coolDownUntil: outcome.coolDownUntil ? new Date(outcome.coolDownUntil).toISOString() : undefined }, 'AUTH failed');
          return outcome.coolDownUntil ? coolingDown(address, outcome.coolDownUntil) : { code: 535, enhanced: '5.7.8', text: 'Authentication credentials invalid' };
        case 'cooling-down':
          this.log.warn({ ...shown, coolDownUntil: new Date(outcome.until).toISOString() }, 'AUTH refused: the address is cooling down');
          return coolingDown(address, outcome.until);
        case 'slowed-down':
          this.log.warn({ ...shown, slowDownUntil: new Date(outcome.until).toISOString() }, 'AUTH refused: too many failed attempts for this user, slowed down');
          return { code: 454, enhanced: '4.7.0', text: `Too many failed AUTH attempts for this user; try again after ${new Date(outcome.until).toISOString()}` };
        case 'busy':
          this.log.warn({ ...shown, busy: outcome.of }, 'AUTH refused: too many attempts at once');
          return { code: 454, enhanced: '4.7.0', text: `${busy[outcome.of](address)}; try again in a moment` };
      }
    } catch (err) {
      this.log.error({ err, client: address }, 'AUTH could not be checked: the store did not answer');
      return { code: 454, enhanced: '4.7.0', text: 'Temporary authentication failure; try again later' };
    }
  }

  /** The app of a session: the one it authenticated as, or the one its address belongs to. */
  appOf(session: { user?: unknown; remoteAddress: string }): App | undefined {
    return typeof session.user === 'string' ? this.apps.get(session.user) : this.apps.byAddress(session.remoteAddress);
  }

  /**
   * MAIL FROM: the app, its sender rules, and the size the client declares (SIZE=, or the HTTP
   * message's length) against the smaller of the way in's limit and the app's — refused here,
   * before any of the message is sent.
   */
  async mailFrom(session: { user?: unknown; remoteAddress: string }, address: string, declaredSize: number | null, way: SizeLimit): Promise<{ app: App; address: string } | Refusal> {
    const app = this.appOf(session);
    if (!app) return { code: 530, enhanced: '5.7.0', text: `Authentication required: ${session.remoteAddress} is not in the networks of any app, so it must AUTH` };
    const sender = withDefaultDomain(app, address);
    const refusal = checkSender(app, sender) ?? this.predictions.sender(app, sender);
    if (refusal) return refusal;
    const size = this.sizeLimit(app, way);
    if (declaredSize !== null && declaredSize > size.bytes) return size.refusal;
    const perMinute = app.config.limits.messagesPerMinute;
    if (perMinute !== undefined) {
      const usage = await this.store.sendUsage(`app:${app.name}`, Date.now(), this.limits(app));
      if (usage.messagesThisMinute >= perMinute) return rateRefusal(app, 'messages', usage.messagesThisMinute, null);
    }
    return { app, address: sender };
  }

  rcptTo(app: App, mailFrom: string, address: string, already: number): { address: string } | Refusal {
    const recipient = withDefaultDomain(app, address);
    return checkRecipient(app, recipient, already) ?? this.predictions.recipient(app, mailFrom, recipient) ?? { address: recipient };
  }

  /**
   * The largest message this app may send through a way in with its own limit, and the refusal
   * beyond it: the smaller of the two limits, named with its key.
   */
  sizeLimit(app: App, way: SizeLimit): { bytes: number; refusal: Refusal } {
    const limit = appSizeLimit(app);
    const smaller = limit && limit.bytes <= way.bytes ? limit : way;
    return { bytes: smaller.bytes, refusal: tooBig(smaller) };
  }

  /**
   * After DATA: the message's size and header From (the app's rule, then what its routes' mailboxes
   * may send as), then the app's budget (reserved for this message).
   */
  async afterData(app: App, size: number, originators: Originators | null, envelope: { mailFrom: string; recipients: readonly string[] }): Promise<Refusal | null> {
    const limit = appSizeLimit(app);
    if (limit && size > limit.bytes) return tooBig(limit);
    // The routes see the From the door wrote (apps.<app>.rewrite.from), not the application's.
    const from = app.config.rewrite?.from ? app.config.rewrite.to : (originators?.from[0]?.address ?? null);
    const refusal = checkHeaderFrom(app, originators) ?? this.predictions.headerFrom(app, envelope.mailFrom, envelope.recipients, from);
    if (refusal) return refusal;
    const recipients = envelope.recipients.length;
    const { messagesPerMinute, recipientsPerDay } = app.config.limits;
    if (messagesPerMinute === undefined && recipientsPerDay === undefined) return null;
    const reserved = await this.store.reserveSend(`app:${app.name}`, recipients, Date.now(), this.limits(app));
    return reserved.ok ? null : rateRefusal(app, reserved.limit, reserved.used, reserved.until);
  }

  /** Whether DATA must be read for the From and Sender headers (a check, a route's sender.allowed, or a rewrite that must be the only From). */
  readsFrom(app: App): boolean {
    return app.config.from.length > 0 || Boolean(app.config.rewrite?.from) || this.predictions.checksHeaderFrom();
  }

  private limits(app: App) {
    return { messages: app.config.limits.messagesPerMinute ?? Number.MAX_SAFE_INTEGER, minuteMs: MINUTE, recipients: app.config.limits.recipientsPerDay ?? Number.MAX_SAFE_INTEGER, dayMs: DAY };
  }
}

const busy = {
  address: (address: string) => `Too many AUTH attempts at once from ${address}`,
  user: () => 'Too many AUTH attempts at once for this user',
  node: () => 'This relay is checking too many passwords at once',
};

function coolingDown(address: string, until: number): Refusal {
  return { code: 421, enhanced: '4.7.0', text: `Too many failed AUTH attempts from ${address}; try again after ${new Date(until).toISOString()}` };
}

function appSizeLimit(app: App): SizeLimit | null {
  const max = app.config.limits.maxMessageSize;
  return max === undefined ? null : { bytes: max, of: `app "${app.name}"`, key: `apps.${app.name}.limits.maxMessageSize` };
}

function tooBig(limit: SizeLimit): Refusal {
  return { code: 552, enhanced: '5.3.4', text: `Message too big: ${humanSize(limit.bytes)} is the limit of ${limit.of} (${limit.key})` };
}

function rateRefusal(app: App, limit: 'messages' | 'recipients', used: number, until: number | null): Refusal {
  const rule = limit === 'messages' ? `${used} messages in the last minute (apps.${app.name}.limits.messagesPerMinute)` : `${used} recipients in the last 24 hours (apps.${app.name}.limits.recipientsPerDay)`;
  return { code: 451, enhanced: '4.7.1', text: `App ${app.name} has sent ${rule}; try again${until ? ` after ${new Date(until).toISOString()}` : ' in a minute'}` };
}
