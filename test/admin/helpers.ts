/**
 * The admin API over real HTTP: a relay (startTestRelay) with its console on a port-0 listener,
 * an upstream sink that refuses some recipients, and a small client that keeps the session
 * cookie and CSRF token the way a browser does.
 */
import { request as httpRequest } from 'node:http';
import nodemailer from 'nodemailer';
import { hashPassword } from '../../src/policy/passwords.js';
import { registerSecrets } from '../secrets/leak-sink.js';
import { fastRetry, routeTo, startTestRelay, type TestRelay } from '../helpers/relay.js';
import { startSink, type Sink } from '../helpers/sink.js';

export const ADMIN = { user: 'ops', password: 'correct horse battery staple' };
registerSecrets(ADMIN.password);

/** ADMIN's hash, made once per test file: scrypt at the current cost takes most of a second. */
let hashed: Promise<string> | null = null;
const adminHash = () => (hashed ??= hashPassword(ADMIN.password));

export interface AdminRelay {
  relay: TestRelay;
  sink: Sink;
  base: string;
  stop(): Promise<void>;
}

/** A relay whose route `main` delivers to a sink that refuses nobody@… for good (550 5.1.1). */
export async function startAdminRelay(admin: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Promise<AdminRelay> {
  const sink = await startSink({ rcpt: (address) => (address.startsWith('nobody@') ? { code: 550, text: '5.1.1 User unknown' } : null) });
  const users = 'users' in admin ? admin.users : { [ADMIN.user]: { passwordHash: await adminHash() } };
  const relay = await startTestRelay({
    routes: { main: routeTo(sink.port) },
    delivery: fastRetry,
    admin: { host: '127.0.0.1', port: 0, ...admin, users },
    ...extra,
  });
  const base = relay.relay.admin!.url.replace(/\/$/, '');
  return {
    relay,
    sink,
    base,
    async stop() {
      await relay.stop();
      await sink.stop();
    },
  };
}

export async function sendThrough(port: number, from: string, to: string[], subject: string): Promise<string> {
  const client = nodemailer.createTransport({ host: '127.0.0.1', port, ignoreTLS: true, logger: false });
  try {
    const info = await client.sendMail({ envelope: { from, to }, raw: `From: ${from}\r\nTo: ${to.join(', ')}\r\nSubject: ${subject}\r\n\r\nHello from the admin tests.\r\n` });
    return /queued as (\S+)/.exec(String(info.response))![1]!;
  } finally {
    client.close();
  }
}

export interface Answer<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
}

/** A browser-like client: keeps the session cookie, sends the CSRF token unless told not to. */
export class AdminClient {
  cookie: string | null = null;
  csrf: string | null = null;

  /** `from`: the client's own address (127.0.0.2, …) to be another client on loopback; fetch cannot choose it. */
  constructor(readonly base: string, private readonly bearer: string | null = null, private readonly from: string | null = null) {}

  async login(user = ADMIN.user, password = ADMIN.password): Promise<Answer> {
    const answer = await this.request('POST', '/api/login', { user, password });
    if (answer.status === 200) {
      this.csrf = answer.body.csrfToken as string;
      this.cookie = /relay365_session=[^;]+/.exec(answer.headers.get('set-cookie') ?? '')![0];
    }
    return answer;
  }

  async request<T = Record<string, unknown>>(method: string, path: string, body?: unknown, options: { csrf?: boolean } = {}): Promise<Answer<T>> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.cookie) headers.cookie = this.cookie;
    if (this.bearer) headers.authorization = `Bearer ${this.bearer}`;
    if (method !== 'GET' && this.csrf && options.csrf !== false) headers['x-csrf-token'] = this.csrf;
    const payload = body !== undefined ? JSON.stringify(body) : undefined;
    const res = this.from ? await requestFrom(this.from, `${this.base}${path}`, method, headers, payload) : await fetch(`${this.base}${path}`, { method, headers, ...(payload !== undefined ? { body: payload } : {}) });
    const text = await res.text();
    const type = res.headers.get('content-type') ?? '';
    return { status: res.status, headers: res.headers, body: (type.includes('json') ? JSON.parse(text) : text) as T };
  }

  /**
   * Opens an event stream (GET, as EventSource does) and reads until `until` matches what came
   * (or the answer ends); then lets go of it.
   */
  async events(path: string, until: RegExp = /\n\n/, timeoutMs = 10_000): Promise<{ status: number; type: string; text: string }> {
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (this.cookie) headers.cookie = this.cookie;
    if (this.bearer) headers.authorization = `Bearer ${this.bearer}`;
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    let text = '';
    try {
      const res = await fetch(`${this.base}${path}`, { headers, signal: abort.signal });
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      try {
        while (!until.test(text)) {
          const { done, value } = await reader.read();
          if (done) break;
          text += decoder.decode(value, { stream: true });
        }
      } catch (err) {
        if (!abort.signal.aborted) throw err;
      }
      return { status: res.status, type: res.headers.get('content-type') ?? '', text };
    } finally {
      clearTimeout(timer);
      abort.abort();
    }
  }

  get<T = Record<string, unknown>>(path: string) {
    return this.request<T>('GET', path);
  }
  post<T = Record<string, unknown>>(path: string, body?: unknown, options?: { csrf?: boolean }) {
    return this.request<T>('POST', path, body, options);
  }
  delete<T = Record<string, unknown>>(path: string, options?: { csrf?: boolean }) {
    return this.request<T>('DELETE', path, undefined, options);
  }
}

/** An HTTP request from a chosen local address (node:http's localAddress), answered like fetch's Response. */
function requestFrom(localAddress: string, url: string, method: string, headers: Record<string, string>, body: string | undefined): Promise<{ status: number; headers: Headers; text(): Promise<string> }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers, localAddress }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const answer = new Headers();
        for (const [name, value] of Object.entries(res.headers)) if (value !== undefined) answer.set(name, Array.isArray(value) ? value.join(', ') : value);
        resolve({ status: res.statusCode ?? 0, headers: answer, text: async () => Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}
