/**
 * npm run bench — relay365 end to end: SMTP in, durable queue, delivery out, on loopback.
 *
 * What it measures. It starts the built relay (`relay365 serve`) as a child process with a
 * config of its own in a temporary folder: one plaintext listener on 127.0.0.1, the durable
 * SQLite store with its defaults (WAL, synchronous=FULL, group commit: the 250 after DATA
 * is sent only once the message is on disk), logs at warn, and a smarthost route (tls none)
 * to a local sink. After one warm-up message it pushes N messages of a given size through
 * C concurrent sessions and reports:
 *   accepted msg/s    N / (start → the last 250 the clients received)
 *   delivered msg/s   N / (start → the moment the sink had all N): the end-to-end rate
 *   latency           p50 / p99 / max from handing "." to the socket to the 250 (Node client
 *                     only: smtp-source reports no per-message times)
 *   relay RSS         peak resident memory of the relay process (VmHWM), and idle
 *   relay CPU         CPU seconds the relay used during the run
 * and checks them against issue 2 (≥ 500 msg/s accepted, p99 < 50 ms, RSS < 200 MB) and
 * design/PERFORMANCE.md (end to end ≥ 1.5× Postfix, whose figures are in that table).
 * Everything runs on one machine: client, relay and sink share its cores, as they did for
 * the PERFORMANCE.md table. Figures vary 30–50 % between runs: compare ratios in one run.
 * Postfix itself is not run (that needs a root-owned queue and master daemon): compare with
 * its figures in PERFORMANCE.md, measured with the same smtp-source/smtp-sink pattern.
 *
 * Several nodes (issue 9): with --store postgres the relay uses the PostgreSQL store on a
 * throwaway server of the machine's PostgreSQL binaries (fsync on), started by the bench.
 * --nodes N starts N relay nodes on one database, the clients' sessions spread over them
 * round-robin (as a TCP load balancer would), one sink for all; with N > 1 the same load
 * runs through 1 node first, then through N, and a table puts accepted and delivered msg/s
 * side by side. On one machine the nodes, PostgreSQL, the clients and the sink share the
 * CPUs: the table shows how the work spreads, not what N machines would do.
 *
 * How to run it (after `npx tsc -p tsconfig.json`; `npm run bench` builds first):
 *   npm run bench                                  5000 × 10 KB, 20 sessions, new connection per message
 *   npm run bench -- --reuse                       one connection per session
 *   npm run bench -- --client smtp-source          Postfix's load generator, as in PERFORMANCE.md
 *   npm run bench -- --rate 200                    paced load: p99 at 200 msg/s (PERFORMANCE.md)
 *   npm run bench -- --big 35MB                    memory: one 35 MB message, peak vs idle RSS (< 2×)
 *   npm run bench -- --store postgres --nodes 3    1 node, then 3 nodes, on one PostgreSQL database
 *   npm run bench -- --profile prof/               also write the relay's V8 CPU profile there
 *   node dist/bench/profile-summary.js prof/*.cpuprofile     its top functions
 *
 * Options:
 *   --messages N         messages to send (default 5000)
 *   --size SIZE          message size, headers included: 10KB, 1MB, 512 (default 10KB)
 *   --clients C          concurrent SMTP sessions (default 20)
 *   --reuse              one connection per session for all its messages (default: one per message)
 *   --client KIND        node (default): the bench's raw-socket client, timing every 250;
 *                        smtp-source: /usr/sbin/smtp-source -c -l SIZE -m N -s C [-d]
 *   --sink KIND          smtp-sink (default when /usr/sbin/smtp-sink exists) or node (smtp-server)
 *   --store KIND         sqlite (default) or postgres (a throwaway PostgreSQL server the bench starts)
 *   --nodes N            relay nodes on the PostgreSQL store (default 1); N > 1 runs 1 node, then N
 *   --concurrency N      relay delivery.concurrency (default 20, the relay's default)
 *   --upstream N         pooled connections from the relay to the sink (default 10, the route default)
 *   --rate R             start at most R messages per second (default 0: as fast as accepted)
 *   --big SIZE           memory mode: one message of SIZE instead of the throughput run
 *   --dir DIR            where the temporary folder (store, config) goes (default: the OS temp folder)
 *   --log-level LEVEL    the relay's log level (default warn)
 *   --profile DIR        run the relay with --cpu-prof, writing the profile into DIR
 *   --keep               keep the temporary folder (store and config) for inspection
 *   --json               print one JSON object with the setup and every figure, for scripts
 *   --help               this text
 */
import { mkdtempSync, readFileSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runBig } from './big.js';
import { runConsoleList } from './console-list.js';
import { runThroughput, type ThroughputReport } from './throughput.js';
import { nodesSummary } from './report.js';
import { storeRuns } from './store-runs.js';
import { cleanup, removeOnCleanup } from './processes.js';
import { smtpSinkInstalled, type SinkKind } from './sinks.js';
import { smtpSourceInstalled } from './load.js';

export interface BenchOptions {
  messages: number;
  size: number;
  clients: number;
  reuse: boolean;
  client: 'node' | 'smtp-source';
  sink: SinkKind;
  concurrency: number;
  upstream: number;
  store: 'sqlite' | 'postgres';
  nodes: number;
  rate: number;
  big: number | null;
  dir: string;
  logLevel: string;
  profile: string | null;
  json: boolean;
}

function usage(): string {
  const source = readFileSync(fileURLToPath(import.meta.url), 'utf8');
  const comment = /\/\*\*([\s\S]*?)\*\//.exec(source)?.[1] ?? '';
  return `${comment
    .split('\n')
    .map((line) => line.replace(/^\s*\* ?/, ''))
    .join('\n')
    .trim()}\n`;
}

class UsageError extends Error {}

function sizeOption(name: string, text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib)?$/i.exec(text.trim());
  if (!match) throw new UsageError(`${name} expects a size such as 10KB, 35MB or 512, got "${text}"`);
  const unit = { b: 1, kb: 1024, kib: 1024, mb: 1024 ** 2, mib: 1024 ** 2 }[(match[2] ?? 'b').toLowerCase() as 'b'];
  return Math.round(Number(match[1]) * unit);
}

function countOption(name: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${name} expects a whole number from ${min} to ${max}, got "${text}"`);
  return n;
}

function options(argv: string[]): BenchOptions | null {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      messages: { type: 'string', default: '5000' },
      size: { type: 'string', default: '10KB' },
      clients: { type: 'string', default: '20' },
      reuse: { type: 'boolean', default: false },
      client: { type: 'string', default: 'node' },
      sink: { type: 'string', default: smtpSinkInstalled() ? 'smtp-sink' : 'node' },
      concurrency: { type: 'string', default: '20' },
      store: { type: 'string', default: 'sqlite' },
      nodes: { type: 'string', default: '1' },
      upstream: { type: 'string', default: '10' },
      rate: { type: 'string', default: '0' },
      big: { type: 'string' },
      dir: { type: 'string', default: tmpdir() },
      'log-level': { type: 'string', default: 'warn' },
      profile: { type: 'string' },
      keep: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return null;
  if (values.client !== 'node' && values.client !== 'smtp-source') throw new UsageError(`--client is node or smtp-source, got "${values.client}"`);
  if (values.sink !== 'node' && values.sink !== 'smtp-sink') throw new UsageError(`--sink is node or smtp-sink, got "${values.sink}"`);
  if (values.client === 'smtp-source' && !smtpSourceInstalled()) throw new UsageError('--client smtp-source: /usr/sbin/smtp-source is not installed (Debian: apt-get install postfix)');
  if (values.sink === 'smtp-sink' && !smtpSinkInstalled()) throw new UsageError('--sink smtp-sink: /usr/sbin/smtp-sink is not installed; use --sink node');
  if (values.big !== undefined && values.client !== 'node') throw new UsageError('--big sends with the Node client only');
  if (values.store !== 'sqlite' && values.store !== 'postgres') throw new UsageError(`--store is sqlite or postgres, got "${values.store}"`);
  const nodes = countOption('--nodes', values.nodes, 1, 16);
  if (nodes > 1 && values.store !== 'postgres') throw new UsageError('--nodes: several nodes share a PostgreSQL store; add --store postgres');
  if (nodes > 1 && values.client !== 'node') throw new UsageError('--nodes: smtp-source talks to one address; use the Node client (--client node)');
  if (nodes > 1 && values.big !== undefined) throw new UsageError('--big runs one message through one node');
  const parsed: BenchOptions = {
    messages: countOption('--messages', values.messages, 1, 10_000_000),
    size: sizeOption('--size', values.size),
    clients: countOption('--clients', values.clients, 1, 10_000),
    reuse: values.reuse,
    client: values.client,
    sink: values.sink,
    concurrency: countOption('--concurrency', values.concurrency, 1, 1000),
    upstream: countOption('--upstream', values.upstream, 1, 100),
    store: values.store,
    nodes,
    rate: countOption('--rate', values.rate, 0, 1_000_000),
    big: values.big === undefined ? null : sizeOption('--big', values.big),
    dir: '',
    logLevel: values['log-level'],
    profile: values.profile === undefined ? null : resolve(values.profile),
    json: values.json,
  };
  parsed.dir = mkdtempSync(join(realpathSync(resolve(values.dir)), 'relay365-bench-'));
  if (!values.keep) removeOnCleanup(parsed.dir);
  return parsed;
}

async function main(): Promise<number> {
  // `npm run bench -- console-list`: the admin API's message list over a big store (console-list.ts).
  if (process.argv[2] === 'console-list') return runConsoleList(process.argv.slice(3));
  let opts: BenchOptions | null;
  try {
    opts = options(process.argv.slice(2));
  } catch (err) {
    const known = err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    if (!known) throw err;
    process.stderr.write(`bench: ${(err as Error).message}\n(npm run bench -- --help for the options)\n`);
    return 64;
  }
  if (!opts) {
    process.stdout.write(usage());
    return 0;
  }
  try {
    const store = await storeRuns(opts);
    try {
      if (opts.big !== null) {
        const report = await runBig(opts, opts.big, await store.prepare(store.shapes[0]!));
        process.stdout.write(opts.json ? `${JSON.stringify(report.json, null, 2)}\n` : report.text);
        return report.ok ? 0 : 1;
      }
      const reports: (ThroughputReport & { nodes: number })[] = [];
      for (const shape of store.shapes) {
        reports.push({ ...(await runThroughput(opts, await store.prepare(shape), () => store.pids())), nodes: shape.nodes });
        if (!opts.json) process.stdout.write(`${reports.length > 1 ? '\n' : ''}${reports.at(-1)!.text}`);
      }
      if (opts.json) process.stdout.write(`${JSON.stringify(reports.length === 1 ? reports[0]!.json : reports.map((r) => ({ nodes: r.nodes, ...(r.json as object) })), null, 2)}\n`);
      else if (reports.length > 1) process.stdout.write(`\n${nodesSummary(reports)}`);
      if (!opts.json && opts.profile) process.stdout.write(`\n  relay CPU profile written to ${opts.profile}\n`);
      return reports.every((r) => r.ok) ? 0 : 1;
    } finally {
      await store.stop();
    }
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await cleanup();
  }
}

process.exitCode = await main();
