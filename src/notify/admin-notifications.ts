/**
 * Mail to the relay's admins when something happens they should know before the users do:
 * the relay started or is stopping (with its last log lines attached), a route became held or
 * works again, a credential expires soon, the queue grows, a mailbox nears its daily budget.
 *
 * One notification per event kind and route per notify.admin.interval (the rest are counted
 * in the log, not mailed) — for the whole cluster when nodes share a store, except that each
 * node's own start and stop are its own events. A notification is a message in the queue (kind "notification"),
 * sent through the first healthy route of notify.admin.routes; when none is healthy it is
 * logged at error level and, if configured, POSTed to the webhook instead.
 */
import type { Logger } from 'pino';
import MailComposer from 'nodemailer/lib/mail-composer';
import type { AdminEventKind } from '../config/notify.js';
import type { Config } from '../config/schema.js';
import type { Store } from '../queue/store.js';
import { commitNotice, postmasterFor } from './notice.js';
import { postWebhook } from './webhook.js';

export interface AdminEvent {
  kind: AdminEventKind;
  /** The route (or mailbox) it is about; notifications are deduplicated per kind and route. */
  route?: string;
  /** Distinguishes events of one kind and route that must not be folded together (30 days, then 7). */
  detail?: string;
  subject: string;
  text: string;
  attachment?: { filename: string; content: string };
}

export type Delivered = 'queued' | 'webhook' | 'logged' | 'suppressed';

export interface AdminNotifierDeps {
  store: Store;
  config: Config;
  /** The routes the relay has, in config order. */
  routes: string[];
  node: string;
  log: Logger;
  /** New mail is in the queue: the scheduler should look. */
  queued: () => void;
}

export class AdminNotifier {
  private readonly log: Logger;

  constructor(private readonly deps: AdminNotifierDeps) {
    this.log = deps.log.child({ component: 'notify' });
  }

  /** Sends the event unless it is not wanted or was sent within the interval; returns what became of it. */
  async notify(event: AdminEvent, now = Date.now()): Promise<{ how: Delivered; id?: string }> {
    const admin = this.deps.config.notify.admin;
    if (!admin.events.includes(event.kind) || (!admin.recipients.length && !admin.webhook)) return { how: 'suppressed' };
    const own = event.kind === 'started' || event.kind === 'stopping' ? this.deps.node : '';
    const key = JSON.stringify([event.kind, event.route ?? '', event.detail ?? '', own]);
    if (!(await this.deps.store.takeNotificationSlot(key, now, admin.interval))) {
      this.log.debug({ event: event.kind, route: event.route }, 'admin notification already sent within notify.admin.interval');
      return { how: 'suppressed' };
    }
    const route = admin.recipients.length ? await this.healthyRoute() : null;
    if (route) {
      try {
        const id = await this.queue(event, route);
        this.log.info({ event: event.kind, route: event.route, via: route, notification: id }, `admin notification queued: ${event.subject}`);
        this.deps.queued();
        return { how: 'queued', id };
      } catch (err) {
        this.log.error({ err, event: event.kind }, 'could not queue the admin notification');
      }
    }
    // Loud, one line naming the event: the log is where an admin looks when mail is broken.
    this.log.error({ event: event.kind, route: event.route, text: event.text }, `ADMIN NOTIFICATION (no healthy route to mail it): ${event.subject}`);
    if (!admin.webhook) return { how: 'logged' };
    const ok = await postWebhook(
      admin.webhook,
      { event: event.kind, route: event.route ?? null, node: this.deps.node, subject: event.subject, text: event.text, at: new Date(now).toISOString() },
      this.log,
    );
    return { how: ok ? 'webhook' : 'logged' };
  }

  /** The first route of notify.admin.routes (or of all routes) that is neither held nor paused. */
  private async healthyRoute(): Promise<string | null> {
    const preferred = this.deps.config.notify.admin.routes;
    for (const route of preferred.length ? preferred : this.deps.routes) {
      if (!this.deps.routes.includes(route)) continue;
      if ((await this.deps.store.routeStatus(route)).state === 'active') return route;
    }
    return null;
  }

  private async queue(event: AdminEvent, route: string): Promise<string> {
    const { config, node, store } = this.deps;
    const from = postmasterFor(config, node, route);
    const subject = `[relay365 ${node}] ${event.subject}`;
    const mail = new MailComposer({
      from: `relay365 on ${node} <${from}>`,
      to: config.notify.admin.recipients,
      subject,
      text: `${event.text}\n\n-- \nrelay365 on ${node}, event "${event.kind}"${event.route ? ` (route ${event.route})` : ''}. At most one such mail per ${config.notify.admin.interval / 60_000} minutes (notify.admin.interval).\n`,
      headers: { 'Auto-Submitted': 'auto-generated', 'X-Relay365-Event': event.kind },
      ...(event.attachment ? { attachments: [{ filename: event.attachment.filename, content: event.attachment.content, contentType: 'text/plain; charset=utf-8' }] } : {}),
    });
    return commitNotice(
      store,
      { kind: 'notification', mailFrom: from, to: config.notify.admin.recipients, app: null, route, node, lifetimeMs: config.delivery.lifetime, subject },
      mail.compile().createReadStream(),
      [],
    );
  }
}
