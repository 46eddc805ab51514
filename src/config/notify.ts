/**
 * Telling people what happened: DSNs to the senders of mail that failed (RFC 3464) and
 * notifications to the relay's admins. Read by src/notify.
 */
import { z } from 'zod';
import { address, bool, duration, intInRange, oneOf, text } from './fields.js';
import { secretRefKind } from './secret-refs.js';

export const ADMIN_EVENTS = ['started', 'stopping', 'route-held', 'route-recovered', 'credential-expiry', 'queue-growing', 'mailbox-budget'] as const;
export type AdminEventKind = (typeof ADMIN_EVENTS)[number];

export const isWebhookUrl = (value: string) => /^https?:\/\/[^\s/]+/.test(value) && URL.canParse(value);

/**
 * A webhook URL is a bearer credential (whoever has it can post into the channel), so it is a
 * secret like a password: it may be a reference (env:/file:/enc:, checked again once resolved:
 * webhookProblem), and no message shows it.
 */
const webhookUrl = () =>
  text('an http:// or https:// URL').refine((v) => isWebhookUrl(v) || secretRefKind(v) !== null, {
    error: 'expected an http:// or https:// URL, or env:NAME, file:/path or enc:v1:… (the URL is a secret; it is not repeated here)',
  });

/** What is wrong with the resolved notify.admin.webhook, if anything (never the URL itself). */
export function webhookProblem(config: { notify: NotifyConfig }): string | null {
  const url = config.notify.admin.webhook;
  return url === undefined || isWebhookUrl(url) ? null : 'notify.admin.webhook: the reference does not hold an http:// or https:// URL (the value is a secret; it is not repeated here)';
}

export const notifySchema = z
  .strictObject({
    postmaster: address('the postmaster address')
      .optional()
      .describe('From address of DSNs and admin notifications. Default: the mailbox of the route the notice concerns or goes through (it may send as itself), else that of routing.default, else postmaster@<node.name>. Set it to an address the routes may send as (the route mailbox, or one it has Send As on).'),
    dsn: z
      .strictObject({
        enabled: bool().default(true).describe('Send DSNs (RFC 3464) to senders of mail that failed for good or expired; apps.<app>.dsn chooses where they go.'),
        delayWarning: duration().prefault('4h').describe('A recipient still not delivered after this long gets one delay warning (when its NOTIFY asks for DELAY, or gave none); 0: never.'),
      })
      .prefault({}),
    admin: z
      .strictObject({
        recipients: z.array(address('an admin address')).default([]).describe('Who gets admin notifications; empty: none are mailed (the webhook may still be).'),
        events: z.array(oneOf(ADMIN_EVENTS)).default([...ADMIN_EVENTS]).describe(`Which events to send: ${ADMIN_EVENTS.join(', ')}.`),
        interval: duration().prefault('1h').describe('At most one notification per event kind and route within this time (deduplication and rate limit).'),
        routes: z.array(text('a route name')).default([]).describe('Routes to send notifications through, in order of preference; the first one not held or paused is used. Empty: every route, in config order.'),
        webhook: webhookUrl()
          .optional()
          .describe('When no route is healthy (mail about broken mail cannot go through broken mail), the notification is POSTed here as JSON. A secret (whoever has the URL can post): best as env:NAME, file:/path or enc:v1:…; masked in config show and never logged.'),
        logLines: intInRange(0, 2000).default(200).describe('Last log lines attached to the "stopping" mail.'),
        queue: z
          .strictObject({
            deferred: intInRange(1, 100_000_000).default(1000).describe('queue-growing: more deferred messages than this…'),
            oldest: duration().prefault('6h').describe('…or a message waiting longer than this.'),
          })
          .prefault({}),
        budget: z.number().min(0.1).max(1).default(0.9).describe('mailbox-budget: a mailbox used this share of its daily recipient budget (pacing.recipientsPerDay).'),
      })
      .prefault({}),
  })
  .prefault({});

/** apps.<app>.dsn: who gets the app's DSNs — the envelope sender, nobody (no-reply senders), or a fixed address. */
export const appDsnTarget = () =>
  text('sender, none or an address')
    .refine((v) => v === 'sender' || v === 'none' || /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(v), { error: (iss) => `expected sender, none or an e-mail address, got ${JSON.stringify(iss.input)}` })
    .default('sender')
    .describe('Where DSNs about this app\'s mail go: sender (the envelope sender), none (no-reply senders nobody reads), or a fixed address.');

export type NotifyConfig = z.output<typeof notifySchema>;
