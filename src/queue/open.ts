/** Opens the store the config names (SQLite now; PostgreSQL joins here). */
import type { Config } from '../config/schema.js';
import { SqliteStore } from './sqlite/store.js';
import type { Store } from './store.js';

export function openStore(config: Config): Store {
  return new SqliteStore({ path: config.store.path, spool: config.store.spool as string, inlineLimit: config.store.inlineLimit });
}
