/**
 * The last way out for an admin notification: when no route is healthy, mail about broken
 * mail cannot go through broken mail, so the notification is POSTed as JSON to
 * notify.admin.webhook (a chat or ticket system's incoming hook). Node's own fetch; a short
 * timeout, because this runs on the way down too (the "stopping" event). The URL is a bearer
 * credential: log lines show its scheme and host only, also inside an error's words.
 */
import type { Logger } from 'pino';
import { maskSecret } from '../config/secrets.js';

const TIMEOUT_MS = 5000;

export interface WebhookPayload {
  event: string;
  route: string | null;
  node: string;
  subject: string;
  text: string;
  at: string;
}

/** POSTs the payload; returns whether the hook took it (2xx). Never throws: the caller already logged the event. */
export async function postWebhook(url: string, payload: WebhookPayload, log: Logger): Promise<boolean> {
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'relay365' },
      body: JSON.stringify(payload),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    if (!response.ok) log.error({ event: payload.event, to: maskSecret(url), status: response.status }, `the notification webhook answered HTTP ${response.status}`);
    return response.ok;
  } catch (err) {
    const e = err as Error & { cause?: unknown };
    const said = (text: unknown) => String(text).replaceAll(url, maskSecret(url));
    log.error({ event: payload.event, to: maskSecret(url), error: said(e.message), ...(e.cause instanceof Error ? { cause: said(e.cause.message) } : {}) }, 'could not reach the notification webhook');
    return false;
  }
}
