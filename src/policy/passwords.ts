/**
 * App passwords, stored only as scrypt hashes: `scrypt$N$r$p$salt$hash` (base64). An app's
 * password lives in the application's own configuration (SCOT, enaio); relay365 keeps
 * nothing that would let anyone read it back.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const PARAMS = { N: 16384, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;

function derive(password: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFC'), salt, KEY_LENGTH, { ...options, maxmem: 64 * 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, PARAMS);
  return `scrypt$${PARAMS.N}$${PARAMS.r}$${PARAMS.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** A well-formed hash, as `relay365 app passwd` prints it (checked when the config loads). */
export const PASSWORD_HASH = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/;

export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  const parts = PASSWORD_HASH.exec(hash);
  if (!parts) return false;
  const [, N, r, p, salt, expected] = parts;
  const wanted = Buffer.from(expected as string, 'base64');
  const key = await derive(password, Buffer.from(salt as string, 'base64'), { N: Number(N), r: Number(r), p: Number(p) });
  return key.length === wanted.length && timingSafeEqual(key, wanted);
}
