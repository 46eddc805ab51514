/**
 * The throughput run: N messages through C sessions (spread round-robin over the relay
 * nodes when there are several), timed at the clients (accepted) and at the sink
 * (delivered), with the relays' memory and CPU (and the PostgreSQL server's CPU) read
 * from /proc.
 */
import { loadavg } from 'node:os';
import { cpuSeconds, memory, RssSampler } from './processes.js';
import { runNodeClients, runSmtpSource, type Load } from './load.js';
import type { BenchOptions } from './relay.js';
import { percentiles, throughputReport, type Figures } from './report.js';
import { message } from './smtp-client.js';
import { startStack, type RunShape } from './stack.js';

export interface BenchReport {
  ok: boolean;
  text: string;
  json: unknown;
}

/** How long the sink's count may stand still before the bench gives up and says why. */
const STALL_MS = 30_000;

export interface ThroughputReport extends BenchReport {
  figures: Figures;
}

/** CPU seconds of processes together; null when any cannot be read. */
function cpuOf(pids: number[]): number | null {
  const each = pids.map(cpuSeconds);
  return each.some((c) => c === null) ? null : (each as number[]).reduce((a, b) => a + b, 0);
}

export async function runThroughput(opts: BenchOptions, shape: RunShape, storePids: () => number[] = () => []): Promise<ThroughputReport> {
  const stack = await startStack(opts, 'throughput', Math.max(35 * 1024 * 1024, opts.size * 2), shape);
  const { sink, relays } = stack;
  const pids = relays.map((r) => r.pid);
  const before = sink.count;
  const loadBefore = loadavg()[0] ?? 0;
  const cpuBefore = cpuOf(pids);
  const storeCpuBefore = storePids().length ? cpuOf(storePids()) : null;
  const sinkCpuBefore = cpuSeconds(sink.pid);
  const clientCpuBefore = process.cpuUsage();
  const samplers = pids.map((pid) => new RssSampler(pid));

  const load: Load = { ports: relays.map((r) => r.port), messages: opts.messages, clients: opts.clients, reuse: opts.reuse, size: opts.size, rate: opts.rate };
  const result = opts.client === 'node' ? await runNodeClients(load, message(opts.size)) : await runSmtpSource(load);
  const deliveredAt = result.accepted ? await sink.reach(before + result.accepted, STALL_MS, stack.diagnose) : null;

  const cpuAfter = cpuOf(pids);
  // Backends come and go: the server's CPU is read over the processes alive at the end (the pool's connections).
  const storeCpuAfter = storeCpuBefore === null ? null : cpuOf(storePids());
  const sinkCpuAfter = cpuSeconds(sink.pid);
  const clientCpu = process.cpuUsage(clientCpuBefore);
  const peak = Math.max(...pids.map((pid, i) => Math.max(memory(pid)?.peak ?? 0, (samplers[i] as RssSampler).stop()))) || null;
  const codes = await Promise.all(relays.map((r) => r.stop()));
  const code = codes.find((c) => c !== 0) ?? 0;
  if (code !== 0) result.errors.push(`relay365 exited with ${code} on SIGTERM (expected 0)`);
  const problems = { count: relays.reduce((n, r) => n + r.problems.count, 0), last: relays.flatMap((r) => r.problems.last) };

  const acceptSeconds = (result.lastAcceptedAt - result.startedAt) / 1000;
  const deliverSeconds = deliveredAt === null ? null : (deliveredAt - result.startedAt) / 1000;
  const figures: Figures = {
    accepted: result.accepted,
    failed: result.failed,
    acceptSeconds,
    acceptedPerSecond: acceptSeconds > 0 ? result.accepted / acceptSeconds : 0,
    deliverSeconds,
    deliveredPerSecond: deliverSeconds ? result.accepted / deliverSeconds : null,
    latencyMs: result.latencies ? percentiles(result.latencies) : null,
    relayPeakRssBytes: peak,
    relayIdleRssBytes: stack.idleRss,
    relayCpuSeconds: cpuBefore !== null && cpuAfter !== null ? cpuAfter - cpuBefore : null,
    storeCpuSeconds: storeCpuBefore !== null && storeCpuAfter !== null ? storeCpuAfter - storeCpuBefore : null,
    clientCpuSeconds: opts.client === 'node' ? (clientCpu.user + clientCpu.system) / 1e6 : null,
    sinkCpuSeconds: sinkCpuBefore !== null && sinkCpuAfter !== null ? sinkCpuAfter - sinkCpuBefore : null,
    loadBefore,
    relayProblems: problems.count,
    errors: result.errors,
  };
  if (problems.count && !opts.json) {
    process.stderr.write(`relay365 logged ${problems.count} warnings or errors; the last ones:\n${problems.last.slice(-5).join('\n')}\n`);
  }
  return {
    ok: result.failed === 0 && code === 0,
    text: throughputReport(stack.setup, figures),
    json: { setup: stack.setup, figures, relayLog: problems.last.slice(-5) },
    figures,
  };
}
