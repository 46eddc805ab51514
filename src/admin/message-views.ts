/**
 * One message as the console shows it: the store's detail (envelope, recipients, attempts with
 * the upstream's words, verdicts, diagnoses, fixes and the node of each; a bounced recipient's
 * reply and diagnosis are those of Microsoft's non-delivery report) plus its headers, read
 * from the stored body's header block only (mailsplit stops there; the body is never loaded),
 * and, when Microsoft 365 may still bounce it unheard, where its reports go (bounceNote).
 */
import { PassThrough, type Readable } from 'node:stream';
import type { Headers } from '@zone-eu/mailsplit';
import libmime from 'libmime';
import { readRootHeaders } from '../mime/from-header.js';
import { MESSAGE_ID_PATTERN } from '../queue/ids.js';
import type { RouteConfig } from '../config/routes.js';
import { State, type Action } from '../queue/states.js';
import type { ActionOutcome, BounceReader, MessageDetail, Store } from '../queue/store.js';

export interface HeaderField {
  name: string;
  value: string;
}

export interface MessageView extends MessageDetail {
  headers: HeaderField[];
  /** Said once for the message: Microsoft 365 may still bounce a delivered recipient, and relay365 would not hear it; null when it would. */
  bounceNote: string | null;
}

/** Routes whose mailbox receives Microsoft's non-delivery reports for what they deliver. */
const MAILBOX_ROUTES = new Set(['graph', 'smtp-oauth', 'smtp-basic']);

/**
 * What to say about delivered recipients that Microsoft 365 may still bounce: accepted mail can
 * come back later as a non-delivery report to the route's mailbox, which relay365 reads only on
 * graph routes with bounces.read: graph and Mail.Read granted. Null when every delivered
 * recipient's reports are read (or none can come back to a mailbox).
 */
export function bounceNote(m: MessageDetail, routes: Record<string, RouteConfig>, readers: readonly BounceReader[]): string | null {
  const unread = new Map<string, { mailbox: string; why: string }>();
  for (const r of m.recipientDetails) {
    if (r.state !== State.delivered || !r.route || unread.has(r.route)) continue;
    const route = routes[r.route];
    if (!route || !MAILBOX_ROUTES.has(route.transport) || !('mailbox' in route)) continue;
    const problem = readers.find((x) => x.route === r.route)?.problem;
    const why =
      route.transport !== 'graph'
        ? `relay365 reads them only on graph routes; route ${r.route} is ${route.transport}`
        : route.bounces.read === 'off'
          ? `routes.${r.route}.bounces.read is off`
          : problem
            ? problem
            : null;
    if (why) unread.set(r.route, { mailbox: route.mailbox, why });
  }
  if (unread.size === 0) return null;
  const where = [...unread].map(([route, u]) => `${u.mailbox} (the mailbox of route ${route}; ${u.why})`).join(', and ');
  return `Microsoft 365 accepted this message, but may still bounce it: an address it cannot deliver to comes back later as a non-delivery report to ${where}. relay365 does not read those reports, so "delivered" here means accepted by Microsoft 365; look in that mailbox's Inbox for "Undeliverable" reports.`;
}

/** The header block's fields in order, encoded words decoded. */
export async function readHeaders(body: Readable): Promise<HeaderField[]> {
  const headers = await readRootHeaders(body);
  return headers ? fieldsOf(headers) : [];
}

function fieldsOf(headers: Headers): HeaderField[] {
  const fields: HeaderField[] = [];
  const seen = new Set<string>();
  for (const { key, line } of headers.getList()) {
    if (seen.has(key)) continue;
    seen.add(key);
    const name = line.slice(0, line.indexOf(':')).trim() || key;
    // mailsplit unfolds the value; the encoded words (RFC 2047) are libmime's to decode.
    for (const decoded of headers.getDecoded(key)) fields.push({ name, value: libmime.decodeWords(decoded.value) });
  }
  return fields;
}

export async function messageView(store: Store, id: string, routes: Record<string, RouteConfig>): Promise<MessageView | null> {
  if (!MESSAGE_ID_PATTERN.test(id)) return null;
  const detail = await store.get(id);
  if (!detail) return null;
  const headers = await readHeaders(await store.openBody(id)).catch(() => [] as HeaderField[]);
  return { ...detail, headers, bounceNote: bounceNote(detail, routes, await store.bounceReaders()) };
}

/** The message as it is delivered: this relay's Received header, then the stored body, streamed. */
export async function emlStream(store: Store, id: string): Promise<{ stream: Readable; size: number } | null> {
  if (!MESSAGE_ID_PATTERN.test(id)) return null;
  const detail = await store.get(id);
  if (!detail) return null;
  const body = await store.openBody(id);
  const out = new PassThrough();
  out.write(detail.receivedHeader);
  body.on('error', (err) => out.destroy(err));
  body.pipe(out);
  return { stream: out, size: Buffer.byteLength(detail.receivedHeader) + detail.size };
}

export interface ActionResult {
  id: string;
  ok: boolean;
  /** The new state; null when deleted. */
  state?: string | null;
  /** Why not, in words. */
  error?: string;
}

/** Retry, cancel or delete messages by id, one by one (what `relay365 queue retry|cancel|delete` does too). */
export async function actOn(store: Store, ids: string[], action: Extract<Action, 'retry' | 'cancel' | 'delete'>, by: string, now = Date.now()): Promise<ActionResult[]> {
  const results: ActionResult[] = [];
  for (const id of ids) {
    if (!MESSAGE_ID_PATTERN.test(id)) {
      results.push({ id, ok: false, error: 'not a message id' });
      continue;
    }
    const outcome: ActionOutcome = await store.act(id, action, now, action === 'retry' ? undefined : `${action === 'cancel' ? 'cancelled' : 'deleted'} by ${by}`);
    if (outcome.ok) results.push({ id, ok: true, state: outcome.state });
    else results.push({ id, ok: false, error: outcome.reason === 'not-found' ? 'no such message' : `cannot ${action} a message that is ${outcome.state}` });
  }
  return results;
}
