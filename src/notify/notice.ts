/**
 * A message relay365 writes itself (a DSN, an admin notification) enters the queue the way an
 * application's message does: its body streams into the store's body writer, and
 * Store.commitNotice commits it (with the marks of what it reports on) — then the scheduler
 * delivers it through the routes like any other.
 */
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { receivedHeader } from '../ingress/received.js';
import { newMessageId } from '../queue/ids.js';
import type { Config } from '../config/schema.js';
import { own } from '../config/own.js';
import type { MailParams, Notice, ReportMark, Store } from '../queue/store.js';

/**
 * A mail parameter no SMTP client can set (smtp-server upper-cases every parameter name): the
 * route a notification must take, chosen because it is healthy (delivery/router.ts honours it).
 */
export const ROUTE_PARAM = 'relay365-route';

/**
 * The From of what relay365 writes: notify.postmaster, else a route's mailbox — Microsoft 365
 * takes mail from a route only as its mailbox (or an address it has Send As on), so a
 * postmaster@ address of the relay's own would be refused with the notice.
 */
export function postmasterFor(config: Config, node: string, route: string | null): string {
  if (config.notify.postmaster) return config.notify.postmaster;
  const names = Object.keys(config.routes);
  for (const name of [route, config.routing.default, names.length === 1 ? names[0] : undefined]) {
    const r = name ? own(config.routes, name) : undefined;
    if (r && 'mailbox' in r && r.mailbox) return r.mailbox;
  }
  return `postmaster@${node}`;
}

export interface NoticeEnvelope {
  kind: Notice['kind'];
  /** "" for DSNs: the null sender, so a DSN is never bounced (RFC 3461 §6.2). */
  mailFrom: string;
  to: string[];
  /** The app whose routes it takes (a DSN travels as the original did); null for notifications. */
  app: string | null;
  route?: string;
  node: string;
  lifetimeMs: number;
  /** The message it reports on (a DSN's original). */
  about?: string;
  /** Its Subject, for the queue's list. */
  subject?: string;
}

/** Writes the message into the store and commits it with `marks`; returns its queue id. */
export async function commitNotice(store: Store, envelope: NoticeEnvelope, content: Readable, marks: ReportMark[]): Promise<string> {
  const receivedAt = Date.now();
  const id = newMessageId(receivedAt);
  const writer = store.createBodyWriter(id);
  try {
    await pipeline(content, writer);
    const body = await writer.stored;
    const mailParams: MailParams = envelope.route ? { [ROUTE_PARAM]: envelope.route } : {};
    const message = {
      id,
      receivedAt,
      listener: 'relay365',
      clientAddress: '127.0.0.1',
      clientHelo: null,
      tls: null,
      app: envelope.app,
      mailFrom: envelope.mailFrom,
      mailParams,
      recipients: envelope.to.map((address) => ({ address, params: { NOTIFY: 'NEVER' } })),
      receivedHeader: receivedHeader({
        helo: null,
        clientAddress: '127.0.0.1',
        hostname: envelope.node,
        id,
        tls: null,
        authenticated: false,
        via: 'local',
        recipients: envelope.to,
        date: new Date(receivedAt),
      }),
      expiresAt: receivedAt + envelope.lifetimeMs,
      subject: envelope.subject ?? null,
    };
    await store.commitNotice({ kind: envelope.kind, message, body, ...(envelope.about ? { about: envelope.about } : {}) }, marks, receivedAt);
    return id;
  } catch (err) {
    await writer.abort().catch(() => undefined);
    throw err;
  }
}
