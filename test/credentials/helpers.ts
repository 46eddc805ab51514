// Shared by the credentials and Graph transport tests: route credentials that point at a test
// sandbox, and a pino logger whose lines are kept (to read them, and to prove no secret is in them).
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import type { CredentialsConfig } from '../../src/config/routes.js';
import { DEMO, type TestSandbox } from '../helpers/sandbox.js';
import { recordForLeakScan } from '../secrets/leak-sink.js';

/** The demo app's secret credentials against the sandbox (tenant by id), as the config loader would give them. */
export function sandboxCredentials(t: TestSandbox, extra: Partial<CredentialsConfig> = {}): CredentialsConfig {
  return {
    tenant: DEMO.tenantId,
    clientId: DEMO.appOnly.clientId,
    clientSecret: DEMO.appOnly.secret,
    authorityHost: t.sandbox.urls.login,
    graceTime: 30_000,
    ...extra,
  } as CredentialsConfig;
}

export interface CapturedLog {
  log: Logger;
  /** Every line written so far, as text. */
  text(): string;
  lines(): Record<string, unknown>[];
}

export function capturedLog(): CapturedLog {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      recordForLeakScan('capturedLog', chunk.toString());
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      callback();
    },
  });
  return { log: pino({ level: 'debug' }, sink), text: () => lines.join('\n'), lines: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

/** An RSA client certificate from the sandbox CA, registered on the demo app, written to files. */
export async function registeredCertificate(t: TestSandbox, register = true) {
  const issued = await t.sandbox.context.pki.issue({ commonName: 'relay365 app credential', usage: 'client', keyType: 'rsa' });
  if (register) t.sandbox.tenant.update((d) => d.apps.find((a) => a.appId === DEMO.appOnly.clientId)!.certificates.push({ pem: issued.certPem }));
  const dir = await mkdtemp(join(tmpdir(), 'relay365-cert-'));
  const files = { key: join(dir, 'app.key'), cert: join(dir, 'app.crt') };
  await writeFile(files.key, issued.keyPem, { mode: 0o600 });
  await writeFile(files.cert, issued.certPem);
  return { issued, files, dir };
}

/**
 * The sandbox writes an event when a response has gone out (fastify's onResponse), which can be
 * just after the client has read it: wait until the log has been quiet for a moment.
 */
export async function quietEvents(t: TestSandbox, quietMs = 100): Promise<number> {
  let seq = t.sandbox.events.lastSeq;
  for (;;) {
    await new Promise((r) => setTimeout(r, quietMs));
    if (t.sandbox.events.lastSeq === seq) return seq;
    seq = t.sandbox.events.lastSeq;
  }
}

/** The events of `endpoint` after `since`, once the log is quiet. */
export async function eventsSince(t: TestSandbox, since: number, endpoint?: string) {
  await quietEvents(t);
  return t.sandbox.events.list({ since, ...(endpoint ? { endpoint } : {}) });
}
