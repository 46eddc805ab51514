/**
 * Opening the place delegated sign-ins live in when a relay (or `relay365 auth`) starts: the
 * store and the master key, which is created on first start when there is none. A node whose
 * key is not the one the stored sign-ins were sealed with stops at start-up with that said in
 * plain words (a ConfigError), instead of holding every delegated route later.
 */
import type { Logger } from 'pino';
import { ConfigError } from '../config/problems.js';
import { openMasterKey, type MasterKey } from '../config/master-key.js';
import type { Config } from '../config/schema.js';
import { isDelegated } from './delegated-client.js';
import type { SignInStore } from './providers.js';
import { openSignIn, type TokenCacheStore } from './token-cache.js';
import { TokenError } from './token.js';

/** The delegated routes of a config, by name. */
export function delegatedRouteNames(config: Pick<Config, 'routes'>): string[] {
  return Object.entries(config.routes)
    .filter(([, route]) => 'credentials' in route && isDelegated(route))
    .map(([name]) => name);
}

/** The master key for sign-ins (created when missing); throws a ConfigError when it cannot be had. */
export function signInKey(config: Pick<Config, 'secrets'>, env: NodeJS.ProcessEnv = process.env, log?: Logger): MasterKey {
  const key = openMasterKey({ env, keyFile: config.secrets.keyFile });
  if (key.created) log?.warn({ keyFile: config.secrets.keyFile, keyId: key.keyId }, 'created the master key file (mode 0600): keep it safe and give every node sharing the store the same key');
  for (const warning of key.warnings) log?.warn(warning);
  return key;
}

/**
 * For a relay with delegated routes: the store and the master key, checked against the sign-ins
 * already stored; undefined when no route is delegated (no key file is created then).
 */
export async function openSignIns(config: Pick<Config, 'routes' | 'secrets'>, store: TokenCacheStore, log: Logger, env: NodeJS.ProcessEnv = process.env): Promise<SignInStore | undefined> {
  const routes = delegatedRouteNames(config);
  if (routes.length === 0) return undefined;
  const key = signInKey(config, env, log);
  const problems: string[] = [];
  for (const route of routes) {
    const row = await store.loadTokenCache(route);
    if (!row) continue;
    try {
      openSignIn(key, row);
    } catch (e) {
      if (!(e instanceof TokenError)) throw e;
      problems.push(`routes.${route}: ${e.message} (or sign in again: relay365 auth login ${route})`);
    }
  }
  if (problems.length) throw new ConfigError(problems);
  return { store, key };
}
