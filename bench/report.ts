/**
 * What the bench prints: a header that says exactly what ran (connection pattern, sizes,
 * sessions, durability, sink, client, machine), the figures, and the targets from
 * issue 2 and design/PERFORMANCE.md next to them. --json prints the same as one object.
 */
import { cpus } from 'node:os';

export interface Setup {
  mode: 'throughput' | 'big';
  messages: number;
  size: number;
  clients: number;
  reuse: boolean;
  rate: number;
  client: string;
  sink: string;
  concurrency: number;
  upstreamConnections: number;
  /** Relay nodes sharing the work (several only with the PostgreSQL store). */
  nodes: number;
  relay: string;
  store: string;
  machine: string;
}

export interface Figures {
  accepted: number;
  failed: number;
  acceptSeconds: number;
  acceptedPerSecond: number;
  deliverSeconds: number | null;
  deliveredPerSecond: number | null;
  latencyMs: { p50: number; p99: number; max: number } | null;
  relayPeakRssBytes: number | null;
  relayIdleRssBytes: number | null;
  /** All nodes together. */
  relayCpuSeconds: number | null;
  /** The PostgreSQL server (every backend), with --store postgres: it shares the machine too. */
  storeCpuSeconds?: number | null;
  /** CPU used meanwhile by the bench process (the Node client) and by the sink: the relay shares the machine with them. */
  clientCpuSeconds: number | null;
  sinkCpuSeconds: number | null;
  /** 1-minute load average just before the run: other work on the machine skews the figures. */
  loadBefore: number;
  relayProblems: number;
  errors: string[];
}

/** End to end of Postfix in PERFORMANCE.md (upper end of its range): relay365 must reach 1.5×. */
export const POSTFIX_END_TO_END = { perMessage: 766, reuse: 916 } as const;

export function machine(): string {
  const list = cpus();
  return `${list.length} CPU${list.length === 1 ? '' : 's'} (${list[0]?.model.trim() ?? 'unknown'}), Node ${process.version}`;
}

export function percentiles(values: number[]): { p50: number; p99: number; max: number } | null {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number;
  return { p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] as number };
}

export const sizeText = (bytes: number) =>
  bytes >= 1024 * 1024 ? `${+(bytes / 1024 / 1024).toFixed(1)} MB` : bytes >= 1024 ? `${+(bytes / 1024).toFixed(1)} KB` : `${bytes} B`;
const mb = (bytes: number | null) => (bytes === null ? 'n/a' : `${(bytes / 1024 / 1024).toFixed(0)} MB`);
const rate = (n: number) => Math.round(n).toLocaleString('en-US');
const ms = (n: number) => `${n.toFixed(1)} ms`;
const mark = (ok: boolean) => (ok ? 'met' : 'MISSED');

export function header(setup: Setup): string[] {
  const pattern = setup.reuse ? 'one connection per session (reused for every message)' : 'a new connection per message';
  const what =
    setup.mode === 'big'
      ? `relay365 bench (memory): one message of ${sizeText(setup.size)}`
      : `relay365 bench: ${setup.messages.toLocaleString('en-US')} messages of ${sizeText(setup.size)}, ${setup.clients} concurrent sessions, ${pattern}${setup.rate ? `, paced at ${setup.rate} msg/s` : ''}`;
  return [
    what,
    `  client    ${setup.client}`,
    `  relay     ${setup.relay}`,
    `  store     ${setup.store}`,
    `  delivery  ${setup.sink}; delivery.concurrency ${setup.concurrency}, ${setup.upstreamConnections} pooled connections to the sink`,
    `  machine   ${setup.machine}`,
  ];
}

export function throughputReport(setup: Setup, f: Figures): string {
  const lines = header(setup);
  lines.push('');
  lines.push(`  accepted   ${rate(f.acceptedPerSecond)} msg/s   (${f.accepted} in ${f.acceptSeconds.toFixed(2)} s, start to the last 250)`);
  if (f.deliveredPerSecond !== null && f.deliverSeconds !== null) {
    lines.push(`  delivered  ${rate(f.deliveredPerSecond)} msg/s   (${f.accepted} in ${f.deliverSeconds.toFixed(2)} s, start until the sink had them all: end to end)`);
  }
  lines.push(
    f.latencyMs
      ? `  latency    p50 ${ms(f.latencyMs.p50)}   p99 ${ms(f.latencyMs.p99)}   max ${ms(f.latencyMs.max)}   (end of DATA to the 250: the durable commit)`
      : '  latency    not measured: smtp-source reports no per-message times (use --client node)',
  );
  const each = setup.nodes > 1 ? ' (the largest of the nodes)' : '';
  lines.push(`  relay RSS  peak ${mb(f.relayPeakRssBytes)}   (idle after the warm-up message ${mb(f.relayIdleRssBytes)})${each}`);
  if (f.relayCpuSeconds !== null) {
    const busy = (f.relayCpuSeconds / (f.deliverSeconds ?? f.acceptSeconds)) * 100;
    lines.push(`  relay CPU  ${f.relayCpuSeconds.toFixed(1)} s   (${busy.toFixed(0)} % of one core while the run lasted${setup.nodes > 1 ? `, ${setup.nodes} nodes together` : ''})`);
  }
  if (f.storeCpuSeconds != null) lines.push(`  store CPU  ${f.storeCpuSeconds.toFixed(1)} s   (the PostgreSQL server, every backend)`);
  const others = [
    f.clientCpuSeconds === null ? null : `client ${f.clientCpuSeconds.toFixed(1)} s`,
    f.sinkCpuSeconds === null ? null : `sink ${f.sinkCpuSeconds.toFixed(1)} s`,
    `load average before the run ${f.loadBefore.toFixed(2)}`,
  ].filter(Boolean);
  lines.push(`  other CPU  ${others.join(', ')}`);
  if (f.failed || f.errors.length) lines.push(`  FAILED     ${f.failed} messages not accepted; ${f.errors.join(' | ')}`);
  if (f.relayProblems) lines.push(`  relay log  ${f.relayProblems} warnings or errors (the last ones are on stderr)`);

  const postfix = setup.reuse ? POSTFIX_END_TO_END.reuse : POSTFIX_END_TO_END.perMessage;
  const target = (label: string, ok: boolean, note = '') => lines.push(`    ${label.padEnd(52)} ${mark(ok)}${note}`);
  lines.push('', '  targets (issue 2; design/PERFORMANCE.md)');
  target('accepted ≥ 500 msg/s (10 KB, 20 clients)', f.acceptedPerSecond >= 500);
  if (f.latencyMs) target(`p99 < 50 ms${setup.rate ? '' : ' (PERFORMANCE.md: at 200 msg/s: --rate)'}`, f.latencyMs.p99 < 50);
  if (f.relayPeakRssBytes !== null) target('relay RSS < 200 MB', f.relayPeakRssBytes < 200 * 1024 * 1024);
  if (f.deliveredPerSecond !== null) {
    const ratio = f.deliveredPerSecond / postfix;
    target(`end to end ≥ 1.5× Postfix (${postfix} msg/s)`, ratio >= 1.5, `: ${ratio.toFixed(2)}× the top of Postfix's range in PERFORMANCE.md`);
  }
  return `${lines.join('\n')}\n`;
}

/** --nodes N with PostgreSQL: the same load through 1 node and through N, side by side. */
export function nodesSummary(runs: { nodes: number; figures: Figures }[]): string {
  const rows = runs.map(({ nodes, figures: f }) => {
    const delivered = f.deliveredPerSecond === null ? 'n/a' : rate(f.deliveredPerSecond);
    const p99 = f.latencyMs ? ms(f.latencyMs.p99) : 'n/a';
    return `  ${String(nodes).padStart(5)}  ${rate(f.acceptedPerSecond).padStart(12)}  ${delivered.padStart(13)}  ${p99.padStart(10)}`;
  });
  return [`relay365 bench: nodes on one PostgreSQL database`, `  nodes  accepted msg/s  delivered msg/s  p99 accept`, ...rows, ''].join('\n');
}

export interface BigFigures {
  size: number;
  acceptSeconds: number;
  deliverSeconds: number;
  idleRssBytes: number | null;
  peakRssBytes: number | null;
  peakExact: boolean;
  relayProblems: number;
}

export function bigReport(setup: Setup, f: BigFigures): string {
  const lines = header(setup);
  const ratio = f.idleRssBytes && f.peakRssBytes ? f.peakRssBytes / f.idleRssBytes : null;
  lines.push('');
  lines.push(`  accepted   in ${f.acceptSeconds.toFixed(2)} s (${(f.size / 1024 / 1024 / f.acceptSeconds).toFixed(0)} MB/s, first byte to the 250)`);
  lines.push(`  delivered  in ${f.deliverSeconds.toFixed(2)} s (start until the sink had it)`);
  lines.push(`  relay RSS  idle ${mb(f.idleRssBytes)}, peak ${mb(f.peakRssBytes)}${f.peakExact ? ' (VmHWM, reset after idle)' : ' (sampled every 20 ms)'}`);
  if (ratio !== null) lines.push(`  target     peak < 2× idle: ${ratio.toFixed(2)}× — ${mark(ratio < 2)}`);
  if (f.relayProblems) lines.push(`  relay log  ${f.relayProblems} warnings or errors`);
  return `${lines.join('\n')}\n`;
}
