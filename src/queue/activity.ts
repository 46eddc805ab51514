/** The console's activity chart from the two counts both stores make (received by arrival, final states by last change). */
import type { State } from './states.js';
import type { ActivityBucket } from './store.js';

export function activityBuckets(received: { at: number; n: number }[], done: { state: State; at: number; n: number }[]): ActivityBucket[] {
  const buckets = new Map<number, ActivityBucket>();
  const at = (time: number) => {
    const t = Number(time);
    let b = buckets.get(t);
    if (!b) buckets.set(t, (b = { at: t, received: 0, delivered: 0, failed: 0 }));
    return b;
  };
  for (const r of received) at(r.at).received += Number(r.n);
  for (const d of done) {
    if (d.state === 'delivered') at(d.at).delivered += Number(d.n);
    else if (d.state === 'failed' || d.state === 'bounced') at(d.at).failed += Number(d.n);
  }
  return [...buckets.values()].sort((a, b) => a.at - b.at);
}
