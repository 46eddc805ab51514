// Shared by the graph transport tests: the sandbox of a test file, a graph route pointed at it (parsed
// by the real route schema, so defaults are the product's), the transport built as the relay builds it,
// delivery jobs over real MIME messages (composed by nodemailer's MailComposer, in memory or in a file),
// and readers for what landed in the sandbox's mailboxes.
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import MailComposer from 'nodemailer/lib/mail-composer';
import type { Logger } from 'pino';
import { afterEach } from 'vitest';
import { routeSchema, type GraphRouteConfig } from '../../src/config/routes.js';
import { GraphTransport } from '../../src/transports/m365/graph.js';
import type { DeliveryJob, Transport } from '../../src/transports/transport.js';
import { withHandOvers } from './m365-smtp-helpers.js';
import { MailFolder } from '../../sandbox/state/mailboxes.js';
import { capturedLog } from '../credentials/helpers.js';
import { DEMO, useSandbox, type SandboxSetup, type ScopedSandbox, type TestSandbox } from '../helpers/sandbox.js';

export const RELAY = DEMO.relay.address;
export const ALICE = DEMO.alice.address;
export const BOB = DEMO.bob.address;
export const ROUTE = 'm365';

/** A graph route for the relay mailbox, app-only with the demo app's secret, trusting the sandbox CA. */
export function graphRoute(t: TestSandbox, extra: Record<string, unknown> = {}, credentials: Record<string, unknown> = {}): GraphRouteConfig {
  const parsed = routeSchema.parse({
    transport: 'graph',
    mailbox: RELAY,
    credentials: { tenant: DEMO.tenantId, clientId: DEMO.appOnly.clientId, clientSecret: DEMO.appOnly.secret, authorityHost: t.sandbox.urls.login, ...credentials },
    endpoint: t.sandbox.urls.graph,
    ca: [t.sandbox.caPath],
    ...extra,
  });
  if (parsed.transport !== 'graph') throw new Error('not a graph route');
  return parsed;
}

export interface GraphUnderTest {
  transport: GraphTransport;
  log: ReturnType<typeof capturedLog>;
  close(): Promise<void>;
}

/** Transports graphTransport built and nobody closed yet; useGraphSandbox closes them after each test. */
const unclosed = new Set<GraphUnderTest>();

/** The transport as createTransport builds it; `others` are the routes ctx.transport() finds. */
export function graphTransport(config: GraphRouteConfig, others: Record<string, Transport> = {}): GraphUnderTest {
  const log = capturedLog();
  const transport = withHandOvers(new GraphTransport(ROUTE, config, { ehloName: 'relay.test', log: log.log, hasRoute: (name) => name in others }), others);
  const under: GraphUnderTest = {
    transport,
    log,
    close: () => {
      unclosed.delete(under);
      return transport.close();
    },
  };
  unclosed.add(under);
  return under;
}

/**
 * The sandbox of a graph test file (useSandbox: the tenant put back and faults cleared for each
 * test); after each test, the transports graphTransport built are closed and the mailboxes emptied.
 */
export function useGraphSandbox(setup: SandboxSetup = {}): ScopedSandbox {
  const t = useSandbox(setup);
  afterEach(async () => {
    await Promise.all([...unclosed].map((g) => g.close()));
    await t.sandbox.mailboxes.clear();
  });
  return t;
}

export interface MessageSpec {
  from?: string;
  to?: string | string[];
  cc?: string | string[];
  bcc?: string | string[];
  subject?: string;
  text?: string;
  html?: string;
  headers?: Record<string, string>;
  attachments?: Array<{ filename: string; content?: Buffer | string; path?: string; contentType?: string; cid?: string }>;
}

/** A MIME message as an application would submit it (Bcc left out, as SMTP clients do). */
export function compose(spec: MessageSpec): Readable {
  const composer = new MailComposer({
    from: spec.from ?? RELAY,
    ...(spec.to ? { to: spec.to } : {}),
    ...(spec.cc ? { cc: spec.cc } : {}),
    ...(spec.bcc ? { bcc: spec.bcc } : {}),
    subject: spec.subject ?? 'Invoice 4711',
    ...(spec.text !== undefined ? { text: spec.text } : {}),
    ...(spec.html !== undefined ? { html: spec.html } : {}),
    ...(spec.headers ? { headers: spec.headers } : {}),
    attachments: spec.attachments ?? [],
    newline: 'win',
  });
  return composer.compile().createReadStream();
}

export async function composeToBuffer(spec: MessageSpec): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of compose(spec)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export async function composeToFile(spec: MessageSpec, path: string): Promise<number> {
  await pipeline(compose(spec), createWriteStream(path));
  return (await stat(path)).size;
}

let jobs = 0;
const RECEIVED = (id: string) => `Received: from erp.contoso.example ([192.0.2.10]) by relay.test (relay365) with ESMTPS id ${id};\r\n\tWed, 20 Nov 2030 10:00:00 +0000\r\n`;

/** A delivery job as the relay hands it to a transport: Received header, then the stored message. */
export function jobFor(message: Buffer | { file: string; size: number }, recipients: string[], options: { log?: Logger; mailFrom?: string; signal?: AbortSignal; received?: boolean } = {}): DeliveryJob {
  const id = `msg${++jobs}`;
  const size = Buffer.isBuffer(message) ? message.length : message.size;
  return {
    messageId: id,
    mailFrom: options.mailFrom ?? 'erp@contoso.example',
    mailParams: {},
    recipients: recipients.map((address, idx) => ({ idx, address, params: {} })),
    size,
    openMessage: async () => {
      const out = new PassThrough();
      if (options.received !== false) out.write(RECEIVED(id));
      const body = Buffer.isBuffer(message) ? Readable.from([message]) : createReadStream(message.file);
      body.on('error', (e: Error) => out.destroy(e));
      body.pipe(out);
      return out;
    },
    handOver: async () => {
      throw new Error('this test hands nothing over');
    },
    signal: options.signal ?? new AbortController().signal,
    log: options.log ?? capturedLog().log,
  };
}

/** The one message in a mailbox folder (fails the test if there are none or several). */
export function only(t: TestSandbox, mailbox: string, folder: MailFolder = MailFolder.inbox) {
  const list = t.sandbox.mailboxes.list({ mailbox, folder });
  if (list.length !== 1) throw new Error(`expected one message in ${mailbox}/${folder}, found ${list.length}`);
  return list[0]!;
}

export async function rawOf(t: TestSandbox, entryId: string): Promise<string> {
  return ((await t.sandbox.mailboxes.readRaw(entryId)) ?? Buffer.alloc(0)).toString('utf8');
}

export { MailFolder };
