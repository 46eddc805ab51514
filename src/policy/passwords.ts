/**
 * App and admin passwords, stored only as scrypt hashes: `scrypt$N$r$p$salt$hash` (base64). An
 * app's password lives in the application's own configuration (SCOT, enaio); relay365 keeps
 * nothing that would let anyone read it back.
 *
 * New hashes cost N = 2^17, r = 8, p = 1 (OWASP's scrypt setting: 128 MiB and most of a second
 * of one CPU each). A hash keeps the cost it was made with, so hashes made before (N = 2^14)
 * still verify; `relay365 app passwd` / `admin passwd` make one of the current cost.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const PARAMS = { N: 2 ** 17, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;
/** scrypt needs 128·N·r bytes; Node refuses more than maxmem, and its default (32 MiB) is below N = 2^17. */
const MAX_MEMORY = 2 * 128 * PARAMS.N * PARAMS.r;

/**
 * Checked against when the user name is unknown: the current cost, so an unknown user takes
 * the same work as a known one and the answer's timing does not tell which user names exist.
 */
const DUMMY_HASH = `scrypt$${PARAMS.N}$${PARAMS.r}$${PARAMS.p}$${Buffer.alloc(16).toString('base64')}$${Buffer.alloc(KEY_LENGTH).toString('base64')}`;

/**
 * What this process has verified so far: the seam through which tests see that an unknown user
 * got the dummy hash's work, and how many checks ran at once (policy/sign-in-guard.ts caps it).
 */
export const passwordChecks = { ofKnownUsers: 0, ofUnknownUsers: 0, running: 0, mostAtOnce: 0 };

function derive(password: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFC'), salt, KEY_LENGTH, { ...options, maxmem: MAX_MEMORY }, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, PARAMS);
  return `scrypt$${PARAMS.N}$${PARAMS.r}$${PARAMS.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** A well-formed hash, as `relay365 app passwd` prints it (checked when the config loads). */
export const PASSWORD_HASH = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/;

/**
 * Whether a hash was made with less work than new ones get (N = 2^14 before): it still
 * verifies, but is cheaper to guess, and answers faster than an unknown user name does.
 */
export function isBelowCurrentCost(hash: string): boolean {
  const parts = PASSWORD_HASH.exec(hash);
  return parts !== null && Number(parts[1]) * Number(parts[2]) * Number(parts[3]) < PARAMS.N * PARAMS.r * PARAMS.p;
}

/**
 * Whether the password matches the hash. Without a hash (the user name is unknown) the password
 * is checked against a dummy hash of the current cost, and the answer is no.
 */
export async function verifyPassword(password: string, hash: string | undefined): Promise<boolean> {
  const parts = PASSWORD_HASH.exec(hash ?? DUMMY_HASH);
  if (!parts) return false;
  const [, N, r, p, salt, expected] = parts;
  const wanted = Buffer.from(expected as string, 'base64');
  if (hash === undefined) passwordChecks.ofUnknownUsers++;
  else passwordChecks.ofKnownUsers++;
  passwordChecks.running++;
  passwordChecks.mostAtOnce = Math.max(passwordChecks.mostAtOnce, passwordChecks.running);
  try {
    const key = await derive(password, Buffer.from(salt as string, 'base64'), { N: Number(N), r: Number(r), p: Number(p) });
    return hash !== undefined && key.length === wanted.length && timingSafeEqual(key, wanted);
  } finally {
    passwordChecks.running--;
  }
}
