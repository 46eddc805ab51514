// The key Entra signs tokens with, published as JWKS.
//
// RSA 2048, RS256, like Microsoft's. The key is kept in the data folder so tokens a client cached
// before a sandbox restart still verify after it. `kid` is the key's JWK thumbprint; Microsoft
// uses the certificate thumbprint and repeats it as `x5t`, and so do we (same value, both headers).
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { calculateJwkThumbprint, exportJWK, SignJWT, type JWK, type JWTPayload } from 'jose';

export interface SigningKeys {
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly publicJwk: JWK;
}

/** Loads `<dataDir>/pki/token-signing.key`, creating it on first start. */
export async function loadOrCreateSigningKeys(dataDir: string): Promise<SigningKeys> {
  const dir = resolve(dataDir, 'pki');
  await mkdir(dir, { recursive: true });
  const path = join(dir, 'token-signing.key');
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    pem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const tmp = `${path}.${process.pid}.tmp`;
    await writeFile(tmp, pem, { mode: 0o600 });
    await rename(tmp, path);
  }
  const privateKey = createPrivateKey(pem);
  const publicKey = createPublicKey(privateKey);
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  return { kid, privateKey, publicKey, publicJwk: { ...jwk, kid, x5t: kid, use: 'sig', alg: 'RS256' } };
}

/** The document served at `/{tenant}/discovery/v2.0/keys`. */
export function jwksDocument(keys: SigningKeys, issuer: string): { keys: JWK[] } {
  return { keys: [{ kty: keys.publicJwk.kty, use: 'sig', kid: keys.kid, x5t: keys.kid, n: keys.publicJwk.n, e: keys.publicJwk.e, issuer } as JWK] };
}

/** Signs claims as Entra does: RS256, `typ: JWT`, `kid` and `x5t`. */
export function signJwt(keys: SigningKeys, claims: JWTPayload): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ typ: 'JWT', alg: 'RS256', kid: keys.kid, x5t: keys.kid }).sign(keys.privateKey);
}
