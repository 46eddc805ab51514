/**
 * Opens the store the config names: PostgreSQL when store.url is set (several nodes share
 * it), otherwise SQLite (embedded, the default). Opening PostgreSQL also brings its schema
 * up to date, which is why this is asynchronous. Only the relay creates a store: a command
 * that looks at one (create: false) is told it is not there, or it would make an empty
 * store wherever it was run and report it empty.
 */
import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { maskStoreUrl } from '../config/store-url.js';
import { PostgresStore } from './postgres/store.js';
import { SqliteStore } from './sqlite/store.js';
import { StoreMissing } from './store-missing.js';
import type { Store } from './store.js';

export { StoreMissing };

export interface OpenOptions {
  /** Create the store (SQLite file, PostgreSQL tables) when it is not there; the relay does. Default true. */
  create?: boolean;
}

/** An embedded store's file is not there yet (a PostgreSQL store is asked when opened). */
export function sqliteStoreMissing(config: Config): boolean {
  return !config.store.url && !existsSync(config.store.path);
}

export async function openStore(config: Config, log?: Logger, options: OpenOptions = {}): Promise<Store> {
  const { store } = config;
  const create = options.create ?? true;
  if (!store.url) {
    if (!create && sqliteStoreMissing(config)) throw new StoreMissing(`no store at ${store.path}`);
    return new SqliteStore({ path: store.path, spool: store.spool as string, inlineLimit: store.inlineLimit });
  }
  return PostgresStore.open({
    create,
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
