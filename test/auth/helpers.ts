// Shared by the delegated sign-in tests: the demo tenant's delegated app (public client, SMTP.Send)
// given Graph Mail.Send too and a free loopback redirect URI, routes that sign in with it, the
// store and master key a relay would use, and the user's part of a browser or device-code sign-in
// played over HTTP against the sandbox's pages.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import pino from 'pino';
import { loadConfig } from '../../src/config/load.js';
import { openMasterKey, type MasterKey } from '../../src/config/master-key.js';
import type { Config } from '../../src/config/schema.js';
import type { DelegatedRoute } from '../../src/credentials/delegated-client.js';
import { routeSignIn, type SignedIn } from '../../src/credentials/sign-in.js';
import { SqliteStore } from '../../src/queue/sqlite/store.js';
import type { Tenant } from '../../sandbox/tenant/schema.js';
import { CLI, runCli, writeConfig, type CliResult } from '../helpers/relay.js';
import { DEMO, redirectFromConsentPage, submitDeviceLogin, type TestSandbox, type UserAction } from '../helpers/sandbox.js';
import { until } from '../helpers/sink.js';
import { recordForLeakScan, registerSecrets } from '../secrets/leak-sink.js';

export const ALICE = DEMO.alice.address;
export const BOB = DEMO.bob.address;
export const silent = pino({ level: 'silent' });

/** A port nothing listens on now (for a loopback redirect URI). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * The demo tenant with the delegated app also allowed Graph Mail.Send and the given redirect URIs,
 * and SMTP AUTH on for alice and bob (Set-CASMailbox, as for any mailbox that signs in to send).
 */
export function delegatedTenant(redirectUris: string[] = []) {
  return (d: Tenant) => {
    const app = d.apps.find((a) => a.appId === DEMO.delegated.clientId)!;
    app.delegatedPermissions.push({ resource: 'Microsoft Graph', scopes: ['Mail.Send'] });
    app.redirectUris.push(...redirectUris);
    for (const m of d.mailboxes) if (m.address === ALICE || m.address === BOB) m.smtpClientAuthenticationDisabled = false;
  };
}

/** credentials: of a delegated route against the sandbox. */
export function delegatedCredentials(t: TestSandbox, extra: Record<string, unknown> = {}) {
  return { flow: 'delegated', tenant: DEMO.tenantId, clientId: DEMO.delegated.clientId, authorityHost: t.sandbox.urls.login, ...extra };
}

/** A delegated smtp-oauth route to the sandbox's client submission, as relay365.yaml has it. */
export function smtpRouteConfig(t: TestSandbox, mailbox: string = ALICE, credentials: Record<string, unknown> = {}) {
  return { transport: 'smtp-oauth', mailbox, credentials: delegatedCredentials(t, credentials), host: '127.0.0.1', port: t.sandbox.ports.submission, ca: [t.sandbox.caPath] };
}

/** A delegated graph route to the sandbox's Graph. */
export function graphRouteConfig(t: TestSandbox, mailbox: string = ALICE, credentials: Record<string, unknown> = {}) {
  return { transport: 'graph', mailbox, credentials: delegatedCredentials(t, credentials), endpoint: t.sandbox.urls.graph, ca: [t.sandbox.caPath] };
}

/** The route as the credentials code takes it, from the loaded config. */
export function delegatedRoute(config: Config, name: string): DelegatedRoute {
  const route = config.routes[name];
  if (!route || (route.transport !== 'graph' && route.transport !== 'smtp-oauth')) throw new Error(`no OAuth route ${name}`);
  return { name, transport: route.transport, mailbox: route.mailbox, credentials: route.credentials, ca: route.ca, ...(route.transport === 'graph' ? { endpoint: route.endpoint } : {}) };
}

export interface RelayPlace {
  dir: string;
  config: Config;
  store: SqliteStore;
  key: MasterKey;
  close(): Promise<void>;
}

/** The store and master key of the relay configured in `dir` (what `relay365 auth login` opens). */
export function relayPlace(dir: string, config: Record<string, unknown>): RelayPlace {
  const file = writeConfig(dir, config);
  const { config: loaded } = loadConfig({ path: file, env: {} });
  const store = new SqliteStore({ path: loaded.store.path, spool: loaded.store.spool as string, inlineLimit: loaded.store.inlineLimit });
  const key = openMasterKey({ env: {}, keyFile: loaded.secrets.keyFile });
  registerSecrets(readFileSync(loaded.secrets.keyFile, 'utf8').trim()); // the master key must never show up either
  return { dir, config: loaded, store, key, close: () => store.close() };
}

/** Signs `user` in for the route through the sandbox's consent page (authorization code + PKCE). */
export async function browserSignIn(t: TestSandbox, place: Pick<RelayPlace, 'config' | 'store' | 'key'>, route: string, user: UserAction = DEMO.alice): Promise<SignedIn> {
  const signIn = routeSignIn(delegatedRoute(place.config, route), { store: place.store, key: place.key, log: silent });
  try {
    const pending = await signIn.browser();
    return await pending.finish(await redirectFromConsentPage(t, pending.url, user));
  } finally {
    signIn.close();
  }
}

/** Signs `user` in with a device code, approving it on the sandbox's device login page. */
export async function deviceCodeSignIn(t: TestSandbox, place: Pick<RelayPlace, 'config' | 'store' | 'key'>, route: string, user: UserAction = DEMO.bob): Promise<SignedIn> {
  const signIn = routeSignIn(delegatedRoute(place.config, route), { store: place.store, key: place.key, log: silent });
  try {
    return await signIn.deviceCode({ onPrompt: (p) => setTimeout(() => void submitDeviceLogin(t, p.userCode, user), 50) });
  } finally {
    signIn.close();
  }
}


/** `relay365 <args>` in `dir` with its config, as an admin runs it; the output goes to the leak scan too. */
export function cli(dir: string, args: string[], env: NodeJS.ProcessEnv = {}, input?: string): Promise<CliResult> {
  return runCli(dir, ['--config', join(dir, 'relay365.yaml'), ...args], { env, ...(input !== undefined ? { input } : {}) });
}

export interface RunningCli {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves when stdout has a line matching `pattern`, with the match. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  exited: Promise<number | null>;
}

/** Starts `relay365 <args>` and lets the test talk to it while it waits (auth login). */
export function startCli(dir: string, args: string[], env: NodeJS.ProcessEnv = {}): RunningCli {
  const child = spawn(process.execPath, [CLI, '--config', join(dir, 'relay365.yaml'), ...args], { cwd: dir, env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((done) =>
    child.on('exit', (code) => {
      recordForLeakScan(`relay365 ${args.join(' ')}`, `${out}\n${err}`);
      done(code);
    }),
  );
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    async waitFor(pattern, timeoutMs = 15_000) {
      await until(() => pattern.test(out) || child.exitCode !== null, timeoutMs, () => `no ${pattern} in: ${out}\n${err}`);
      const match = pattern.exec(out);
      if (!match) throw new Error(`relay365 ${args.join(' ')} ended without ${pattern}: ${out}\n${err}`);
      return match;
    },
  };
}
