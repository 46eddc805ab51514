/**
 * The sink and the relay (or the relay nodes) in front of it, started and warmed up the
 * same way for every run: one message per node goes all the way through first, so
 * connections to the sink are open and the code is loaded before anything is timed, and
 * the relay's idle memory is read once those messages are delivered.
 */
import { readFileSync } from 'node:fs';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { FROM, TO } from './load.js';
import { memory } from './processes.js';
import { startRelay, type RelayChild } from './relay-child.js';
import type { BenchOptions } from './relay.js';
import { machine, type Setup } from './report.js';
import { SMTP_SINK, startSink, type Sink } from './sinks.js';
import { message, SmtpClient } from './smtp-client.js';

/** What one run is: how many relay nodes, on which store. */
export interface RunShape {
  nodes: number;
  /** The PostgreSQL database the nodes share; null: SQLite (one node). */
  storeUrl: string | null;
  /** How the store is described in the report. */
  storeText: string;
}

export interface Stack {
  sink: Sink;
  /** The first node (the only one with SQLite). */
  relay: RelayChild;
  relays: RelayChild[];
  setup: Setup;
  idleRss: number | null;
  /** Why delivery may have stalled: what the relay's store says about unfinished messages. */
  diagnose(): Promise<string>;
}

/** The file system a path is on, from /proc/mounts (fsync costs what that file system makes it cost). */
export function fileSystem(path: string): string {
  try {
    let best = { at: '', type: 'unknown' };
    for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
      const [, at, type] = line.split(' ');
      if (at && type && (path === at || path.startsWith(at.endsWith('/') ? at : `${at}/`)) && at.length >= best.at.length) best = { at, type };
    }
    return best.type;
  } catch {
    return 'unknown';
  }
}

export async function startStack(opts: BenchOptions, mode: Setup['mode'], maxMessageSize: number, shape: RunShape): Promise<Stack> {
  const sink = await startSink(opts.sink, opts.upstream * 2 * shape.nodes);
  const nodeArgs = opts.profile ? ['--cpu-prof', `--cpu-prof-dir=${opts.profile}`] : [];
  if (opts.profile) mkdirSync(opts.profile, { recursive: true });
  const relays: RelayChild[] = [];
  // One after the other: each node registers in the store before the next one starts.
  for (let i = 1; i <= shape.nodes; i++) {
    const dir = shape.nodes === 1 ? opts.dir : join(opts.dir, `node-${i}`);
    mkdirSync(dir, { recursive: true });
    relays.push(
      await startRelay({
        dir,
        name: shape.nodes === 1 ? 'relay.bench' : `relay-${i}.bench`,
        storeUrl: shape.storeUrl,
        sinkPort: sink.port,
        concurrency: opts.concurrency,
        upstreamConnections: opts.upstream,
        maxClients: Math.max(200, opts.clients * 2),
        maxMessageSize,
        logLevel: opts.logLevel,
        nodeArgs,
      }),
    );
  }
  const relay = relays[0] as RelayChild;

  const diagnose = async () => {
    try {
      const stuck = await relay.queue(['queued', 'sending', 'deferred', 'held', 'failed'], 5);
      if (!stuck.length) return 'The relay store has no unfinished message.';
      return `The relay store has unfinished messages, e.g. ${stuck.map((m) => `${m.id} ${m.state}${m.lastError ? ` (${m.lastError})` : ''}`).join('; ')}.`;
    } catch (err) {
      return `relay365 queue list failed: ${(err as Error).message}`;
    }
  };

  for (const node of relays) {
    const warmup = new SmtpClient(node.port);
    await warmup.open();
    await warmup.send(FROM, TO, message(10 * 1024, 'warmup'));
    await warmup.quit();
  }
  await sink.reach(relays.length, 15_000, diagnose);
  await new Promise((r) => setTimeout(r, 500));

  const setup: Setup = {
    mode,
    messages: mode === 'big' ? 1 : opts.messages,
    size: mode === 'big' ? (opts.big ?? 0) : opts.size,
    clients: mode === 'big' ? 1 : opts.clients,
    reuse: opts.reuse,
    rate: opts.rate,
    client:
      opts.client === 'node'
        ? 'node: the bench\'s raw-socket SMTP client (EHLO, MAIL, RCPT, DATA, one command at a time; QUIT after each message unless --reuse)'
        : `smtp-source (Postfix): smtp-source -c -l ${opts.size} -m ${opts.messages} -s ${opts.clients}${opts.reuse ? ' -d' : ''}; message size excludes its headers`,
    sink:
      opts.sink === 'smtp-sink'
        ? `smarthost (tls none) → smtp-sink (Postfix, ${SMTP_SINK}) on 127.0.0.1:${sink.port}`
        : `smarthost (tls none) → the bench's Node sink (smtp-server, own process) on 127.0.0.1:${sink.port}`,
    concurrency: opts.concurrency,
    upstreamConnections: opts.upstream,
    nodes: relays.length,
    relay:
      relays.length === 1
        ? `relay365 ${relay.version}, node dist/src/cli/main.js serve, plaintext listener 127.0.0.1:${relay.port}, log level ${opts.logLevel}${opts.profile ? ', with --cpu-prof' : ''}`
        : `${relays.length} relay365 ${relay.version} nodes (node dist/src/cli/main.js serve each), plaintext listeners 127.0.0.1:${relays.map((r) => r.port).join(', ')}, clients spread round-robin, log level ${opts.logLevel}`,
    store: shape.storeUrl ? shape.storeText : `SQLite, WAL + synchronous=FULL, group commit (relay365's defaults), on ${fileSystem(opts.dir)} in ${join(opts.dir, 'data')}`,
    machine: machine(),
  };
  return { sink, relay, relays, setup, idleRss: Math.max(...relays.map((r) => memory(r.pid)?.rss ?? 0)) || null, diagnose };
}
