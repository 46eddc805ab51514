/**
 * The throughput run: N messages through C sessions, timed at the clients (accepted) and
 * at the sink (delivered), with the relay's memory and CPU read from /proc.
 */
import { loadavg } from 'node:os';
import { cpuSeconds, memory, RssSampler } from './processes.js';
import { runNodeClients, runSmtpSource, type Load } from './load.js';
import type { BenchOptions } from './relay.js';
import { percentiles, throughputReport, type Figures } from './report.js';
import { message } from './smtp-client.js';
import { startStack } from './stack.js';

export interface BenchReport {
  ok: boolean;
  text: string;
  json: unknown;
}

/** How long the sink's count may stand still before the bench gives up and says why. */
const STALL_MS = 30_000;

export async function runThroughput(opts: BenchOptions): Promise<BenchReport> {
  const stack = await startStack(opts, 'throughput', Math.max(35 * 1024 * 1024, opts.size * 2));
  const { sink, relay } = stack;
  const before = sink.count;
  const loadBefore = loadavg()[0] ?? 0;
  const cpuBefore = cpuSeconds(relay.pid);
  const sinkCpuBefore = cpuSeconds(sink.pid);
  const clientCpuBefore = process.cpuUsage();
  const sampler = new RssSampler(relay.pid);

  const load: Load = { port: relay.port, messages: opts.messages, clients: opts.clients, reuse: opts.reuse, size: opts.size, rate: opts.rate };
  const result = opts.client === 'node' ? await runNodeClients(load, message(opts.size)) : await runSmtpSource(load);
  const deliveredAt = result.accepted ? await sink.reach(before + result.accepted, STALL_MS, stack.diagnose) : null;

  const cpuAfter = cpuSeconds(relay.pid);
  const sinkCpuAfter = cpuSeconds(sink.pid);
  const clientCpu = process.cpuUsage(clientCpuBefore);
  const sampled = sampler.stop();
  const peak = Math.max(memory(relay.pid)?.peak ?? 0, sampled) || null;
  const code = await relay.stop();
  if (code !== 0) result.errors.push(`relay365 exited with ${code} on SIGTERM (expected 0)`);

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
    clientCpuSeconds: opts.client === 'node' ? (clientCpu.user + clientCpu.system) / 1e6 : null,
    sinkCpuSeconds: sinkCpuBefore !== null && sinkCpuAfter !== null ? sinkCpuAfter - sinkCpuBefore : null,
    loadBefore,
    relayProblems: relay.problems.count,
    errors: result.errors,
  };
  if (relay.problems.count && !opts.json) {
    process.stderr.write(`relay365 logged ${relay.problems.count} warnings or errors; the last ones:\n${relay.problems.last.slice(-5).join('\n')}\n`);
  }
  return {
    ok: result.failed === 0 && code === 0,
    text: throughputReport(stack.setup, figures),
    json: { setup: stack.setup, figures, relayLog: relay.problems.last.slice(-5) },
  };
}
