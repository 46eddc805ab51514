/** What every verb needs: the config (with its errors printed the way admins read them) and exit codes. */
import { ConfigError, loadConfig, type LoadedConfig, type LoadOptions } from '../config/load.js';

/** sysexits.h codes, as mail software traditionally uses them. */
export const EXIT = { ok: 0, failure: 1, usage: 64, dataError: 65, unavailable: 69, software: 70, tempFail: 75, config: 78 } as const;

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
