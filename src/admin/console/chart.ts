/** The overview's chart: messages per minute received, delivered and failed, as an inline SVG (no library). */
import { h, svg } from './dom.js';
import type { Overview } from './types.js';

const SERIES = [
  { key: 'received', label: 'received', cls: 'line-received' },
  { key: 'delivered', label: 'delivered', cls: 'line-delivered' },
  { key: 'failed', label: 'failed', cls: 'line-failed' },
] as const;

export function activityChart(o: Overview): HTMLElement {
  const width = 720;
  const height = 200;
  const pad = { left: 36, right: 8, top: 8, bottom: 22 };
  const minutes = Math.max(1, Math.round((o.now - o.since) / o.bucketMs));
  const byMinute = new Map(o.activity.map((b) => [Math.round((b.at - o.since) / o.bucketMs), b]));
  const max = Math.max(1, ...o.activity.flatMap((b) => [b.received, b.delivered, b.failed]));
  const x = (i: number) => pad.left + (i / minutes) * (width - pad.left - pad.right);
  const y = (v: number) => height - pad.bottom - (v / max) * (height - pad.top - pad.bottom);
  const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, class: 'chart', role: 'img', 'aria-label': `Messages per minute over the last ${Math.round(minutes / 60)} hours` });
  chart.append(svg('line', { x1: pad.left, y1: y(0), x2: width - pad.right, y2: y(0), class: 'axis' }));
  chart.append(svg('text', { x: 2, y: y(max) + 4, class: 'tick' }, String(max)));
  chart.append(svg('text', { x: 2, y: y(0), class: 'tick' }, '0'));
  for (let hour = 0; hour * 60 <= minutes; hour++) {
    const i = minutes - hour * 60;
    chart.append(svg('text', { x: x(i), y: height - 6, class: 'tick', 'text-anchor': hour === 0 ? 'end' : 'middle' }, hour === 0 ? 'now' : `-${hour}h`));
  }
  for (const s of SERIES) {
    const points: string[] = [];
    for (let i = 0; i <= minutes; i++) points.push(`${x(i).toFixed(1)},${y(byMinute.get(i)?.[s.key] ?? 0).toFixed(1)}`);
    chart.append(svg('polyline', { points: points.join(' '), class: s.cls }));
  }
  const total = (k: (typeof SERIES)[number]['key']) => o.activity.reduce((n, b) => n + b[k], 0);
  return h(
    'figure',
    { class: 'chart-box' },
    chart,
    h('figcaption', {}, ...SERIES.map((s) => h('span', { class: `legend ${s.cls}` }, `${s.label} ${total(s.key)}`))),
  );
}
