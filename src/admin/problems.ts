/**
 * Errors of the admin API as RFC 7807 problem documents (application/problem+json): a type
 * that names the problem, the HTTP status, a title, and a detail an admin can act on.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  [extra: string]: unknown;
}

const BASE = 'https://relay365.dev/problems/';

/** An error the API answers with as it is (anything else is a 500 with nothing internal in it). */
export class ProblemError extends Error {
  constructor(
    readonly status: number,
    readonly slug: string,
    readonly title: string,
    detail: string,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
  }

  toProblem(instance?: string): Problem {
    return { type: `${BASE}${this.slug}`, title: this.title, status: this.status, detail: this.message, ...(instance ? { instance } : {}), ...this.extra };
  }
}

export const notFound = (what: string) => new ProblemError(404, 'not-found', 'Not found', what);
export const badRequest = (detail: string, extra?: Record<string, unknown>) => new ProblemError(400, 'bad-request', 'Bad request', detail, extra);
export const conflict = (detail: string, extra?: Record<string, unknown>) => new ProblemError(409, 'wrong-state', 'Not possible in this state', detail, extra);

export function sendProblem(reply: FastifyReply, problem: Problem, headers: Record<string, string> = {}): FastifyReply {
  return reply.code(problem.status).headers(headers).type('application/problem+json').send(problem);
}

/** Fastify's error handler: our problems as they are, validation errors as 400, the rest as 500 (logged). */
export function problemHandler(log: Logger) {
  return (error: FastifyError | ProblemError, request: FastifyRequest, reply: FastifyReply) => {
    if (error instanceof ProblemError) return sendProblem(reply, error.toProblem(request.url.split('?')[0]), error.headers);
    if (error.validation) {
      return sendProblem(reply, { type: `${BASE}bad-request`, title: 'Bad request', status: 400, detail: error.message, instance: request.url.split('?')[0] });
    }
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status === 500) log.error({ err: error, url: request.url.split('?')[0], method: request.method }, 'admin API request failed');
    return sendProblem(reply, {
      type: `${BASE}${status === 500 ? 'internal' : 'bad-request'}`,
      title: status === 500 ? 'Internal error' : 'Bad request',
      status,
      detail: status === 500 ? 'The relay could not answer this request; its log says why.' : error.message,
    });
  };
}

export const problemSchema = {
  type: 'object',
  description: 'An RFC 7807 problem document.',
  properties: { type: { type: 'string' }, title: { type: 'string' }, status: { type: 'integer' }, detail: { type: 'string' }, instance: { type: 'string' } },
  required: ['type', 'title', 'status', 'detail'],
  additionalProperties: true,
} as const;
