/**
 * Runs the doctor: the configuration's checks, then for each route (or the one asked for) its
 * checks in the order a delivery meets them — secrets, DNS, MX, TCP, TLS, token, SMTP AUTH, senders,
 * SPF and certificate — and, when asked, one test message. A check that needs what an earlier one
 * could not establish is skipped with the reason.
 */
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { readMasterKey } from '../config/master-key.js';
import type { LoadedConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { own } from '../config/own.js';
import { delegatedRouteNames } from '../credentials/sign-in-store.js';
import type { SignInStore } from '../credentials/providers.js';
import { openStore, StoreMissing } from '../queue/open.js';
import type { Store } from '../queue/store.js';
import { reportOk, skipped, type CheckResult, type DoctorReport, type RouteReport } from './check.js';
import { configChecks, secretChecks, unresolvedOf } from './config-and-secrets.js';
import { newRouteState, type DoctorContext } from './context.js';
import { endpointDnsCheck, mxCheck } from './dns.js';
import { createResolver } from './resolver.js';
import { routeTarget } from './route-target.js';
import { sendTestCheck } from './send-test.js';
import { senderChecks } from './sender.js';
import { smtpAuthCheck } from './smtp-auth.js';
import { certificateCheck, spfCheck } from './spf-connector.js';
import { tcpCheck } from './tcp.js';
import { tlsCheck } from './tls.js';
import { tokenCheck } from './token.js';

export interface DoctorOptions {
  /** Only this route. */
  route?: string;
  /** Send one real test message to this address through each route checked. */
  sendTest?: string;
  log: Logger;
  now?: number;
}

export async function runDoctor(loaded: LoadedConfig, options: DoctorOptions): Promise<DoctorReport> {
  const { config } = loaded;
  const ctx: DoctorContext = {
    config,
    settings: config.doctor,
    resolver: createResolver(config.doctor.dnsServers, config.doctor.timeout),
    ehloName: config.node.name ?? hostname(),
    log: options.log,
    now: options.now ?? Date.now(),
  };
  const names = options.route ? [options.route] : Object.keys(config.routes);
  const routes: RouteReport[] = [];
  const signIns = await openSignIns(config, names);
  try {
    for (const name of names) {
      const route = own(config.routes, name);
      if (!route) throw new Error(`no route "${name}"; routes: ${Object.keys(config.routes).join(', ') || 'none'}`);
      routes.push({ route: name, transport: route.transport, checks: await routeChecks(ctx, loaded, name, options.sendTest, signIns?.signIns) });
    }
  } finally {
    await signIns?.store.close();
  }
  const report = { config: { file: loaded.file, checks: configChecks(loaded) }, routes };
  return { ok: reportOk(report), checkedAt: new Date(ctx.now).toISOString(), ...report };
}

/**
 * Delegated routes' sign-ins live in the store, sealed with the master key: opened only when such a
 * route is checked and a key exists (without one nobody has signed in, and the doctor creates none).
 */
async function openSignIns(config: Config, names: string[]): Promise<{ store: Store; signIns: SignInStore } | null> {
  const delegated = new Set(delegatedRouteNames(config));
  if (!names.some((n) => delegated.has(n))) return null;
  const key = readMasterKey({ env: process.env, keyFile: config.secrets.keyFile });
  if (!key) return null;
  // Without a store nobody has signed in either; the doctor creates none.
  const store = await openStore(config, undefined, { create: false }).catch((err: unknown) => {
    if (err instanceof StoreMissing) return null;
    throw err;
  });
  return store && { store, signIns: { store, key } };
}

async function routeChecks(ctx: DoctorContext, loaded: LoadedConfig, name: string, sendTo: string | undefined, signIns: SignInStore | undefined): Promise<CheckResult[]> {
  const state = newRouteState(routeTarget(name, own(loaded.config.routes, name)!));
  const checks: CheckResult[] = [...secretChecks(state.target, loaded, ctx.now)];
  const add = (c: CheckResult | null) => {
    if (c) checks.push(c);
    return c;
  };
  add(certificateCheck(ctx, state));
  if (state.target.endpoint) {
    add(await endpointDnsCheck(ctx, state));
    add(await mxCheck(ctx, state));
    add(await tcpCheck(ctx, state));
    add(await tlsCheck(ctx, state));
  }
  const missing = unresolvedOf(name, loaded);
  if (missing.length) {
    // Signing in with the reference itself would only earn Entra ID's "invalid secret": the checks that sign in wait for the secret.
    const why = `${missing.map((r) => r.path).join(', ')} does not resolve (see secrets)`;
    const c = state.target.config;
    if (c.transport === 'graph' || c.transport === 'smtp-oauth') checks.push(skipped('token', 'token', why));
    if (state.target.endpoint?.protocol === 'smtp') checks.push(skipped('smtp-auth', `SMTP AUTH ${state.target.endpoint.host}:${state.target.endpoint.port}`, why));
    checks.push(...(await senderChecks(ctx, state, false)));
    add(await spfCheck(ctx, state));
    return checks;
  }
  add(await tokenCheck(ctx, state, signIns));
  const auth = add(await smtpAuthCheck(ctx, state));
  checks.push(...(await senderChecks(ctx, state, auth?.status === 'pass')));
  add(await spfCheck(ctx, state));
  if (sendTo) add(await sendTestCheck(ctx, state, sendTo));
  return checks;
}
