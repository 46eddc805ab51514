/**
 * Idempotency-Key (draft-ietf-httpapi-idempotency-key-header): a client that retries a
 * request it never saw the answer to gets the first answer again, and no second message.
 * The key (per app) is claimed in the store before the message is taken in, naming the id
 * the message will have; the answer is stored once given. A retry while the first request
 * is still running gets 409; with another body, 422. A claim left unsettled by a crash is
 * resolved by looking the named message up: committed means the answer was 202.
 */
import { createHash } from 'node:crypto';
import type { IdempotentAnswer, Store } from '../../queue/store.js';
import { problem, type Problem } from './problems.js';

/** Longer than any submission takes: an unsettled claim this old was left by a crash. */
const ABANDONED_AFTER_MS = 10 * 60_000;
const KEY = /^[\x21-\x7e]{1,255}$/;

export type Claim =
  | { kind: 'new'; settle(answer: IdempotentAnswer): Promise<void>; release(): Promise<void> }
  | { kind: 'replay'; answer: IdempotentAnswer }
  | { kind: 'problem'; problem: Problem };

export function fingerprint(contentType: string, body: Buffer): string {
  return createHash('sha256').update(contentType).update('\0').update(body).digest('base64url');
}

export async function claimKey(store: Store, app: string, header: string, print: string, messageId: string, ttlMs: number, accepted: (id: string) => IdempotentAnswer): Promise<Claim> {
  if (!KEY.test(header)) return { kind: 'problem', problem: problem('bad-idempotency-key', 'Idempotency-Key must be 1 to 255 printable ASCII characters') };
  const key = `${app}:${header}`;
  const now = Date.now();
  for (let round = 0; round < 2; round++) {
    const claim = await store.claimIdempotencyKey({ key, fingerprint: print, messageId, now, expiresAt: now + ttlMs });
    if (claim.claimed) {
      return {
        kind: 'new',
        settle: (answer) => store.settleIdempotencyKey(key, answer),
        release: () => store.releaseIdempotencyKey(key),
      };
    }
    if (claim.fingerprint !== print) {
      return { kind: 'problem', problem: problem('idempotency-key-reused', `Idempotency-Key "${header}" was used for a different request; use a new key for a new message`) };
    }
    if (claim.answer) return { kind: 'replay', answer: claim.answer };
    if (now - claim.since < ABANDONED_AFTER_MS) {
      return { kind: 'problem', problem: problem('idempotency-key-in-use', `A request with Idempotency-Key "${header}" is still being processed; retry in a moment`) };
    }
    if (await store.get(claim.messageId)) {
      const answer = accepted(claim.messageId);
      await store.settleIdempotencyKey(key, answer);
      return { kind: 'replay', answer };
    }
    await store.releaseIdempotencyKey(key);
  }
  return { kind: 'problem', problem: problem('idempotency-key-in-use', `Idempotency-Key "${header}" is being claimed by another request; retry in a moment`) };
}
