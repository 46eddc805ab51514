/**
 * What every verb needs: the config (found the way `serve` finds it, with its errors printed
 * the way admins read them), the store it names, and exit codes.
 */
import { ConfigError, loadConfig, type LoadedConfig, type LoadOptions } from '../config/load.js';
import { describeStore, openStore, StoreMissing } from '../queue/open.js';
import type { Store } from '../queue/store.js';

/** sysexits.h codes, as mail software traditionally uses them. */
export const EXIT = { ok: 0, failure: 1, usage: 64, dataError: 65, noInput: 66, unavailable: 69, software: 70, cantCreate: 73, tempFail: 75, config: 78 } as const;

export interface GlobalOptions {
  config?: string;
}

export function loadOrExit(options: GlobalOptions, load: Pick<LoadOptions, 'tolerateSecrets'> = {}): LoadedConfig {
  try {
    return loadConfig({ ...load, path: options.config });
  } catch (err) {
    if (err instanceof ConfigError) reportConfigError(err);
    throw err;
  }
}

/** Prints a configuration problem the way admins read it (no stack trace) and exits 78. */
export function reportConfigError(err: ConfigError): never {
  for (const problem of err.problems) process.stderr.write(`${problem}\n`);
  process.stderr.write(`relay365: the configuration has ${err.problems.length === 1 ? 'a problem' : `${err.problems.length} problems`}; nothing was started\n`);
  process.exit(EXIT.config);
}

/** Prints a refusal the admin can act on, and exits with the code. */
export function fail(message: string, code: number = EXIT.failure): never {
  process.stderr.write(`relay365: ${message}\n`);
  process.exit(code);
}

/** The config a command read, in its messages. */
export function configLabel(loaded: LoadedConfig): string {
  return loaded.file ?? 'none, defaults';
}

/**
 * Opens the store of the config, first saying on stderr which config and store these are (a
 * command run in the wrong folder shows it at once; --json output on stdout stays clean).
 * A command that only looks (create: false) stops with one line when there is no store.
 */
export async function openStoreOrExit(loaded: LoadedConfig, options: { create: boolean }): Promise<Store> {
  let store: Store;
  try {
    store = await openStore(loaded.config, undefined, { create: options.create });
  } catch (err) {
    if (!(err instanceof StoreMissing)) throw err;
    const start = loaded.installed ? 'start it with systemctl start relay365' : 'start it with npm start (relay365 serve)';
    fail(`${err.message} (config: ${configLabel(loaded)}): relay365 has not run ${loaded.config.store.url ? 'on it' : 'here'} — ${start}, or pass --config`, EXIT.noInput);
  }
  process.stderr.write(`relay365: config ${configLabel(loaded)}; store ${describeStore(loaded.config)}\n`);
  return store;
}

/** Opens the config's store for the work, and closes it after. */
export async function withStore<T>(loaded: LoadedConfig, options: { create: boolean }, work: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStoreOrExit(loaded, options);
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}
