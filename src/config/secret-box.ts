/**
 * AES-256-GCM with relay365's master key: the one place secrets are encrypted at rest, both the
 * `enc:v1:` values an admin puts into relay365.yaml, and the MSAL token caches and app-only
 * access tokens in the store.
 *
 * A sealed value is `<key id>:<base64url(iv ‖ ciphertext ‖ tag)>`. The key id (8 hex digits of a
 * hash of the key, useless for guessing it) travels with every value so that "encrypted with
 * another master key" can be told apart from "damaged": GCM itself only says "does not
 * authenticate" for both. The associated data binds a value to its purpose (a config value, or
 * the token cache of one route), so a sealed token cache cannot be passed off as another route's.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

const IV_BYTES = 12;
const TAG_BYTES = 16;
export const KEY_BYTES = 32;

/** The first 4 bytes of SHA-256 over a label and the key, as hex: names a key without revealing it. */
export function keyIdOf(key: Buffer): string {
  return createHash('sha256').update('relay365 master key id\0').update(key).digest('hex').slice(0, 8);
}

export type Unsealed = { ok: true; plaintext: Buffer } | { ok: false; reason: 'other-key'; keyId: string } | { ok: false; reason: 'damaged' };

export class SecretBox {
  readonly keyId: string;

  constructor(private readonly key: Buffer) {
    if (key.length !== KEY_BYTES) throw new RangeError(`a master key has ${KEY_BYTES} bytes, not ${key.length}`);
    this.keyId = keyIdOf(key);
  }

  seal(plaintext: string | Buffer, purpose: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(purpose, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return `${this.keyId}:${Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url')}`;
  }

  open(sealed: string, purpose: string): Unsealed {
    const match = /^([0-9a-f]{8}):([A-Za-z0-9_-]+)$/.exec(sealed.trim());
    if (!match) return { ok: false, reason: 'damaged' };
    const [, keyId, payload] = match as unknown as [string, string, string];
    if (keyId !== this.keyId) return { ok: false, reason: 'other-key', keyId };
    const bytes = Buffer.from(payload, 'base64url');
    if (bytes.length < IV_BYTES + TAG_BYTES) return { ok: false, reason: 'damaged' };
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, bytes.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(purpose, 'utf8'));
      decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
      return { ok: true, plaintext: Buffer.concat([decipher.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES)), decipher.final()]) };
    } catch {
      return { ok: false, reason: 'damaged' };
    }
  }
}
