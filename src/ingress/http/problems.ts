/**
 * RFC 7807 problem documents: every error of the HTTP submission API is one, with a type
 * the client can branch on, a title, and a detail that names the field, the address or the
 * rule — the HTTP form of the door's SMTP refusals. docs/http-api.md lists the types.
 */
import type { FastifyReply } from 'fastify';
import type { Refusal } from '../../policy/door.js';

export const PROBLEM_TYPES = {
  unauthorized: { status: 401, title: 'Missing or unknown API token' },
  'unsupported-media-type': { status: 415, title: 'Send message/rfc822 or application/json' },
  'invalid-json': { status: 400, title: 'The request body is not valid JSON' },
  'invalid-request': { status: 422, title: 'The message is not valid' },
  'missing-recipient': { status: 422, title: 'The message has no recipient' },
  'missing-sender': { status: 422, title: 'The message has no sender' },
  'bad-address': { status: 422, title: 'An address is not valid' },
  'header-injection': { status: 422, title: 'A header contains a line break' },
  'too-many-recipients': { status: 422, title: 'Too many recipients' },
  'too-large': { status: 413, title: 'The message is too large' },
  'policy-refused': { status: 403, title: 'The app may not send this message' },
  'rate-limited': { status: 429, title: 'The app has reached its sending limit' },
  'try-again': { status: 503, title: 'The message could not be stored; try again' },
  busy: { status: 503, title: 'The API is taking as many submissions as it can; try again shortly' },
  'bad-idempotency-key': { status: 400, title: 'The Idempotency-Key header is not valid' },
  'idempotency-key-reused': { status: 422, title: 'The Idempotency-Key was used for another request' },
  'idempotency-key-in-use': { status: 409, title: 'A request with this Idempotency-Key is still being processed' },
  'not-found': { status: 404, title: 'No such resource' },
} as const;

export type ProblemType = keyof typeof PROBLEM_TYPES;

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  [extension: string]: unknown;
}

export const problemUri = (type: ProblemType) => `urn:relay365:problem:${type}`;

export function problem(type: ProblemType, detail: string, extensions: Record<string, unknown> = {}): Problem {
  const { status, title } = PROBLEM_TYPES[type];
  return { type: problemUri(type), title, status, detail, ...extensions };
}

/** The door's refusal, as a problem: 4xx SMTP replies are "try again", 5xx are final. */
export function fromRefusal(refusal: Refusal, field?: string): Problem {
  const smtp = { reply: `${refusal.code} ${refusal.enhanced} ${refusal.text}` };
  const where = field ? { field } : {};
  if (refusal.enhanced === '5.3.4') return problem('too-large', refusal.text, { ...smtp, ...where });
  if (refusal.code === 451 || refusal.code === 421) return problem('rate-limited', refusal.text, { ...smtp, ...where });
  if (refusal.enhanced === '4.5.3') return problem('too-many-recipients', refusal.text, { ...smtp, ...where });
  if (refusal.code >= 400 && refusal.code < 500) return problem('try-again', refusal.text, { ...smtp, ...where });
  if (refusal.enhanced === '5.1.3' || refusal.enhanced === '5.1.7') return problem('bad-address', refusal.text, { ...smtp, ...where });
  return problem('policy-refused', refusal.text, { ...smtp, ...where });
}

export function sendProblem(reply: FastifyReply, p: Problem): FastifyReply {
  if (p.status === 401) reply.header('WWW-Authenticate', 'Bearer realm="relay365"');
  if (p.status === 429 || p.status === 503) reply.header('Retry-After', p.type === problemUri('busy') ? '5' : '60');
  return reply.code(p.status).type('application/problem+json').send(p);
}
