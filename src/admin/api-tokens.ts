/** API tokens for automation, made the same way by `relay365 admin token create` and POST /api/tokens. */
import type { Store } from '../queue/store.js';
import { newApiToken, randomToken, sha256 } from './secrets.js';

/** A new API token: its value is returned once; the store keeps its SHA-256. */
export async function createApiToken(store: Store, name: string): Promise<{ id: string; name: string; token: string }> {
  const token = newApiToken();
  const id = randomToken(6);
  await store.createApiToken({ id, name, hash: sha256(token), createdAt: Date.now() });
  return { id, name, token };
}
