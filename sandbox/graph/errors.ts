// Microsoft Graph's errors as Exchange Online returns them through Graph for mail: code, text, status.
//
// The rows of M365-FACTS.md ("Microsoft Graph sendMail") are reproduced word for word; the other
// texts are the ones Graph is seen to return (README.md, "Graph", marks those Microsoft does not
// document). Every error travels as `{"error":{"code","message","innerError":{...}}}` with the
// `request-id` and `client-request-id` headers, which `requestIds()` keeps stable per request.
import { randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { describe } from '../http-route.js';

export interface GraphError {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  /** Extra response headers (Retry-After on throttling, WWW-Authenticate on 401). */
  readonly headers?: Readonly<Record<string, string>>;
}

export type GraphOutcome<T> = { ok: true; value: T } | { ok: false; error: GraphError };
export const done = <T>(value: T): GraphOutcome<T> => ({ ok: true, value });
export const fail = <T = never>(error: GraphError): GraphOutcome<T> => ({ ok: false, error });

const graphError = (status: number, code: string, message: string, headers?: Record<string, string>): GraphError => ({ status, code, message, ...(headers ? { headers } : {}) });

/** Why a bearer token was refused, in the words Graph uses for each reason. */
const TOKEN_TEXTS = {
  empty: 'Access token is empty.',
  malformed: 'CompactToken parsing failed with error code: 80049217',
  bad_signature: 'Access token validation failure.',
  expired: 'Lifetime validation failed, the token is expired.',
  not_yet_valid: 'Lifetime validation failed, the token is not yet valid.',
  wrong_audience: 'Access token validation failure. Invalid audience.',
  unknown_tenant: 'Access token validation failure. Invalid issuer.',
} as const;

export type TokenProblem = keyof typeof TOKEN_TEXTS;

export const Graph = {
  // The rows of M365-FACTS.md.
  invalidBase64: () => graphError(400, 'ErrorMimeContentInvalidBase64String', 'Invalid base64 string for MIME content.'),
  sendAsDenied: () =>
    graphError(403, 'ErrorSendAsDenied', 'The user account which was used to submit this request does not have the right to send mail on behalf of the specified sending account., Cannot submit message.'),
  accessPolicyBlocked: () => graphError(403, 'ErrorAccessDenied', 'Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly AccessPolicy settings.'),
  mailboxNotEnabled: () => graphError(404, 'MailboxNotEnabledForRESTAPI', 'The mailbox is either inactive, soft-deleted, or is hosted on-premise.'),
  messageTooLarge: () => graphError(413, 'ErrorMessageSizeExceeded', 'The message exceeds the maximum supported size.'),
  throttled: (limit: 'MailboxConcurrency' | 'MailboxRequests' | 'IncomingBytes', retryAfterSeconds: number) =>
    graphError(429, 'ApplicationThrottled', `Application is over its ${limit} limit.`, { 'retry-after': String(Math.max(1, Math.ceil(retryAfterSeconds))) }),

  // Authentication and authorisation.
  invalidToken: (problem: TokenProblem, loginOrigin: string) =>
    graphError(401, 'InvalidAuthenticationToken', TOKEN_TEXTS[problem], {
      'www-authenticate': `Bearer realm="", authorization_uri="${loginOrigin}/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`,
    }),
  accessDenied: () => graphError(403, 'ErrorAccessDenied', 'Access is denied. Check credentials and try again.'),
  invalidUser: (id: string) => graphError(404, 'ErrorInvalidUser', `The requested user '${id}' is invalid.`),
  meRequiresDelegated: () => graphError(400, 'BadRequest', '/me request is only valid with delegated authentication flow.'),

  // The request and the message in it.
  emptyPayload: () => graphError(400, 'BadRequest', 'Empty Payload. JSON content expected.'),
  invalidJson: () => graphError(400, 'BadRequest', 'Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.'),
  invalidRequest: (message: string) => graphError(400, 'ErrorInvalidRequest', message),
  notBinary: (literal: string) => graphError(400, 'BadRequest', `Cannot convert the literal '${literal.length > 40 ? `${literal.slice(0, 40)}…` : literal}' to the expected type 'Edm.Binary'.`),
  unsupportedMediaType: (type: string) => graphError(415, 'UnsupportedMediaType', `The content type '${type}' is not supported; use application/json, or text/plain for MIME content.`),
  noRecipients: () => graphError(400, 'ErrorInvalidRecipients', "At least one recipient is not valid., A message can't be sent because it contains no recipients."),
  invalidRecipient: (address: string) =>
    graphError(400, 'ErrorInvalidRecipients', `At least one recipient is not valid., Recipient '${address}' is not resolved. All recipients must be resolved before a message can be submitted.`),
  headerName: (name: string) => graphError(400, 'InvalidInternetMessageHeader', `The internet message header name '${name}' should start with 'x-' or 'X-'.`),
  tooManyHeaders: () => graphError(400, 'InvalidInternetMessageHeaderCollection', 'Maximum number of headers in one message should be less than or equal to 5.'),
  itemNotFound: () => graphError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.'),
  segmentNotFound: (segment: string) => graphError(400, 'BadRequest', `Resource not found for the segment '${segment}'.`),

  // Query options of a list ($filter, $orderby, $top, $skip).
  badQuery: (message: string) => graphError(400, 'BadRequest', message),

  // Upload sessions.
  attachmentTooSmall: () => graphError(400, 'ErrorAttachmentSizeShouldNotBeLessThanMinimumSize', 'Attachment size must be greater than the minimum size.'),
  uploadRange: (message: string) => graphError(416, 'ErrorInvalidRange', message),
  uploadSessionNotFound: () => graphError(404, 'ErrorItemNotFound', 'The upload session was not found or has been deleted.'),

  // The sandbox itself, and the default bodies of injected faults.
  internal: (message: string) => graphError(500, 'ErrorInternalServerError', message),
  transient: (status: number) =>
    status === 504
      ? graphError(504, 'GatewayTimeout', 'The gateway did not receive a timely response from the upstream server.')
      : status === 429
        ? Graph.throttled('MailboxConcurrency', 1)
        : graphError(status, 'ServiceNotAvailable', 'The service is temporarily unavailable. Please try again later.'),
};

interface RequestIds {
  requestId: string;
  clientRequestId: string;
}

const ids = new WeakMap<FastifyRequest, RequestIds>();

/** The request's `request-id` (new) and `client-request-id` (the client's, echoed, or the request id). */
export function requestIds(request: FastifyRequest): RequestIds {
  let found = ids.get(request);
  if (!found) {
    const requestId = randomUUID();
    const header = request.headers['client-request-id'];
    found = { requestId, clientRequestId: typeof header === 'string' && header !== '' ? header : requestId };
    ids.set(request, found);
  }
  return found;
}

/** Graph's error body: code, message and the innerError every Graph error carries. */
export function errorBody(error: GraphError, request: FastifyRequest, now: Date): unknown {
  const { requestId, clientRequestId } = requestIds(request);
  return {
    error: {
      code: error.code,
      message: error.message,
      innerError: { date: now.toISOString().slice(0, 19), 'request-id': requestId, 'client-request-id': clientRequestId },
    },
  };
}

/** Answers with a Graph error and notes its code in the request's event. */
export function sendGraphError(request: FastifyRequest, reply: FastifyReply, error: GraphError, now: Date): FastifyReply {
  describe(request, { code: error.code, message: error.message });
  return reply
    .code(error.status)
    .headers({ ...error.headers })
    .type('application/json; charset=utf-8')
    .send(errorBody(error, request, now));
}
