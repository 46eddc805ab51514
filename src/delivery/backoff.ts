/** How long to wait before trying again after a transient failure. */
import type { RetryConfig } from '../config/schema.js';

/**
 * Exponential backoff with jitter: initial × factor^(failures − 1), capped at max, spread
 * by ±jitter so that messages deferred together do not all come back at the same moment.
 */
export function retryDelay(failures: number, retry: RetryConfig, random: () => number = Math.random): number {
  const base = Math.min(retry.max, retry.initial * retry.factor ** Math.max(0, failures - 1));
  const spread = base * retry.jitter;
  return Math.max(0, Math.round(base - spread + random() * 2 * spread));
}
