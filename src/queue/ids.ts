/**
 * Message ids: 18 characters of Crockford base32, the first 10 the receive time in
 * milliseconds, the rest random. They sort by arrival (paging by id is paging by time),
 * are unique across nodes, and are short enough to read out on the phone.
 */
import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

export function newMessageId(now = Date.now()): string {
  let time = '';
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = ALPHABET[t % 32] + time;
    t = Math.floor(t / 32);
  }
  const random = randomBytes(5);
  let bits = 0n;
  for (const byte of random) bits = (bits << 8n) | BigInt(byte);
  let tail = '';
  for (let i = 0; i < 8; i++) {
    tail = ALPHABET[Number(bits & 31n)] + tail;
    bits >>= 5n;
  }
  return time + tail;
}

export const MESSAGE_ID_PATTERN = /^[0-9a-hjkmnp-tv-z]{18}$/;

/** The smallest id a message received at `time` (ms) can have: time ranges are id ranges. */
export function firstIdAt(time: number): string {
  return newMessageId(Math.max(0, Math.floor(time))).slice(0, 10) + '0'.repeat(8);
}
