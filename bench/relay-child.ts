/**
 * relay365 as the bench runs it: the built CLI (`serve`) as a child process, with a config
 * written to the bench's temporary folder — one plaintext listener on 127.0.0.1 port 0,
 * a smarthost route to the sink (tls none), the durable SQLite store with its default
 * settings (WAL, synchronous=FULL, group commit) or, with --store postgres, the shared
 * PostgreSQL store (one of several nodes), and logs at warn, so that logging does not
 * dominate. Warnings and errors the relay logs are kept for the report.
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { exited, startChild, waitForPort } from './processes.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = join(ROOT, 'dist/src/cli/main.js');

export interface RelaySettings {
  dir: string;
  /** node.name: each node of a cluster has its own. */
  name: string;
  /** store.url: the PostgreSQL database the nodes share; null for SQLite in `dir`. */
  storeUrl: string | null;
  sinkPort: number;
  /** delivery.concurrency: messages in delivery at once. */
  concurrency: number;
  /** routes.sink.maxConnections: pooled connections to the sink. */
  upstreamConnections: number;
  /** listeners.bench.maxConnections. */
  maxClients: number;
  maxMessageSize: number;
  logLevel: string;
  /** Extra node options for the relay process, e.g. --cpu-prof. */
  nodeArgs: string[];
}

export interface RelayChild {
  pid: number;
  port: number;
  version: string;
  config: string;
  /** warn, error and fatal lines the relay logged (the last 50), and how many there were. */
  problems: { count: number; last: string[] };
  /** `relay365 queue list --json` on the running relay's store (SQLite readers do not block it). */
  queue(states: string[], limit: number): Promise<{ id: string; state: string; lastError: string | null }[]>;
  /** SIGTERM (graceful shutdown), then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<number | null>;
  child: ChildProcess;
}

export async function startRelay(settings: RelaySettings): Promise<RelayChild> {
  const config = join(settings.dir, 'relay365.yaml');
  // JSON is YAML: no need for a YAML writer.
  const document = {
    node: { name: settings.name },
    ...(settings.storeUrl ? { store: settings.storeUrl } : {}),
    listeners: {
      bench: { host: '127.0.0.1', port: 0, tls: { mode: 'none' }, maxConnections: settings.maxClients, maxMessageSize: settings.maxMessageSize },
    },
    routes: {
      sink: { transport: 'smarthost', host: '127.0.0.1', port: settings.sinkPort, tls: 'none', maxConnections: settings.upstreamConnections },
    },
    delivery: { concurrency: settings.concurrency },
    // Several nodes run side by side: each its own console port.
    admin: { port: 0 },
    log: { level: settings.logLevel },
  };
  writeFileSync(config, `${JSON.stringify(document, null, 2)}\n`);

  // The relay gets none of the caller's RELAY365_* overrides: the figures are for this config.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('RELAY365_')));
  const child = startChild(process.execPath, [...settings.nodeArgs, CLI, 'serve', '--config', config], { cwd: settings.dir, env });

  let announced = 0;
  const problems = { count: 0, last: [] as string[] };
  let partial = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line) continue;
      let entry: { msg?: string; port?: number; level?: number };
      try {
        entry = JSON.parse(line) as typeof entry;
      } catch {
        continue;
      }
      if (entry.msg === 'listening' && entry.port) announced = entry.port;
      if ((entry.level ?? 0) >= 40) {
        problems.count++;
        problems.last = [...problems.last.slice(-49), line];
      }
    }
  });

  const port = await waitForPort(child, 'relay365', () => announced);
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  return {
    pid: child.pid as number,
    port,
    version: pkg.version,
    config,
    problems,
    child,
    async queue(states, limit) {
      const args = [CLI, '--config', config, 'queue', 'list', '--json', '--limit', String(limit), '--state', ...states];
      const { stdout } = await promisify(execFile)(process.execPath, args, { cwd: settings.dir, env, maxBuffer: 64 * 1024 * 1024 });
      return JSON.parse(stdout) as { id: string; state: string; lastError: string | null }[];
    },
    async stop(graceMs = 20_000) {
      child.kill('SIGTERM');
      return exited(child, graceMs);
    },
  };
}
