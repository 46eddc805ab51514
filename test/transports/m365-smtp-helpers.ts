// Helpers for the Exchange Online SMTP transports' tests: a real DeliveryJob over a message held
// in memory (what the queue hands a transport), route configs parsed by the real schema (so
// defaults and durations are the product's), and a transport context with other routes.
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import { routeSchema, type RouteConfig } from '../../src/config/routes.js';
import type { DeliveryJob, Outcome, Transport, TransportContext } from '../../src/transports/transport.js';
import type { TestSandbox } from '../helpers/sandbox.js';
import { tempDir } from '../helpers/relay.js';
import { recordForLeakScan } from '../secrets/leak-sink.js';

export const silent = pino({ level: 'silent' });

/** A logger whose lines are kept, to assert what a transport logged. */
export function capturingLog(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      recordForLeakScan('capturingLog', chunk.toString());
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: 'debug' }, sink), lines };
}

export function context(others: Record<string, Transport> = {}, log: Logger = silent): TransportContext {
  return { ehloName: 'relay.test', log, hasRoute: (name) => name in others };
}

/**
 * The transport, with hand-overs going straight to `others` (in the relay they pass the
 * other route's gate first; that is tested through a running relay).
 */
export function withHandOvers<T extends Transport>(transport: T, others: Record<string, Transport>): T {
  const deliver = transport.deliver.bind(transport);
  return Object.assign(transport, {
    deliver: (job: DeliveryJob) =>
      deliver({
        ...job,
        handOver: async (route: string, recipients: DeliveryJob['recipients']) => {
          const other = others[route];
          if (!other) throw new Error(`no route ${route} in this test`);
          const result = await other.deliver({ ...job, recipients });
          return new Map([...result].map(([idx, o]) => [idx, { ...o, via: route }]));
        },
      }),
  });
}

/** A route config as relay365.yaml would give it, through the product's schema. */
export function route<K extends RouteConfig['transport']>(input: { transport: K } & Record<string, unknown>): Extract<RouteConfig, { transport: K }> {
  return routeSchema.parse(input) as Extract<RouteConfig, { transport: K }>;
}

export interface TestMessage {
  from: string;
  to: string[];
  /** Header From, when it differs from the envelope sender. */
  headerFrom?: string;
  subject?: string;
  body?: string;
  /** Extra header lines, CRLF-joined. */
  headers?: string;
}

/** A DeliveryJob over a real RFC 5322 message; each recipient gets its index in `to`. */
export function jobFor(message: TestMessage): DeliveryJob & { raw: Buffer; subject: string } {
  const subject = message.subject ?? `test ${randomUUID()}`;
  const raw = Buffer.from(
    [
      `Received: from app.test ([127.0.0.1]) by relay.test with ESMTP; ${new Date().toUTCString()}`,
      `From: ${message.headerFrom ?? message.from}`,
      `To: ${message.to.join(', ')}`,
      `Subject: ${subject}`,
      `Message-ID: <${randomUUID()}@relay.test>`,
      `Date: ${new Date().toUTCString()}`,
      ...(message.headers ? [message.headers] : []),
      '',
      message.body ?? 'Hello from the relay365 transport test.',
      '',
    ].join('\r\n'),
  );
  return {
    messageId: randomUUID(),
    mailFrom: message.from,
    mailParams: {},
    recipients: message.to.map((address, idx) => ({ idx, address, params: {} })),
    size: raw.length,
    openMessage: async () => Readable.from([raw]),
    handOver: async () => {
      throw new Error('this test hands nothing over');
    },
    signal: new AbortController().signal,
    log: silent,
    raw,
    subject,
  };
}

/** The outcome of the only (or the given) recipient. */
export function only(result: Map<number, Outcome>, idx = 0): Outcome {
  const o = result.get(idx);
  if (!o) throw new Error(`no outcome for recipient ${idx}: ${JSON.stringify([...result])}`);
  return o;
}

/** Writes a client certificate issued by the sandbox CA to PEM files, as a route config names them. */
export async function clientCertificateFiles(t: TestSandbox, name: string): Promise<{ key: string; cert: string }> {
  const issued = await t.sandbox.context.pki.issue({ commonName: name, dnsNames: [name], usage: 'client' });
  const dir = tempDir('relay365-cert-');
  const files = { key: join(dir, 'client.key'), cert: join(dir, 'client.crt') };
  writeFileSync(files.key, issued.keyPem, { mode: 0o600 });
  writeFileSync(files.cert, issued.certPem);
  return files;
}

/** The message as the sandbox stored it in `mailbox`, found by subject. */
export async function received(t: TestSandbox, mailbox: string, subject: string, folder = 'Inbox'): Promise<string> {
  const entry = await t.sandbox.mailboxes.waitFor((e) => e.mailbox === mailbox && e.subject === subject && e.folder === folder, { timeoutMs: 5000 });
  const raw = await t.sandbox.mailboxes.readRaw(entry.id);
  return raw?.toString('utf8') ?? '';
}
