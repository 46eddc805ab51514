/**
 * One HTTPS request to Microsoft Graph (or an upload URL), with node:https and an Agent that
 * trusts the route's extra CAs besides Node's roots (Node 20's fetch cannot take a CA per
 * request). Bodies are a Buffer or a stream opened per attempt (so a request can be sent again
 * after a refused token), always with Content-Length. Failures to get an answer come back as
 * values with the socket's reason; answers are read whole (Graph's JSON answers are small) up
 * to a bound, so a misbehaving server cannot make the relay hold a large body.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { Agent, request } from 'node:https';
import type { Readable } from 'node:stream';
import { rootCertificates } from 'node:tls';

export interface HttpBody {
  length: number;
  /** The bytes: a Buffer, or a fresh stream of exactly `length` bytes. */
  open(): Buffer | Readable;
}

export interface HttpCall {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  body?: HttpBody;
  signal?: AbortSignal;
  /** Longest silence on the socket. */
  timeoutMs: number;
}

export type HttpAnswer = { ok: true; status: number; headers: IncomingHttpHeaders; text: string } | { ok: false; reason: string; code: string | null; aborted: boolean };

/** Answers above this are cut (Graph's are a few KB); enough to keep an error body whole. */
const MAX_ANSWER_BYTES = 1024 * 1024;

export function graphAgent(extraCa: readonly string[], maxSockets: number): Agent {
  return new Agent({ keepAlive: true, maxSockets, ...(extraCa.length > 0 ? { ca: [...rootCertificates, ...extraCa] } : {}) });
}

export function httpsCall(agent: Agent, call: HttpCall): Promise<HttpAnswer> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (answer: HttpAnswer) => {
      if (settled) return;
      settled = true;
      resolve(answer);
    };
    const headers: Record<string, string> = { ...call.headers };
    if (call.body) headers['content-length'] = String(call.body.length);
    else if (call.method !== 'GET') headers['content-length'] = '0';
    const req = request(call.url, { method: call.method, headers, agent, timeout: call.timeoutMs, ...(call.signal ? { signal: call.signal } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= MAX_ANSWER_BYTES) chunks.push(c);
      });
      res.on('error', (e: NodeJS.ErrnoException) => finish({ ok: false, reason: e.message, code: e.code ?? null, aborted: call.signal?.aborted ?? false }));
      res.on('end', () => finish({ ok: true, status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${Math.round(call.timeoutMs / 1000)} s`), { code: 'ETIMEDOUT' })));
    req.on('error', (e: NodeJS.ErrnoException) => finish({ ok: false, reason: e.message, code: e.code ?? null, aborted: call.signal?.aborted ?? false }));
    if (!call.body) {
      req.end();
      return;
    }
    const body = call.body.open();
    if (Buffer.isBuffer(body)) {
      req.end(body);
      return;
    }
    body.on('error', (e) => req.destroy(e));
    body.pipe(req);
  });
}
