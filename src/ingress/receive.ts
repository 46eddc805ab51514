/**
 * Taking a message in: the client's DATA streams through the size gate, the line-ending
 * guard (and, when the app has From rules, the From reader/rewriter) and the Message-ID
 * reader (which adds one when the app sent none) into the store's body writer; then From
 * is checked against the app, its budget reserved, and the message, its envelope, its
 * Message-ID and its body committed — only then is the answer 250. Anything short of that
 * gets a reply that says what went wrong, and nothing is kept. A message over the size limit
 * stops at the gate: nothing past the limit reaches the store, the rest of DATA is read and
 * dropped, and the answer is 552 5.3.4 naming the limit, what it is the limit of, and its key.
 */
import type { Readable, Transform, Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import type { ListenerConfig } from '../config/schema.js';
import type { DeliveryIntake } from '../delivery/scheduler.js';
import { fromHeaderStream, type Originators } from '../mime/from-header.js';
import { HeaderTap } from '../mime/header-tap.js';
import type { App } from '../policy/apps.js';
import type { Door, Refusal, SizeLimit } from '../policy/door.js';
import { newMessageId } from '../queue/ids.js';
import { metrics } from '../admin/metrics.js';
import type { Store } from '../queue/store.js';
import { LineEndingGuard } from './line-endings.js';
import { MessageTooLarge, SizeGate } from './size-gate.js';
import { receivedHeader } from './received.js';

export interface ReceiveDeps {
  store: Store;
  delivery: DeliveryIntake;
  door: Door;
  log: Logger;
  hostname: string;
  lifetimeMs: number;
  listener: string;
  config: Pick<ListenerConfig, 'bareLineEndings' | 'maxMessageSize'>;
  /** What config.maxMessageSize is the limit of, and its key (listener "default", listeners.default.maxMessageSize), for the 552. */
  sizeLimit: Pick<SizeLimit, 'of' | 'key'>;
}

/** What receive reads of a submission: SMTP's DATA stream and session, or the HTTP API's (ingress/http/submit.ts). */
export type IncomingData = Readable & Pick<SMTPServerDataStream, 'sizeExceeded' | 'byteLength'>;
export type IncomingSession = Pick<SMTPServerSession, 'remoteAddress' | 'envelope' | 'hostNameAppearsAs' | 'tlsOptions' | 'user'> & {
  /** How it came in, for the Received header: SMTP unless said otherwise. */
  via?: 'smtp' | 'http';
};

export type Reply = ({ ok: true; message: string }) | ({ ok: false } & Refusal);
const no = (code: number, enhanced: string, text: string): Reply => ({ ok: false, code, enhanced, text });

/** `id`: the message id, when the caller needed it before (an HTTP Idempotency-Key's claim names it). */
export async function receive(stream: IncomingData, session: IncomingSession, app: App, deps: ReceiveDeps, id = newMessageId(Date.now())): Promise<Reply> {
  const receivedAt = Date.now();
  const log = deps.log.child({ msgId: id, app: app.name });
  const limit = deps.door.sizeLimit(app, { ...deps.sizeLimit, bytes: deps.config.maxMessageSize });
  const gate = new SizeGate(limit.bytes);
  const writer = deps.store.createBodyWriter(id);
  const guard = new LineEndingGuard(deps.config.bareLineEndings);
  let originators: Originators | null = null;
  const rewrite = app.config.rewrite;
  const headers = deps.door.readsFrom(app)
    ? fromHeaderStream({ onOriginators: (found) => (originators = found), rewriteTo: rewrite?.from ? rewrite.to : undefined })
    : null;
  const tap = new HeaderTap(`<${id}@${deps.hostname}>`);
  try {
    await pump(stream, gate, guard, headers, tap, writer);
    if (guard.violation) {
      await writer.abort();
      log.info({ client: session.remoteAddress, violation: guard.violation }, 'refused: bare line ending in DATA');
      return no(550, '5.5.2', `Message refused: ${guard.violation} received; lines must end in CRLF (listener "${deps.listener}" has bareLineEndings: reject)`);
    }
    const envelope = session.envelope;
    const policy = await deps.door.afterData(app, stream.byteLength, originators, { mailFrom: envelope.mailFrom ? envelope.mailFrom.address : '', recipients: envelope.rcptTo.map((r) => r.address) });
    if (policy) {
      await writer.abort();
      log.info({ client: session.remoteAddress, reply: `${policy.code} ${policy.enhanced} ${policy.text}` }, 'refused by the app\'s rules');
      return { ok: false, ...policy };
    }
    const body = await writer.stored;
    const given = envelope.mailFrom ? envelope.mailFrom.address : '';
    const mailFrom = rewrite?.envelope && given ? rewrite.to : given;
    const recipients = envelope.rcptTo.map((r) => ({ address: r.address, params: r.args || {} }));
    const tls = session.tlsOptions ? { protocol: session.tlsOptions.version, cipher: session.tlsOptions.name } : null;
    const lease = deps.delivery.reserve();
    const accepted = await deps.store
      .accept(
        {
          id,
          receivedAt,
          listener: deps.listener,
          clientAddress: session.remoteAddress,
          clientHelo: session.hostNameAppearsAs || null,
          tls: tls ? `${tls.protocol} ${tls.cipher}` : null,
          app: app.name,
          mailFrom,
          mailParams: (envelope.mailFrom && envelope.mailFrom.args) || {},
          recipients,
          receivedHeader: receivedHeader({
            helo: session.hostNameAppearsAs || null,
            clientAddress: session.remoteAddress,
            hostname: deps.hostname,
            id,
            tls,
            authenticated: typeof session.user === 'string',
            via: session.via ?? 'smtp',
            recipients: recipients.map((r) => r.address),
            date: new Date(receivedAt),
          }),
          messageIdHeader: tap.messageId,
          expiresAt: receivedAt + deps.lifetimeMs,
          subject: tap.subject,
        },
        body,
        lease ?? undefined,
      )
      .catch((err: unknown) => {
        if (lease) deps.delivery.unreserve();
        throw err;
      });
    log.info({ from: mailFrom, rcpts: recipients.length, size: body.size, client: session.remoteAddress }, 'queued');
    metrics.received(app.name, deps.listener);
    if (lease) deps.delivery.deliverNow(accepted);
    else deps.delivery.queued();
    return { ok: true, message: `Ok: queued as ${id}` };
  } catch (err) {
    await writer.abort().catch(() => undefined);
    if (err instanceof MessageTooLarge) {
      discardRest(stream);
      log.info({ client: session.remoteAddress, seen: gate.seen, limit: limit.bytes }, 'refused: message too large; the rest of it is read and dropped');
      return { ok: false, ...limit.refusal };
    }
    if (stream.destroyed && !stream.readableEnded) {
      log.info({ client: session.remoteAddress }, 'client went away during DATA; nothing kept');
      return no(421, '4.4.2', 'Connection lost during DATA');
    }
    log.error({ err }, 'could not store the message; the client was told to try again');
    return no(452, '4.3.1', 'Insufficient system storage: the message could not be stored; try again later');
  }
}

/**
 * stream -> gate -> guard [-> From reader/rewriter] -> Message-ID reader -> writer, settling when the writer has
 * finished or anything failed. (stream.pipeline does the same but allocates an AbortController
 * per call, which shows on the accept path; the client going away mid-DATA destroys `stream`.)
 */
function pump(stream: IncomingData, gate: Transform, guard: Transform, from: { input: Transform; output: Transform } | null, tap: Transform, writer: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (err: Error | null | undefined) => reject(err ?? new Error('the client went away during DATA'));
    stream.once('error', fail);
    stream.once('close', () => {
      if (!stream.readableEnded) fail(null);
    });
    for (const stage of [gate, guard, from?.input, from?.output, tap]) stage?.once('error', fail);
    writer.once('error', fail);
    writer.once('finish', () => resolve());
    stream.pipe(gate).pipe(guard);
    const last = from ? (guard.pipe(from.input), from.output) : guard;
    last.pipe(tap).pipe(writer);
  });
}

/** Reads what the client still sends of a refused message and drops it: DATA must end before the 552 can be given. */
function discardRest(stream: IncomingData): void {
  stream.unpipe();
  stream.on('error', () => undefined); // a client that leaves now has been answered already
  stream.resume();
}
