/**
 * `relay365 auth login|status|logout`: delegated sign-in for routes with credentials.flow:
 * delegated, and how every OAuth route signs in.
 *
 *   relay365 auth login ROUTE                 prints the sign-in URL, waits for the browser to come
 *                                             back to the redirect URI (http://localhost:3017/)
 *   relay365 auth login ROUTE --device-code   prints a code to enter at Entra ID's device login
 *                                             page, for servers without a browser (15 minutes)
 *   relay365 auth status [ROUTE] [--json]     account, scopes, token expiry, last refresh, problems
 *   relay365 auth logout ROUTE                forgets the route's stored sign-in
 *
 * A successful sign-in is stored (sealed) in the store every node shares, and releases the
 * route if a lost sign-in held it. Tokens and secrets are never printed.
 */
import type { Command } from 'commander';
import pino from 'pino';
import { readMasterKey } from '../config/master-key.js';
import { ConfigError } from '../config/problems.js';
import type { Config, RouteConfig } from '../config/schema.js';
import { hasOwn, own } from '../config/own.js';
import { authStatus, type RouteAuthStatus } from '../credentials/auth-status.js';
import { isDelegated, type DelegatedRoute } from '../credentials/delegated-client.js';
import { finishThroughLoopback } from '../credentials/loopback.js';
import { signInKey } from '../credentials/sign-in-store.js';
import { DEVICE_CODE_SECONDS, routeSignIn, type SignedIn } from '../credentials/sign-in.js';
import { TokenError } from '../credentials/token.js';
import { createLogger } from '../log.js';
import type { Store } from '../queue/store.js';
import { EXIT, fail, loadOrExit, openStoreOrExit, reportConfigError, type GlobalOptions } from './context.js';
import { loadWithDemo } from './demo.js';
import { ago, table } from './format.js';

const out = (line = '') => process.stdout.write(`${line}\n`);
const when = (t: number | null) => (t === null ? '-' : `${new Date(t).toISOString()} (${ago(t)})`);

function delegatedRoute(config: Config, name: string): DelegatedRoute {
  const route = own(config.routes, name) as RouteConfig | undefined;
  if (!route) fail(`no route "${name}"; routes: ${Object.keys(config.routes).join(', ') || 'none'}`, EXIT.usage);
  if (!('credentials' in route) || !isDelegated(route)) {
    fail(`route "${name}" does not sign a user in (${'credentials' in route ? `credentials.flow: ${route.credentials.flow}` : `transport: ${route.transport}`}); delegated sign-in needs a graph or smtp-oauth route with credentials.flow: delegated`, EXIT.usage);
  }
  return { name, transport: route.transport, mailbox: route.mailbox, credentials: route.credentials, ca: route.ca, ...(route.transport === 'graph' ? { endpoint: route.endpoint } : {}) };
}

async function login(global: GlobalOptions, name: string, opts: { deviceCode?: boolean; timeout: string }): Promise<void> {
  const loaded = loadOrExit(global);
  const { config } = loaded;
  const route = delegatedRoute(config, name);
  let key;
  try {
    key = signInKey(config);
  } catch (e) {
    if (e instanceof ConfigError) reportConfigError(e);
    throw e;
  }
  if (key.created) process.stderr.write(`relay365: created the master key file ${config.secrets.keyFile} (key id ${key.keyId}); every node sharing the store needs the same key\n`);
  // Signing in before the first start keeps the sign-in in the store it creates.
  const store = await openStoreOrExit(loaded, { create: true });
  const log = createLogger('error', pino.destination(2));
  const signIn = routeSignIn(route, { store, key, log });
  const abort = new AbortController();
  const stop = () => abort.abort();
  process.once('SIGINT', stop);
  try {
    const minutes = Math.max(1, Number(opts.timeout) || 10);
    let done: SignedIn;
    if (opts.deviceCode) {
      done = await signIn.deviceCode({
        signal: abort.signal,
        timeoutSeconds: DEVICE_CODE_SECONDS,
        onPrompt: (p) => {
          out(`Sign in as ${route.mailbox} for route "${name}":`);
          out(`  ${p.message}`);
          out(`  (page: ${p.verificationUri}  code: ${p.userCode})`);
          out(`Waiting for the sign-in (the code is valid until ${new Date(p.expiresAt).toISOString()})…`);
        },
      });
    } else {
      const pending = await signIn.browser();
      out(`Sign in as ${route.mailbox} for route "${name}": open this address in a browser on this machine`);
      out(`(Entra ID sends the browser back to ${pending.redirectUri}, where relay365 is listening):`);
      out();
      out(`  ${pending.url}`);
      out();
      out(`Waiting for the sign-in (${minutes} minutes; on a server without a browser use --device-code)…`);
      done = await finishThroughLoopback(pending, { timeoutMs: minutes * 60_000, signal: abort.signal });
    }
    out(`Signed in as ${done.account} for route "${name}" (${done.scopes.join(' ')}); the access token is valid until ${new Date(done.expiresAt).toISOString()}.`);
    if (done.warning) out(`warning: ${done.warning}`);
    await releaseIfHeld(store, name);
  } catch (e) {
    if (e instanceof TokenError) fail(`sign-in for route "${name}" failed: ${e.message}`, EXIT.failure);
    throw e;
  } finally {
    process.off('SIGINT', stop);
    signIn.close();
    await store.close();
  }
}

/** A lost sign-in held the route: the new one releases it and its messages. */
async function releaseIfHeld(store: Store, name: string): Promise<void> {
  const status = await store.routeStatus(name);
  if (status.state !== 'held') return;
  const now = Date.now();
  await store.setRouteState(name, 'active', now);
  const released = await store.releaseHeld(now, name);
  out(`Route "${name}" was held (${status.reason ?? 'no reason recorded'}); it is active again and ${released} held message${released === 1 ? '' : 's'} queued again.`);
}

function printStatus(statuses: RouteAuthStatus[]): void {
  if (statuses.length === 0) return void out('No graph or smtp-oauth routes: nothing signs in with OAuth.');
  const rows = statuses.map((s) => [s.route, s.transport, s.flow, s.account ?? (s.flow === 'delegated' ? '(not signed in)' : '-'), s.accessTokenExpiresAt ? ago(s.accessTokenExpiresAt) : '-', s.lastRefreshAt ? ago(s.lastRefreshAt) : '-', s.routeState]);
  const lines = [table(['ROUTE', 'TRANSPORT', 'FLOW', 'ACCOUNT', 'ACCESS TOKEN EXPIRES', 'LAST REFRESH', 'STATE'], rows)];
  for (const s of statuses) {
    lines.push('', `${s.route} (${s.flow}, app ${s.clientId}, ${s.credential}, sends as ${s.mailbox})`);
    if (s.flow === 'delegated') {
      lines.push(`  account: ${s.account ?? '-'}${s.signInFlow ? ` (signed in ${when(s.signedInAt)} with ${s.signInFlow === 'browser' ? 'the browser' : 'a device code'})` : ''}`);
      lines.push(`  scopes: ${s.scopes.join(' ')}`);
      lines.push(`  access token expires: ${when(s.accessTokenExpiresAt)}; last refresh: ${when(s.lastRefreshAt)}; refresh token: ${s.hasRefreshToken ? 'stored (sealed)' : 'none'}`);
    }
    if (s.expiry) lines.push(`  ${s.expiry.kind === 'secret' ? 'client secret' : 'certificate'} expires: ${new Date(s.expiry.expiresAt).toISOString().slice(0, 10)} (${s.expiry.daysLeft} days)`);
    for (const problem of s.problems) lines.push(`  problem: ${problem}`);
    if (s.fix) lines.push(`  fix: ${s.fix}`);
  }
  out(lines.join('\n'));
}

export function authCommands(program: Command, global: () => GlobalOptions): void {
  const auth = program.command('auth').description('delegated sign-in for routes with credentials.flow: delegated, and how every OAuth route signs in');

  auth
    .command('login <route>')
    .description("sign the route's user in (browser, or --device-code) and keep the tokens, sealed, in the store")
    .option('--device-code', 'sign in on another device with a code (servers without a browser; 15 minutes)')
    .option('--timeout <minutes>', 'how long to wait for the browser to come back', '10')
    .action((name: string, opts: { deviceCode?: boolean; timeout: string }) => login(global(), name, opts));

  auth
    .command('status [route]')
    .description('per OAuth route: flow, signed-in account, scopes, access-token expiry, last refresh, secret expiry, problems')
    .option('--json', 'as JSON, for scripts and monitoring')
    .action(async (name: string | undefined, opts: { json?: boolean }) => {
      const loaded = await loadWithDemo(global());
      const { config } = loaded;
      if (name !== undefined && !hasOwn(config.routes, name)) fail(`no route "${name}"; routes: ${Object.keys(config.routes).join(', ') || 'none'}`, EXIT.usage);
      let key = null;
      try {
        key = readMasterKey({ env: process.env, keyFile: config.secrets.keyFile });
      } catch (e) {
        if (e instanceof ConfigError) reportConfigError(e);
        throw e;
      }
      const store = await openStoreOrExit(loaded, { create: false });
      try {
        const statuses = (await authStatus(config, store, key)).filter((s) => name === undefined || s.route === name);
        if (opts.json) return void out(JSON.stringify(statuses, null, 2));
        printStatus(statuses);
      } finally {
        await store.close();
      }
    });

  auth
    .command('logout <route>')
    .description("forget the route's stored sign-in (every node stops sending as that user)")
    .action(async (name: string) => {
      const loaded = loadOrExit(global());
      delegatedRoute(loaded.config, name);
      const store = await openStoreOrExit(loaded, { create: false });
      try {
        await store.deleteTokenCache(name);
        out(`Route "${name}": the stored sign-in is gone; sign in again with relay365 auth login ${name}.`);
      } finally {
        await store.close();
      }
    });
}
