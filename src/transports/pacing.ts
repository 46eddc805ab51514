/** The sending limits a route's mailbox has in Exchange Online, from the route's config. */
import type { RouteConfig } from '../config/schema.js';
import type { Pacing } from './transport.js';

/** Exchange Online: 3 SMTP connections or 4 Graph requests at once per mailbox. */
const DEFAULT_CONCURRENCY = { graph: 4, smtp: 3 } as const;

export function pacingOf(route: RouteConfig): Pacing | undefined {
  if (route.transport !== 'graph' && route.transport !== 'smtp-oauth' && route.transport !== 'smtp-basic') return undefined;
  const p = route.pacing;
  return {
    key: route.mailbox.toLowerCase(),
    limits: { messages: p.messagesPerMinute, minuteMs: p.minute, recipients: p.recipientsPerDay, dayMs: p.day },
    recipientsPerMessage: p.recipientsPerMessage,
    concurrency: p.concurrency ?? (route.transport === 'graph' ? DEFAULT_CONCURRENCY.graph : DEFAULT_CONCURRENCY.smtp),
  };
}
