/**
 * The HTTP submission API as a Fastify plugin: POST /api/v1/messages with a raw message
 * (message/rfc822) or JSON, authenticated with an app's API token. Registered by its own
 * listener (listener.ts) and mountable on any Fastify server (the admin server) as is; it
 * keeps its body parsers and error answers to itself (Fastify encapsulation).
 *
 * 202 means committed: the answer is sent after receive.ts has stored the message, exactly
 * as an SMTP 250. Every error is an RFC 7807 problem document (problems.ts).
 */
import { Transform } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { humanSize } from '../../config/fields.js';
import type { HttpConfig } from '../../config/schema.js';
import { envelopeFromHeaders } from '../../mime/envelope-headers.js';
import { ApiTokens } from '../../policy/api-tokens.js';
import type { App } from '../../policy/apps.js';
import type { Door } from '../../policy/door.js';
import { newMessageId } from '../../queue/ids.js';
import type { IdempotentAnswer } from '../../queue/store.js';
import type { ReceiveDeps } from '../receive.js';
import { composeJson, jsonMessageSchema } from './compose.js';
import { Admission, type Admitted } from './admission.js';
import { claimKey, fingerprint } from './idempotency.js';
import { problem, sendProblem, type Problem } from './problems.js';
import { submit } from './submit.js';

/** What the API needs of the running relay; a function, so that a reload (SIGHUP) is seen by the next request. */
export interface SubmissionContext {
  door: Door;
  tokens: ApiTokens;
  receive: Omit<ReceiveDeps, 'door' | 'listener' | 'config' | 'sizeLimit'>;
}

export interface SubmissionApiOptions {
  context: () => SubmissionContext;
  config: Pick<HttpConfig, 'maxMessageSize' | 'maxRecipients' | 'idempotencyTtl' | 'maxConcurrent' | 'maxBuffered'>;
  log: Logger;
  /** The listener name in logs and the store ("http"). */
  listener?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    relay365App?: App;
    relay365Admitted?: Admitted;
  }
}

/** What http.maxMessageSize is the limit of, as a too-large answer names it. */
const HTTP_SIZE = { of: 'the HTTP API', key: 'http.maxMessageSize' };

/** A body that would take the API past http.maxBuffered while it arrives (no Content-Length to reserve up front). */
const BUSY = 'RELAY365_BUSY';

const isProblem = (value: unknown): value is Problem => typeof value === 'object' && value !== null && 'type' in value && 'status' in value;
const accepted = (id: string): IdempotentAnswer => ({ status: 202, body: JSON.stringify({ id, status: 'queued' }) });

export const submissionApi: FastifyPluginAsync<SubmissionApiOptions> = async (api: FastifyInstance, options) => {
  const listener = options.listener ?? 'http';
  const log = options.log.child({ listener });
  // The body is kept as bytes: the raw message as it came, the JSON for the Idempotency-Key's fingerprint.
  const bodyLimit = options.config.maxMessageSize * 2 + 65_536; // JSON carries attachments as base64
  api.removeAllContentTypeParsers();
  api.addContentTypeParser(['message/rfc822', 'application/json'], { parseAs: 'buffer', bodyLimit }, (_request, body, done) => done(null, body));

  const admission = new Admission(options.config);
  const busy = (what: string) =>
    problem('busy', `${what}; try again in a few seconds (http.maxConcurrent is ${options.config.maxConcurrent} submissions, http.maxBuffered ${options.config.maxBuffered} bytes)`);

  api.setErrorHandler((err: { code?: string; statusCode?: number; message: string }, request, reply) => {
    if (err.code === BUSY) return sendProblem(reply, busy('The bodies of the submissions in progress fill the memory set aside for them'));
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return sendProblem(reply, problem('too-large', `The request is larger than this API takes for a message of at most ${humanSize(options.config.maxMessageSize)}, the limit of ${HTTP_SIZE.of} (${HTTP_SIZE.key})`));
    if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || err.code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH' || err.code === 'FST_ERR_CTP_EMPTY_TYPE') {
      return sendProblem(reply, problem('unsupported-media-type', `Content-Type ${JSON.stringify(request.headers['content-type'] ?? '')}: send message/rfc822 (a whole message) or application/json`));
    }
    if (err.statusCode && err.statusCode < 500) return sendProblem(reply, problem('invalid-request', err.message));
    log.error({ err }, 'HTTP submission failed');
    return sendProblem(reply, problem('try-again', 'The relay could not take the message; try again later'));
  });
  api.setNotFoundHandler((request, reply) => sendProblem(reply, problem('not-found', `${request.method} ${request.url.split('?')[0]}: the submission API is POST /api/v1/messages`)));

  api.addHook('onRequest', async (request, reply) => {
    const header = request.headers.authorization ?? '';
    const token = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
    const app = token ? options.context().tokens.appOf(token) : undefined;
    if (!app) {
      log.info({ client: request.ip, presented: token ? 'an unknown token' : 'no token' }, 'HTTP submission refused: not authenticated');
      return sendProblem(reply, problem('unauthorized', token ? 'The API token is not one of any app (apps.<app>.apiTokens); make one with `relay365 app token <app>`' : 'Send the app\'s API token as Authorization: Bearer <token>'));
    }
    request.relay365App = app;
    // A place and room for the body before any of it is read; both given back when the answer is sent or the client leaves.
    const admitted = admission.enter();
    if (!admitted) return refuse(reply, app, busy(`${options.config.maxConcurrent} submissions are being taken in already`));
    reply.raw.once('close', () => admitted.leave());
    const declared = Number(request.headers['content-length']);
    if (Number.isFinite(declared) && declared > 0 && !admitted.reserve(Math.min(declared, bodyLimit))) {
      admitted.leave();
      return refuse(reply, app, busy('The bodies of the submissions in progress fill the memory set aside for them'));
    }
    if (!(declared >= 0)) request.relay365Admitted = admitted;
  });

  // A body without Content-Length (chunked) takes its room as it arrives.
  api.addHook('preParsing', async (request, _reply, payload) => {
    const admitted = request.relay365Admitted;
    if (!admitted) return payload;
    const counted = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        if (admitted.reserve(chunk.length)) return callback(null, chunk);
        callback(Object.assign(new Error('the submissions in progress hold http.maxBuffered bytes'), { code: BUSY, statusCode: 503 }));
      },
    });
    payload.on('error', (err) => counted.destroy(err));
    return payload.pipe(counted);
  });

  api.post('/api/v1/messages', async (request, reply) => {
    const app = request.relay365App as App;
    const body = request.body as Buffer;
    const type = String(request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    const id = newMessageId(Date.now());
    const key = request.headers['idempotency-key'];
    let claim: Awaited<ReturnType<typeof claimKey>> | null = null;
    if (key !== undefined) {
      claim = await claimKey(options.context().receive.store, app.name, String(key), fingerprint(type, body), id, options.config.idempotencyTtl, accepted);
      if (claim.kind === 'problem') return refuse(reply, app, claim.problem);
      if (claim.kind === 'replay') {
        log.info({ app: app.name, msgId: JSON.parse(claim.answer.body).id }, 'HTTP submission repeated with the same Idempotency-Key: first answer given again');
        return reply.code(claim.answer.status).header('Idempotent-Replayed', 'true').type('application/json').send(claim.answer.body);
      }
    }
    const result = await take(request, app, type, body, id).catch(async (err: unknown) => {
      if (claim?.kind === 'new') await claim.release();
      throw err;
    });
    if (isProblem(result)) {
      if (claim?.kind === 'new') await claim.release(); // nothing was created: a retry may try again
      return refuse(reply, app, result);
    }
    const answer = accepted(result.id);
    if (claim?.kind === 'new') await claim.settle(answer).catch((err: unknown) => log.warn({ err, msgId: result.id }, 'could not keep the Idempotency-Key\'s answer; a retry finds the committed message anyway'));
    return reply.code(answer.status).type('application/json').send(answer.body);
  });

  async function take(request: FastifyRequest, app: App, type: string, body: Buffer, id: string) {
    const context = options.context();
    const deps: ReceiveDeps = { ...context.receive, door: context.door, listener, config: { bareLineEndings: 'normalize', maxMessageSize: options.config.maxMessageSize }, sizeLimit: HTTP_SIZE };
    const socket = request.raw.socket as Partial<TLSSocket>;
    const client = { address: request.ip, tls: typeof socket.getCipher === 'function' ? socket.getCipher() : null };
    const composed = type === 'application/json' ? await fromJson(body) : await fromRaw(request, body);
    if (isProblem(composed)) return composed;
    return submit({ app: context.door.apps.get(app.name) ?? app, ...composed, client, id }, context.door, deps);
  }

  async function fromJson(body: Buffer) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch (err) {
      return problem('invalid-json', (err as Error).message);
    }
    const checked = jsonMessageSchema.safeParse(parsed);
    if (!checked.success) {
      const issue = checked.error.issues[0]!;
      const field = issue.path.join('.') || '(body)';
      return problem('invalid-request', `${field}: ${issue.message}`, { field, errors: checked.error.issues.map((i) => ({ field: i.path.join('.'), message: i.message })) });
    }
    return composeJson(checked.data, options.config.maxRecipients);
  }

  async function fromRaw(request: FastifyRequest, body: Buffer) {
    if (!body.length) return problem('invalid-request', 'The request body is empty: send the whole message (headers, blank line, body)');
    const query = request.query as Record<string, string | string[] | undefined>;
    const list = (v: string | string[] | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
    const headers = await envelopeFromHeaders(body);
    const givenTo = list(query.to);
    if (!givenTo.length && headers.malformed.length) return problem('bad-address', `"${headers.malformed[0]}" in the message's To, Cc or Bcc is not an e-mail address`, { field: 'to' });
    const recipients = givenTo.length ? givenTo : headers.recipients;
    const from = list(query.from)[0] ?? headers.from?.address ?? '';
    for (const address of [from, ...recipients]) {
      if (/[\r\n]/.test(address)) return problem('header-injection', 'An address contains a line break', { field: address === from ? 'from' : 'to' });
    }
    if (!recipients.length) return problem('missing-recipient', 'The message has no To, Cc or Bcc, and no ?to= was given', { field: 'to' });
    if (recipients.length > options.config.maxRecipients) return problem('too-many-recipients', `${recipients.length} recipients; at most ${options.config.maxRecipients} per request (http.maxRecipients)`, { field: 'to' });
    if (!from) return problem('missing-sender', 'The message has no From, and no ?from= was given', { field: 'from' });
    const bad = [from, ...recipients].find((a) => !/^[^\s@<>]+@[^\s@<>]+$/.test(a));
    if (bad) return problem('bad-address', `"${bad}" is not an e-mail address`, { field: bad === from ? 'from' : 'to' });
    return { from, recipients, message: headers.message };
  }

  function refuse(reply: FastifyReply, app: App, p: Problem) {
    log.info({ app: app.name, problem: p.type.replace('urn:relay365:problem:', ''), detail: p.detail }, 'HTTP submission refused');
    return sendProblem(reply, p);
  }
};
