/**
 * The memory run (--big SIZE): one large message through the relay while its memory is
 * watched. Idle RSS is read after the warm-up message; the kernel's peak counter (VmHWM)
 * is then reset, so the peak reported is the peak while the big message moved — in
 * through the spool file, out to the sink. Target (PERFORMANCE.md): peak < 2× idle.
 */
import { performance } from 'node:perf_hooks';
import { FROM, TO } from './load.js';
import { memory, resetPeak, RssSampler } from './processes.js';
import type { BenchOptions } from './relay.js';
import { bigReport, type BigFigures } from './report.js';
import { messageChunks, SmtpClient } from './smtp-client.js';
import { startStack, type RunShape } from './stack.js';
import type { BenchReport } from './throughput.js';

export async function runBig(opts: BenchOptions, size: number, shape: RunShape): Promise<BenchReport> {
  const stack = await startStack(opts, 'big', Math.max(35 * 1024 * 1024, size + 1024 * 1024), shape);
  const { sink, relay } = stack;
  const before = sink.count;
  const exact = resetPeak(relay.pid);
  const sampler = new RssSampler(relay.pid, 20);

  const startedAt = performance.now();
  const client = new SmtpClient(relay.port);
  await client.open();
  await client.send(FROM, TO, messageChunks(size, 'big'));
  const acceptedAt = performance.now();
  await client.quit();
  const deliveredAt = await sink.reach(before + 1, 60_000, stack.diagnose);
  await new Promise((r) => setTimeout(r, 200)); // the relay finishes recording the attempt

  const sampled = sampler.stop();
  const peak = exact ? Math.max(memory(relay.pid)?.peak ?? 0, sampled) : sampled;
  const code = await relay.stop();

  const figures: BigFigures = {
    size,
    acceptSeconds: (acceptedAt - startedAt) / 1000,
    deliverSeconds: (deliveredAt - startedAt) / 1000,
    idleRssBytes: stack.idleRss,
    peakRssBytes: peak || null,
    peakExact: exact,
    relayProblems: relay.problems.count,
  };
  if (relay.problems.count && !opts.json) {
    process.stderr.write(`relay365 logged ${relay.problems.count} warnings or errors; the last ones:\n${relay.problems.last.slice(-5).join('\n')}\n`);
  }
  const ratio = figures.idleRssBytes && figures.peakRssBytes ? figures.peakRssBytes / figures.idleRssBytes : null;
  return {
    ok: code === 0,
    text: bigReport(stack.setup, figures),
    json: { setup: stack.setup, figures: { ...figures, peakOverIdle: ratio }, relayLog: relay.problems.last.slice(-5) },
  };
}
