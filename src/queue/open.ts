/**
 * Opens the store the config names: PostgreSQL when store.url is set (several nodes share
 * it), otherwise SQLite (embedded, the default). Opening PostgreSQL also brings its schema
 * up to date, which is why this is asynchronous.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { maskStoreUrl } from '../config/store-url.js';
import { PostgresStore } from './postgres/store.js';
import { SqliteStore } from './sqlite/store.js';
import type { Store } from './store.js';

export async function openStore(config: Config, log?: Logger): Promise<Store> {
  const { store } = config;
  if (!store.url) return new SqliteStore({ path: store.path, spool: store.spool as string, inlineLimit: store.inlineLimit });
  return PostgresStore.open({
    url: store.url,
    ...(store.password !== undefined ? { password: store.password } : {}),
    connections: store.connections,
    inlineLimit: store.inlineLimit,
    ...(config.node.name ? { node: config.node.name } : {}),
    ...(log ? { onIdleError: (err: Error) => log.warn({ err }, 'a PostgreSQL connection broke while idle; the next query opens a new one') } : {}),
  });
}

/** Where the store is, for logs and the CLI, with any password masked. */
export function describeStore(config: Config): string {
  return config.store.url ? `PostgreSQL ${maskStoreUrl(config.store.url)}` : `SQLite ${config.store.path}`;
}
