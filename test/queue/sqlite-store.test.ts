import { join } from 'node:path';
import { SqliteStore } from '../../src/queue/sqlite/store.js';
import { tempDir } from '../helpers/relay.js';
import { storeContract } from './store-contract.js';

storeContract('SQLite', async () => {
  const dir = tempDir();
  const open = () => new SqliteStore({ path: join(dir, 'relay365.db'), spool: join(dir, 'spool'), inlineLimit: 256 * 1024 });
  return { store: open(), sibling: async () => open() };
});
