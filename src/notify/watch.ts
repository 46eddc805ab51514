/**
 * What the scheduler's maintenance (every 1–30 s) looks at for the admins: credentials that
 * run out within 30 or 7 days, a queue that grows (deferred messages over
 * notify.admin.queue.deferred, or one waiting longer than queue.oldest), and mailboxes that
 * used most of their daily recipient budget. Each finding is an AdminEvent; AdminNotifier
 * decides whether it is mailed now (one per kind and route per interval).
 */
import type { Config } from '../config/schema.js';
import { credentialExpiries } from '../credentials/expiry.js';
import { formatDuration } from '../delivery/format.js';
import type { Store } from '../queue/store.js';
import type { Transport } from '../transports/transport.js';
import type { AdminNotifier } from './admin-notifications.js';

export class HealthWatch {
  /** A check still running (a slow webhook) is not overtaken by the next. */
  private checking = false;

  constructor(
    private readonly notifier: AdminNotifier,
    private readonly store: Store,
    private readonly config: Config,
    private readonly transports: Map<string, Transport>,
  ) {}

  async check(now: number): Promise<void> {
    if (this.checking || (!this.config.notify.admin.recipients.length && !this.config.notify.admin.webhook)) return;
    this.checking = true;
    try {
      await this.look(now);
    } finally {
      this.checking = false;
    }
  }

  private async look(now: number): Promise<void> {
    for (const expiry of credentialExpiries(this.config, now)) {
      if (!expiry.warning) continue;
      await this.notifier.notify({ kind: 'credential-expiry', route: expiry.route, detail: expiry.level, subject: `The ${expiry.kind} of route ${expiry.route} ${expiry.level === 'expired' ? 'has expired' : `expires in ${expiry.daysLeft} days`}`, text: expiry.warning }, now);
    }
    const { deferred } = await this.store.countByState();
    const { deferred: limit, oldest } = this.config.notify.admin.queue;
    const since = await this.store.oldestWaitingAt();
    if (deferred > limit || (since !== null && now - since > oldest)) {
      const waited = since === null ? 0 : now - since;
      await this.notifier.notify(
        {
          kind: 'queue-growing',
          subject: deferred > limit ? `${deferred} messages are deferred` : `A message has waited ${formatDuration(waited)} for delivery`,
          text: `${deferred} messages wait for another try (notify.admin.queue.deferred: ${limit}); the oldest undelivered one arrived ${formatDuration(waited)} ago (notify.admin.queue.oldest: ${formatDuration(oldest)}). See \`relay365 queue list --state deferred\` for what Microsoft 365 answered.`,
        },
        now,
      );
    }
    for (const [route, transport] of this.transports) {
      const pacing = transport.pacing;
      if (!pacing) continue;
      const usage = await this.store.sendUsage(pacing.key, now, pacing.limits);
      const share = usage.recipientsToday / pacing.limits.recipients;
      if (share < this.config.notify.admin.budget) continue;
      await this.notifier.notify(
        {
          kind: 'mailbox-budget',
          route: pacing.key,
          subject: `${pacing.key} used ${Math.round(share * 100)}% of its daily recipient budget`,
          text: `The mailbox ${pacing.key} (route ${route}) sent to ${usage.recipientsToday} recipients in the last 24 hours; its budget is ${pacing.limits.recipients} (pacing.recipientsPerDay). Beyond it, its mail waits until the budget allows it.`,
        },
        now,
      );
    }
  }
}
