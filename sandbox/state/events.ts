// The sandbox's own log: what every endpoint was asked and what it answered.
//
// One structured entry per token request, SMTP command, Graph call or injected fault, kept in a
// ring buffer so a long-running demo does not grow without bound. Tests read it to assert what a
// client did ("the relay asked for a token once, then sent two messages"); the page shows it.
import { EventEmitter } from 'node:events';

/** Endpoint names used across the sandbox; servers may add their own. */
export type SandboxEndpoint = 'discovery' | 'token' | 'authorize' | 'devicecode' | 'devicelogin' | 'graph' | 'submission' | 'mx' | 'sandbox-api' | (string & {});

export type EventOutcome = 'ok' | 'refused' | 'error' | 'fault';

export interface SandboxEventInput {
  endpoint: SandboxEndpoint;
  /** What was asked, in the protocol's words: 'client_credentials', 'AUTH XOAUTH2', 'POST /v1.0/users/x/sendMail'. */
  action: string;
  /** ok: served; refused: answered with a protocol error (AADSTS, 5xx reply, Graph error); error: the sandbox failed; fault: an injected fault answered. */
  outcome: EventOutcome;
  /** HTTP status or SMTP reply code. */
  status?: number;
  /** The error's code: 'AADSTS7000215', '5.7.3', 'ErrorSendAsDenied'. */
  code?: string;
  message?: string;
  /** SMTP session id, or the client's correlation id for HTTP. */
  session?: string;
  appId?: string;
  user?: string;
  mailbox?: string;
  durationMs?: number;
  detail?: Record<string, unknown>;
}

export interface SandboxEvent extends SandboxEventInput {
  /** Increasing number; `list({ since })` returns the events after it. */
  readonly seq: number;
  /** ISO time, sandbox clock. */
  readonly at: string;
}

export interface EventQuery {
  since?: number;
  endpoint?: string;
  limit?: number;
}

export class EventLog {
  private entries: SandboxEvent[] = [];
  private seq = 0;
  private readonly emitter = new EventEmitter();

  constructor(
    readonly capacity = 5000,
    private readonly now: () => number = Date.now,
  ) {
    this.emitter.setMaxListeners(0);
  }

  record(input: SandboxEventInput): SandboxEvent {
    const event: SandboxEvent = { seq: ++this.seq, at: new Date(this.now()).toISOString(), ...input };
    this.entries.push(event);
    if (this.entries.length > this.capacity) this.entries.splice(0, this.entries.length - this.capacity);
    this.emitter.emit('event', event);
    return event;
  }

  /** Events oldest first; `limit` keeps the most recent ones. */
  list(query: EventQuery = {}): SandboxEvent[] {
    let result = this.entries.filter((e) => (query.since === undefined || e.seq > query.since) && (query.endpoint === undefined || e.endpoint === query.endpoint));
    if (query.limit !== undefined && result.length > query.limit) result = result.slice(result.length - query.limit);
    return result;
  }

  /** The sequence number of the latest event (0 when none): pass it as `since` to see only what follows. */
  get lastSeq(): number {
    return this.seq;
  }

  subscribe(listener: (event: SandboxEvent) => void): () => void {
    this.emitter.on('event', listener);
    return () => this.emitter.off('event', listener);
  }

  /** Resolves with the first event (recorded after `since`, default: any kept) that matches; rejects after `timeoutMs`. */
  waitFor(predicate: (event: SandboxEvent) => boolean, options: { since?: number; timeoutMs?: number } = {}): Promise<SandboxEvent> {
    const found = this.list({ since: options.since }).find(predicate);
    if (found) return Promise.resolve(found);
    const timeoutMs = options.timeoutMs ?? 5000;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        stop();
        reject(new Error(`no matching sandbox event within ${timeoutMs} ms`));
      }, timeoutMs);
      const stop = this.subscribe((event) => {
        if (!predicate(event)) return;
        clearTimeout(timer);
        stop();
        resolve(event);
      });
    });
  }

  clear(): void {
    this.entries = [];
  }
}
