/**
 * What every Store must do with delegated sign-ins (loadTokenCache, saveTokenCache,
 * deleteTokenCache), written once: SQLite runs it in token-cache.test.ts, the PostgreSQL store
 * runs the same by calling tokenCacheContract('PostgreSQL', open).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../../src/queue/store.js';

export function tokenCacheContract(name: string, open: () => Promise<Pick<Store, 'loadTokenCache' | 'saveTokenCache' | 'deleteTokenCache' | 'close'>>) {
  describe(`${name} store: delegated sign-ins (token caches)`, () => {
    let store: Awaited<ReturnType<typeof open>>;
    beforeEach(async () => {
      store = await open();
    });
    afterEach(() => store.close());

    it('has none until one is saved; the first save is version 1', async () => {
      expect(await store.loadTokenCache('alice')).toBeNull();
      expect(await store.saveTokenCache('alice', 'sealed-1', null, 1000)).toBe(1);
      expect(await store.loadTokenCache('alice')).toEqual({ route: 'alice', data: 'sealed-1', version: 1, updatedAt: 1000 });
    });

    it('writes only over the version the writer read (compare-and-set), one version up each time', async () => {
      await store.saveTokenCache('alice', 'sealed-1', null, 1000);
      expect(await store.saveTokenCache('alice', 'sealed-2', 1, 2000)).toBe(2);
      // A node that read version 1 and refreshed later must not overwrite the newer version 2.
      expect(await store.saveTokenCache('alice', 'stale', 1, 3000)).toBeNull();
      // Nor may a second "first" sign-in overwrite an existing one blindly.
      expect(await store.saveTokenCache('alice', 'stale', null, 3000)).toBeNull();
      expect(await store.loadTokenCache('alice')).toEqual({ route: 'alice', data: 'sealed-2', version: 2, updatedAt: 2000 });
    });

    it('lets exactly one of several writers of the same version win', async () => {
      await store.saveTokenCache('alice', 'sealed-1', null, 1000);
      const results = await Promise.all([1, 2, 3, 4].map((n) => store.saveTokenCache('alice', `writer-${n}`, 1, 2000 + n)));
      expect(results.filter((r) => r !== null)).toEqual([2]);
      const winner = results.findIndex((r) => r !== null) + 1;
      expect((await store.loadTokenCache('alice'))?.data).toBe(`writer-${winner}`);
    });

    it('keeps routes apart and forgets one on delete', async () => {
      await store.saveTokenCache('alice', 'a', null, 1000);
      await store.saveTokenCache('bob', 'b', null, 1000);
      await store.deleteTokenCache('alice');
      expect(await store.loadTokenCache('alice')).toBeNull();
      expect((await store.loadTokenCache('bob'))?.data).toBe('b');
      expect(await store.saveTokenCache('alice', 'again', null, 5000)).toBe(1);
    });
  });
}
