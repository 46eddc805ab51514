// Fault injection: make an endpoint slow, answer wrongly, drop connections, or go down.
//
// Every endpoint consults the registry at the points where Microsoft can fail: HTTP routes once
// per request (done for them by the HTTP server, see http.ts), SMTP servers once per stage of a
// session. One call, `await faults.consult(endpoint, stage)`, applies any added latency and says
// what to do instead of the normal answer, or null to carry on. Specs are validated with the same
// schema whether they come from code or from `POST /sandbox/api/faults`.
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';

/**
 * Stages an SMTP server consults at. HTTP endpoints consult without a stage. A fault without a
 * stage matches any consult of its endpoint; a `drop` fault defaults to DATA (mid-DATA drop).
 */
export const SMTP_STAGES = ['CONNECT', 'EHLO', 'STARTTLS', 'AUTH', 'MAIL', 'RCPT', 'DATA', 'DATA-END'] as const;

const endpoint = z.string().min(1);
const stage = z.string().min(1).transform((s) => s.toUpperCase()).optional();
const count = z.number().int().positive();

export const faultSpecSchema = z.discriminatedUnion('kind', [
  /** Adds `ms` before the endpoint answers; `count` requests, or every request until cleared. */
  z.object({ kind: z.literal('latency'), endpoint, stage, ms: z.number().int().nonnegative(), count: count.optional() }),
  /** Answers the next `count` requests or commands with this reply instead of the real one. */
  z
    .object({
      kind: z.literal('reply'),
      endpoint,
      stage,
      count: count.default(1),
      http: z.object({ status: z.number().int().min(100).max(599), body: z.unknown().optional(), headers: z.record(z.string(), z.string()).optional() }).optional(),
      smtp: z.object({ code: z.number().int().min(200).max(599), text: z.string() }).optional(),
    })
    .refine((f) => f.http !== undefined || f.smtp !== undefined, 'a reply fault needs http or smtp'),
  /** Closes the connection abruptly, by default in the middle of DATA. */
  z.object({ kind: z.literal('drop'), endpoint, stage: stage.default('DATA'), count: count.default(1) }),
  /** The endpoint is down: new connections are refused (SMTP) or closed at once (HTTP), for `durationMs` or until cleared. */
  z.object({ kind: z.literal('down'), endpoint, mode: z.enum(['refuse', 'close']).default('close'), durationMs: z.number().int().positive().optional() }),
]);

export type FaultSpec = z.input<typeof faultSpecSchema>;
type ParsedFault = z.output<typeof faultSpecSchema>;
export type Fault = ParsedFault & { readonly id: string; remaining: number | null; readonly createdAt: string };

export type FaultAction =
  | { type: 'reply'; faultId: string; http?: { status: number; body?: unknown; headers?: Record<string, string> }; smtp?: { code: number; text: string } }
  | { type: 'drop'; faultId: string }
  | { type: 'down'; faultId: string; mode: 'refuse' | 'close' };

export type FaultAddResult = { ok: true; fault: Fault } | { ok: false; error: { code: 'fault_invalid'; message: string } };

export class FaultRegistry {
  private faults: Fault[] = [];
  private readonly emitter = new EventEmitter();

  /** Adds a fault; invalid specs come back as an error value with the reason. */
  add(spec: FaultSpec): FaultAddResult {
    const parsed = faultSpecSchema.safeParse(spec);
    if (!parsed.success) return { ok: false, error: { code: 'fault_invalid', message: `invalid fault: ${z.prettifyError(parsed.error)}` } };
    const f = parsed.data;
    const remaining = f.kind === 'down' ? null : f.kind === 'latency' ? (f.count ?? null) : f.count;
    const fault: Fault = { ...f, id: randomUUID(), remaining, createdAt: new Date().toISOString() };
    this.faults.push(fault);
    if (fault.kind === 'down' && fault.durationMs !== undefined) setTimeout(() => this.remove(fault.id), fault.durationMs).unref();
    this.changed(fault.endpoint);
    return { ok: true, fault };
  }

  list(endpointName?: string): Fault[] {
    return this.faults.filter((f) => endpointName === undefined || f.endpoint === endpointName);
  }

  remove(id: string): boolean {
    const fault = this.faults.find((f) => f.id === id);
    if (!fault) return false;
    this.faults = this.faults.filter((f) => f !== fault);
    this.changed(fault.endpoint);
    return true;
  }

  /** Clears every fault, or those of one endpoint. */
  clear(endpointName?: string): void {
    const gone = this.list(endpointName);
    this.faults = this.faults.filter((f) => !gone.includes(f));
    for (const name of new Set(gone.map((f) => f.endpoint))) this.changed(name);
  }

  /** Whether the endpoint is down now, for a server deciding at accept time without consuming anything. */
  downMode(endpointName: string): 'refuse' | 'close' | null {
    const down = this.faults.find((f): f is Fault & { kind: 'down' } => f.kind === 'down' && f.endpoint === endpointName);
    return down ? down.mode : null;
  }

  /**
   * The one call an endpoint makes: waits out any latency faults, then returns what to do instead
   * of answering normally (reply / drop / down), or null. Matching reply and drop faults are used up.
   */
  async consult(endpointName: string, stageName?: string): Promise<FaultAction | null> {
    const at = stageName?.toUpperCase();
    const matches = (f: Fault) => f.endpoint === endpointName && (!('stage' in f) || f.stage === undefined || f.stage === at);
    const down = this.faults.find((f): f is Fault & { kind: 'down' } => f.kind === 'down' && matches(f));
    if (down) return { type: 'down', faultId: down.id, mode: down.mode };
    let delay = 0;
    for (const f of this.faults.filter((x) => x.kind === 'latency' && matches(x))) {
      delay += (f as Fault & { kind: 'latency' }).ms;
      this.useOnce(f);
    }
    if (delay > 0) await sleep(delay);
    const hit = this.faults.find((f) => (f.kind === 'reply' || f.kind === 'drop') && matches(f));
    if (!hit) return null;
    this.useOnce(hit);
    if (hit.kind === 'drop') return { type: 'drop', faultId: hit.id };
    const reply = hit as Fault & { kind: 'reply' };
    return { type: 'reply', faultId: hit.id, ...(reply.http ? { http: reply.http } : {}), ...(reply.smtp ? { smtp: reply.smtp } : {}) };
  }

  /** Called with the endpoint's name whenever its faults change (an SMTP server re-listens when 'down' ends). */
  onChange(listener: (endpointName: string) => void): () => void {
    this.emitter.on('change', listener);
    return () => this.emitter.off('change', listener);
  }

  private useOnce(f: Fault): void {
    if (f.remaining === null) return;
    f.remaining -= 1;
    if (f.remaining <= 0) this.remove(f.id);
  }

  private changed(endpointName: string): void {
    this.emitter.emit('change', endpointName);
  }
}
