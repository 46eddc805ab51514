/**
 * Connection slots as both stores hand them out: the lowest free number below the mailbox's
 * limit, counting only the slots of live nodes (sqlite/ and postgres/connection-slots.ts).
 */
import type { ConnectionInUse } from './store.js';

export interface ConnectionRow {
  node: string;
  slot: number;
  taken_at: number;
}

export const toConnection = (r: ConnectionRow): ConnectionInUse => ({ node: r.node, slot: Number(r.slot), takenAt: Number(r.taken_at) });

/** The lowest slot number below `limit` that no live node holds, or null when they are all held. */
export function freeSlot(held: ConnectionRow[], limit: number): number | null {
  if (held.length >= limit) return null;
  const taken = new Set(held.map((h) => Number(h.slot)));
  for (let slot = 0; slot < limit; slot++) if (!taken.has(slot)) return slot;
  return null;
}
