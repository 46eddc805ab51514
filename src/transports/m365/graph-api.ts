/**
 * The Microsoft Graph calls the graph transport makes, for one mailbox: sendMail with a MIME
 * message, the draft path for large ones (create, attach, upload session ranges, send), and
 * reading the Inbox for Microsoft's non-delivery reports (list, $value).
 * Each call takes a slot of the mailbox's request limiter, carries the route's token, and comes
 * back as a value: the answer, or a GraphFailure to classify.
 *
 * A 401 InvalidAuthenticationToken is answered once by fetching a new token and sending the
 * request again (a token can be revoked or expire early); a second 401 with the fresh token is
 * reported (afterFreshToken), and the classifier holds the route: retrying would not help.
 * A 403 ErrorAccessDenied drops the cached token, so that once an admin grants the permission
 * the next attempt carries a token with the new roles instead of the old one for up to an hour.
 */
import type { Agent } from 'node:https';
import type { Logger } from 'pino';
import { TokenError, type TokenProvider } from '../../credentials/token.js';
import { parseRetryAfter } from '../../credentials/observed-network.js';
import type { GraphFailure, GraphOperation } from './classify-graph.js';
import type { RequestLimiter } from './graph-limiter.js';
import { httpsCall, type HttpBody } from './graph-http.js';

export type GraphResult<T> = { ok: true; value: T } | { ok: false; failure: GraphFailure };

export interface GraphApiOptions {
  /** https://graph.microsoft.com, a national cloud's Graph, or the sandbox's. */
  endpoint: string;
  mailbox: string;
  tokens: TokenProvider;
  agent: Agent;
  limiter: RequestLimiter;
  log: Logger;
  timeoutMs: number;
}

/** What a large attachment's upload session is created with. */
export interface AttachmentItem {
  attachmentType: 'file';
  name: string;
  size: number;
  contentType: string;
  isInline: boolean;
  contentId?: string;
}

interface Call {
  operation: GraphOperation;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url: string;
  contentType?: string;
  body?: HttpBody;
  /** Upload URLs carry their own credential and must not get an Authorization header. */
  anonymous?: boolean;
  /** Content-Range of an upload range. */
  range?: string;
  signal: AbortSignal;
}

interface Answer {
  status: number;
  json: Record<string, unknown> | null;
  text: string;
}

/** A message of a mailbox listing, with the properties the bounce reader asks for. */
export interface ListedMessage {
  id: string;
  receivedDateTime: string;
  subject: string;
  from: string;
}

export class GraphApi {
  private readonly base: string;

  constructor(private readonly o: GraphApiOptions) {
    this.base = `${o.endpoint.replace(/\/+$/, '')}/v1.0/users/${encodeURIComponent(o.mailbox)}`;
  }

  /** POST /users/{mailbox}/sendMail, Content-Type: text/plain, the MIME message in base64. */
  async sendMime(body: HttpBody, signal: AbortSignal): Promise<GraphResult<void>> {
    const r = await this.call({ operation: 'sendMail', method: 'POST', url: `${this.base}/sendMail`, contentType: 'text/plain', body, signal });
    return r.ok ? { ok: true, value: undefined } : r;
  }

  async createDraft(message: object, signal: AbortSignal): Promise<GraphResult<{ id: string }>> {
    const r = await this.call({ operation: 'createDraft', method: 'POST', url: `${this.base}/messages`, ...json(message), signal });
    if (!r.ok) return r;
    const id = r.value.json?.id;
    return typeof id === 'string' ? { ok: true, value: { id } } : malformed('createDraft', r.value.status, 'the created draft has no id');
  }

  async addAttachment(draftId: string, attachment: object, signal: AbortSignal): Promise<GraphResult<void>> {
    const r = await this.call({ operation: 'addAttachment', method: 'POST', url: `${this.base}/messages/${encodeURIComponent(draftId)}/attachments`, ...json(attachment), signal });
    return r.ok ? { ok: true, value: undefined } : r;
  }

  async createUploadSession(draftId: string, item: AttachmentItem, signal: AbortSignal): Promise<GraphResult<{ uploadUrl: string }>> {
    const r = await this.call({
      operation: 'createUploadSession',
      method: 'POST',
      url: `${this.base}/messages/${encodeURIComponent(draftId)}/attachments/createUploadSession`,
      ...json({ AttachmentItem: item }),
      signal,
    });
    if (!r.ok) return r;
    const url = r.value.json?.uploadUrl;
    return typeof url === 'string' ? { ok: true, value: { uploadUrl: url } } : malformed('createUploadSession', r.value.status, 'the upload session has no uploadUrl');
  }

  /** PUT one range of an attachment to its upload URL (no Authorization: the URL is the credential). */
  async uploadRange(uploadUrl: string, range: { start: number; end: number; total: number }, body: HttpBody, signal: AbortSignal): Promise<GraphResult<void>> {
    const r = await this.call({
      operation: 'uploadRange',
      method: 'PUT',
      url: uploadUrl,
      contentType: 'application/octet-stream',
      body,
      anonymous: true,
      range: `bytes ${range.start}-${range.end}/${range.total}`,
      signal,
    });
    return r.ok ? { ok: true, value: undefined } : r;
  }

  async sendDraft(draftId: string, signal: AbortSignal): Promise<GraphResult<void>> {
    const r = await this.call({ operation: 'send', method: 'POST', url: `${this.base}/messages/${encodeURIComponent(draftId)}/send`, signal });
    return r.ok ? { ok: true, value: undefined } : r;
  }

  /**
   * One page of the Inbox, oldest first: from `since` (a receivedDateTime, inclusive), or the
   * page an @odata.nextLink names. Needs Mail.ReadBasic (or Mail.Read).
   */
  async listInbox(page: { since: string } | { next: string }, signal: AbortSignal): Promise<GraphResult<{ messages: ListedMessage[]; next: string | null }>> {
    const url =
      'next' in page
        ? page.next
        : `${this.base}/mailFolders/inbox/messages?${new URLSearchParams({ $filter: `receivedDateTime ge ${page.since}`, $orderby: 'receivedDateTime asc', $select: 'id,receivedDateTime,subject,from', $top: '50' }).toString()}`;
    const r = await this.call({ operation: 'listMessages', method: 'GET', url, signal });
    if (!r.ok) return r;
    const value = r.value.json?.value;
    if (!Array.isArray(value)) return malformed('listMessages', r.value.status, 'the listing has no value');
    const messages = value.flatMap((m: Record<string, unknown>) => {
      if (typeof m.id !== 'string' || typeof m.receivedDateTime !== 'string') return [];
      const from = (m.from as { emailAddress?: { address?: unknown } } | null)?.emailAddress?.address;
      return [{ id: m.id, receivedDateTime: m.receivedDateTime, subject: typeof m.subject === 'string' ? m.subject : '', from: typeof from === 'string' ? from : '' }];
    });
    const next = r.value.json?.['@odata.nextLink'];
    return { ok: true, value: { messages, next: typeof next === 'string' ? next : null } };
  }

  /** GET /messages/{id}/$value: the message's MIME. Needs Mail.Read. */
  async messageMime(id: string, signal: AbortSignal): Promise<GraphResult<string>> {
    const r = await this.call({ operation: 'getMessageMime', method: 'GET', url: `${this.base}/messages/${encodeURIComponent(id)}/$value`, signal });
    return r.ok ? { ok: true, value: r.value.text } : r;
  }

  /** Best effort: a draft left by a failed attempt is removed, so retries do not pile up drafts. */
  async deleteDraft(draftId: string, signal: AbortSignal): Promise<boolean> {
    const r = await this.call({ operation: 'deleteDraft', method: 'DELETE', url: `${this.base}/messages/${encodeURIComponent(draftId)}`, signal });
    return r.ok;
  }

  private async call(c: Call): Promise<GraphResult<Answer>> {
    let token: string | null = null;
    for (let attempt = 1; ; attempt++) {
      if (!c.anonymous) {
        try {
          token = (await this.o.tokens.getToken()).token;
        } catch (e) {
          if (e instanceof TokenError) return { ok: false, failure: { kind: 'token', error: e } };
          throw e;
        }
      }
      const headers: Record<string, string> = {
        accept: 'application/json',
        ...(token && !c.anonymous ? { authorization: `Bearer ${token}` } : {}),
        ...(c.contentType ? { 'content-type': c.contentType } : {}),
        ...(c.range ? { 'content-range': c.range } : {}),
      };
      const answer = await this.o.limiter.run(() => httpsCall(this.o.agent, { method: c.method, url: c.url, headers, ...(c.body ? { body: c.body } : {}), signal: c.signal, timeoutMs: this.o.timeoutMs }));
      if (!answer.ok) return { ok: false, failure: { kind: 'network', operation: c.operation, reason: answer.aborted ? 'the delivery was stopped (relay shutting down)' : answer.reason, code: answer.code } };
      const body = parseJson(answer.text);
      if (answer.status >= 200 && answer.status < 300) return { ok: true, value: { status: answer.status, json: body, text: answer.text } };

      const error = (body?.error ?? {}) as { code?: unknown; message?: unknown };
      const failure: GraphFailure = {
        kind: 'answer',
        operation: c.operation,
        status: answer.status,
        code: typeof error.code === 'string' ? error.code : '',
        message: typeof error.message === 'string' ? error.message : answer.text.slice(0, 300) || `HTTP ${answer.status}`,
        retryAfterSeconds: parseRetryAfter(single(answer.headers['retry-after'])),
        requestId: single(answer.headers['request-id']) ?? null,
        ...(c.body && c.operation === 'sendMail' ? { requestBytes: c.body.length } : {}),
      };
      if (answer.status === 401 && !c.anonymous && token) {
        this.o.tokens.invalidate(token);
        if (attempt === 1) {
          this.o.log.info({ operation: c.operation, graph: failure.message }, 'Graph refused the access token: fetching a new one and sending again');
          continue;
        }
        return { ok: false, failure: { ...failure, afterFreshToken: true } };
      }
      if (answer.status === 403 && failure.code === 'ErrorAccessDenied' && token) this.o.tokens.invalidate(token);
      return { ok: false, failure };
    }
  }
}

function json(value: object): { contentType: string; body: HttpBody } {
  const bytes = Buffer.from(JSON.stringify(value), 'utf8');
  return { contentType: 'application/json', body: { length: bytes.length, open: () => bytes } };
}

function parseJson(text: string): Record<string, unknown> | null {
  if (!text) return null;
  try {
    const v: unknown = JSON.parse(text);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

const single = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);

function malformed(operation: GraphOperation, status: number, what: string): { ok: false; failure: GraphFailure } {
  return { ok: false, failure: { kind: 'answer', operation, status, code: '', message: `Graph answered ${status} but ${what}`, retryAfterSeconds: null, requestId: null } };
}
