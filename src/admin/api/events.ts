/**
 * /api/events/messages: Server-Sent Events that tell the console the queue moved (and, with
 * ?id=, that one message did), so its queue and message pages redraw without a reload.
 *
 * The store is watched, not this process: on a cluster another node delivers too, and the
 * store is what every node shares. One watch serves every open queue page (a second
 * browser adds no queries); it runs only while someone listens. A stream ends after a few
 * minutes and the browser reconnects; and before each event the caller is identified again,
 * so a session that expired or was signed out, or a revoked token, hears nothing more.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { MESSAGE_ID_PATTERN } from '../../queue/ids.js';
import type { Store } from '../../queue/store.js';
import type { AdminAuth } from '../auth.js';
import { badRequest } from '../problems.js';

/** How often the store is asked whether anything moved. */
const TICK_MS = 1000;
/** A comment line this often keeps proxies from closing a quiet stream. */
const KEEP_ALIVE_MS = 15_000;
/** A stream's life before the browser is asked to reconnect (and so to be signed in again). */
const STREAM_MS = 5 * 60_000;

type Listener = (counts: Record<string, number>) => void;

/** What changes when the queue moves: the counts by state, and the newest messages' states and attempts. */
async function queueMark(store: Store): Promise<{ mark: string; counts: Record<string, number> }> {
  const [counts, newest] = await Promise.all([store.countByState(), store.list({ limit: 20 })]);
  return { counts, mark: JSON.stringify([counts, newest.map((m) => [m.id, m.state, m.updatedAt, m.attemptCount])]) };
}

async function messageMark(store: Store, id: string): Promise<string> {
  const m = await store.get(id);
  return m ? JSON.stringify([m.state, m.updatedAt, m.attemptCount, m.notices.map((n) => [n.id, n.state]), m.recipientDetails.map((r) => [r.state, r.updatedAt])]) : 'gone';
}

/** The one watch of the queue shared by every stream. */
class QueueWatch {
  private readonly listeners = new Set<Listener>();
  private timer: NodeJS.Timeout | null = null;
  private last: string | null = null;

  constructor(private readonly store: Store) {}

  /** Resolves once the queue as it is now is known, so that what moves after is told. */
  async add(listener: Listener): Promise<() => void> {
    this.listeners.add(listener);
    if (!this.timer) {
      this.timer = setInterval(() => void this.tick(), TICK_MS);
      await this.tick();
    }
    return () => {
      this.listeners.delete(listener);
      if (!this.listeners.size && this.timer) {
        clearInterval(this.timer);
        this.timer = null;
        this.last = null;
      }
    };
  }

  private ticking = false;
  private async tick(): Promise<void> {
    if (this.ticking) return; // a slow store: skip a beat rather than pile queries up
    this.ticking = true;
    try {
      const { mark, counts } = await queueMark(this.store);
      if (this.last !== null && mark !== this.last) for (const listener of this.listeners) listener(counts);
      this.last = mark;
    } catch {
      // The store does not answer: /readyz says so; the pages keep what they show and the next tick tries again.
    } finally {
      this.ticking = false;
    }
  }
}

export function eventRoutes(app: FastifyInstance, store: Store, auth: AdminAuth): void {
  const watch = new QueueWatch(store);
  const open = new Set<FastifyReply>();
  app.addHook('preClose', async () => {
    for (const reply of open) reply.raw.end();
  });

  app.get<{ Querystring: { id?: string } }>(
    '/api/events/messages',
    {
      schema: {
        tags: ['messages'],
        summary: 'Server-Sent Events: `messages` when the queue moved (data: counts by state), and with ?id= `message` when that message did. The console redraws on them; reconnect when the stream ends.',
        querystring: { type: 'object', properties: { id: { type: 'string', description: 'Also watch this message.' } }, additionalProperties: false },
      },
    },
    async (request, reply) => {
      const id = request.query.id;
      if (id !== undefined && !MESSAGE_ID_PATTERN.test(id)) throw badRequest('id is not a message id');
      // A HEAD (a monitor checking the endpoint) gets the answer's head, not a stream that never ends.
      if (request.method === 'HEAD') return reply.type('text/event-stream; charset=utf-8').send();
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        ...(reply.getHeaders() as Record<string, string>),
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        'x-accel-buffering': 'no', // nginx would hold the events back otherwise
      });
      const write = (text: string) => {
        if (!raw.writableEnded && !raw.destroyed) raw.write(text);
      };
      /**
       * Before anything is told, the caller is asked for again, as a new request would be: a
       * signed-out session, a revoked token or a removed user ends the stream there.
       */
      const stillAllowed = async () => {
        try {
          await auth.identify(request);
          if (request.caller) return true;
        } catch {
          // a token that stopped working: identify throws its 401
        }
        raw.end();
        return false;
      };
      const send = async (event: string, data: unknown) => {
        if (await stillAllowed()) write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      };
      open.add(reply);
      const stopQueue = await watch.add((counts) => void send('messages', { at: Date.now(), counts }));
      let last: string | null = id ? await messageMark(store, id).catch(() => null) : null;
      let checking = false;
      const follow = id
        ? setInterval(async () => {
            if (checking) return;
            checking = true;
            try {
              const mark = await messageMark(store, id);
              if (mark !== last) await send('message', { at: Date.now(), id });
              last = mark;
            } catch {
              // as in QueueWatch.tick: the next tick tries again
            } finally {
              checking = false;
            }
          }, TICK_MS)
        : null;
      const keepAlive = setInterval(async () => {
        if (await stillAllowed()) write(': keep-alive\n\n');
      }, KEEP_ALIVE_MS);
      const end = setTimeout(() => raw.end(), STREAM_MS);
      const stop = () => {
        open.delete(reply);
        stopQueue();
        if (follow) clearInterval(follow);
        clearInterval(keepAlive);
        clearTimeout(end);
      };
      // The browser may have left while the store was asked.
      if (raw.destroyed) return stop();
      raw.on('close', stop);
      // From here on every move is told; the page fetches once on ready for what moved before.
      write('retry: 2000\n\n');
      write(`event: ready\ndata: ${JSON.stringify({ at: Date.now() })}\n\n`);
    },
  );
}
