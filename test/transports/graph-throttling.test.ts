// Graph's per-mailbox concurrency (4 requests at once) kept by the transport, as the sandbox's
// Graph sees it: requests overlap at most 4 deep (or pacing.concurrency), and none is throttled;
// a route configured above Graph's limit meets 429 MailboxConcurrency and is deferred by Retry-After.
import { describe, expect, it } from 'vitest';
import type { SandboxEvent } from '../../sandbox/index.js';
import { eventsSince, quietEvents } from '../credentials/helpers.js';
import { ALICE, composeToBuffer, graphRoute, graphTransport, jobFor, useGraphSandbox, type GraphUnderTest } from './graph-fixture.js';

const t = useGraphSandbox(); // the latency fault cleared after each test
let g: GraphUnderTest | undefined;

/** The most requests the sandbox was serving at one moment, from each event's end time and duration. */
function deepestOverlap(events: SandboxEvent[]): number {
  const edges = events.flatMap((e) => {
    const end = Date.parse(e.at);
    return [
      { at: end - (e.durationMs ?? 0), step: 1 },
      { at: end, step: -1 },
    ];
  });
  edges.sort((a, b) => a.at - b.at || a.step - b.step);
  let depth = 0;
  let deepest = 0;
  for (const e of edges) deepest = Math.max(deepest, (depth += e.step));
  return deepest;
}

async function sendTen(extra: Record<string, unknown> = {}) {
  g = graphTransport(graphRoute(t, extra));
  const message = await composeToBuffer({ to: ALICE, text: 'batch' });
  await g.transport.deliver(jobFor(message, [ALICE])); // the token, fetched once beforehand
  t.sandbox.faults.add({ kind: 'latency', endpoint: 'graph', ms: 300 });
  const since = await quietEvents(t);
  const results = await Promise.all(Array.from({ length: 10 }, () => g!.transport.deliver(jobFor(message, [ALICE]))));
  return { outcomes: results.map((r) => r.get(0)!), events: await eventsSince(t, since, 'graph') };
}

describe('requests at once per mailbox', () => {
  it('10 deliveries at once: at most 4 requests in flight at Graph, none throttled, all delivered', async () => {
    const { outcomes, events } = await sendTen();
    expect(outcomes.map((o) => o.verdict)).toEqual(Array(10).fill('delivered'));
    expect(events).toHaveLength(10);
    expect(events.filter((e) => e.status === 429)).toEqual([]);
    expect(deepestOverlap(events)).toBe(4);
  });

  it('pacing.concurrency lowers it (2)', async () => {
    const { outcomes, events } = await sendTen({ pacing: { concurrency: 2 } });
    expect(outcomes.every((o) => o.verdict === 'delivered')).toBe(true);
    expect(deepestOverlap(events)).toBe(2);
    expect(g!.transport.pacing.concurrency).toBe(2);
  });

  it('above Graph\'s limit (6), requests beyond 4 meet 429 MailboxConcurrency and are deferred by its Retry-After', async () => {
    const before = Date.now();
    const { outcomes, events } = await sendTen({ pacing: { concurrency: 6 } });
    const throttled = outcomes.filter((o) => o.verdict === 'transient');
    expect(throttled.length).toBeGreaterThan(0);
    expect(events.filter((e) => e.status === 429).length).toBe(throttled.length);
    for (const o of throttled) {
      expect(o.reply).toEqual({ code: 429, enhanced: 'ApplicationThrottled', text: 'Application is over its MailboxConcurrency limit.' });
      expect(o.retryAt! - before).toBeGreaterThanOrEqual(1000); // Retry-After: 1
      expect(o.retryAt! - Date.now()).toBeLessThanOrEqual(1000);
      expect(o.fix).toContain('lower routes.m365.pacing.concurrency');
    }
  });
});
