/**
 * The load generators: the bench's own Node client (C sessions taking messages from one
 * shared counter, each timing end of DATA → 250) or Postfix's smtp-source, which sends the
 * same pattern but reports no per-message times.
 */
import { performance } from 'node:perf_hooks';
import { existsSync } from 'node:fs';
import { exited, startChild } from './processes.js';
import { SmtpClient } from './smtp-client.js';

export const SMTP_SOURCE = '/usr/sbin/smtp-source';
export const FROM = 'bench@client.bench';
export const TO = 'sink@sink.bench';

export interface Load {
  /** The relay nodes' ports; session k talks to ports[k % ports.length] (a load balancer's round-robin). */
  ports: number[];
  messages: number;
  clients: number;
  /** One connection per session for all its messages instead of one per message. */
  reuse: boolean;
  size: number;
  /** Messages per second to start at most (spread evenly); 0: as fast as the relay answers. */
  rate: number;
}

export interface LoadResult {
  accepted: number;
  failed: number;
  /** The first few failures, as the client saw them. */
  errors: string[];
  /** performance.now() when the first session started and when the last 250 arrived. */
  startedAt: number;
  lastAcceptedAt: number;
  /** End of DATA → 250 per accepted message, in ms; null where the generator cannot tell. */
  latencies: number[] | null;
}

export function smtpSourceInstalled(): boolean {
  return existsSync(SMTP_SOURCE);
}

export async function runNodeClients(load: Load, body: Buffer | (() => Iterable<Buffer>)): Promise<LoadResult> {
  const result: LoadResult = { accepted: 0, failed: 0, errors: [], startedAt: performance.now(), lastAcceptedAt: 0, latencies: [] };
  const latencies = result.latencies as number[];
  let next = 0;

  async function session(_: unknown, k: number): Promise<void> {
    const port = load.ports[k % load.ports.length] as number;
    let client: SmtpClient | null = null;
    while (next < load.messages) {
      const i = next++;
      if (load.rate > 0) {
        const wait = result.startedAt + (i * 1000) / load.rate - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
      try {
        if (!client) {
          client = new SmtpClient(port);
          await client.open();
        }
        latencies.push(await client.send(FROM, TO, typeof body === 'function' ? body() : body));
        result.accepted++;
        result.lastAcceptedAt = performance.now();
        if (!load.reuse) {
          const closing = client;
          client = null;
          await closing.quit();
        }
      } catch (err) {
        result.failed++;
        if (result.errors.length < 5) result.errors.push(`message ${i + 1}: ${(err as Error).message}`);
        client?.close();
        client = null;
      }
    }
    await client?.quit().catch(() => undefined);
  }

  await Promise.all(Array.from({ length: load.clients }, session));
  return result;
}

/** smtp-source -c -l SIZE -m N -s C [-d] -f FROM -t TO 127.0.0.1:PORT; accepted = the count it printed. */
export async function runSmtpSource(load: Load): Promise<LoadResult> {
  const args = ['-c', '-l', String(load.size), '-m', String(load.messages), '-s', String(load.clients)];
  if (load.reuse) args.push('-d');
  args.push('-f', FROM, '-t', TO, `127.0.0.1:${load.ports[0]}`);
  const startedAt = performance.now();
  const child = startChild(SMTP_SOURCE, args, {});
  let counted = 0;
  let lastAcceptedAt = startedAt;
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    // -c prints the running count of completed DATA commands, each followed by "\r".
    const counts = chunk.toString('latin1').split(/[\r\n]/).filter((s) => /^\d+$/.test(s)).map(Number);
    if (counts.length) {
      counted = Math.max(counted, ...counts);
      lastAcceptedAt = performance.now();
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await exited(child);
  const failed = load.messages - counted;
  return {
    accepted: counted,
    failed,
    errors: code === 0 && !failed ? [] : [`smtp-source exited ${code}: ${stderr.trim() || 'no message'}`],
    startedAt,
    lastAcceptedAt,
    latencies: null,
  };
}
