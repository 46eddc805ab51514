/**
 * `npm start` with no route configured: relay365 starts the Microsoft 365 sandbox beside
 * itself and delivers into it through Microsoft Graph, the way a real tenant would be
 * used, so a newcomer sees a message go end to end — into a mailbox they can look at on
 * the sandbox's page. The relay proper never depends on the sandbox; only the CLI loads it.
 *
 * Every command sees the same demo route as `serve`: it is built here from the sandbox's
 * tenant file (the same one the sandbox serves) and the address serve recorded in
 * <data dir>/sandbox/demo-route.json, so `route list`, `doctor`, `setup sandbox` and
 * `auth status` need no second sandbox.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import type { LoadedConfig } from '../config/load.js';
import type { Config, RouteConfig } from '../config/schema.js';
import { routeSchema } from '../config/routes.js';
import { DEMO_ROUTE } from '../config/demo-route.js';
import { ConfigError } from '../config/problems.js';
import { loadOrExit, reportConfigError, type GlobalOptions } from './context.js';

export { DEMO_ROUTE, DEMO_ROUTE_NAME } from '../config/demo-route.js';
export const START_FIRST = 'start relay365 first: npm start';
const DEMO_PORTS = { httpsPort: 9443, smtp: { submissionPort: 5587, mxPort: 5025 } };
const DEFAULT_ORIGIN = `https://localhost:${DEMO_PORTS.httpsPort}`;

export interface Demo {
  /**
   * Writes where the sandbox listens for the other commands, once the relay has started: a second
   * copy that fails to start must not point them at its own sandbox, gone a moment later.
   */
  record(): void;
  stop(): Promise<void>;
}

/** The demo route as commands other than serve see it, and where its sandbox is. */
export interface DemoRoute {
  route: RouteConfig;
  origin: string;
  /** serve has recorded where its sandbox listens (it ran at least once with this data dir). */
  recorded: boolean;
}

interface DemoRecord {
  origin: string;
  graph: string;
  caPath: string;
}

const sandboxDir = (config: Config) => join(dirname(config.store.path), 'sandbox');
const recordFile = (config: Config) => join(sandboxDir(config), 'demo-route.json');

type Tenant = import('../../sandbox/tenant/schema.js').Tenant;

/**
 * The Graph route into the sandbox's tenant: its app with Mail.Send and a secret, and its relay
 * mailbox. Returns a reason instead when the tenant has neither (someone edited the file).
 */
function demoRouteOf(tenant: Tenant, record: DemoRecord): RouteConfig | string {
  const app = tenant.apps.find((a) => a.applicationPermissions.some((p) => p.roles.includes('Mail.Send')) && a.secrets.length > 0);
  const mailbox = tenant.mailboxes.find((m) => m.type === 'user' && m.address.startsWith('relay@')) ?? tenant.mailboxes[0];
  const secret = app?.secrets[0];
  if (!app || !secret || !mailbox) return 'the sandbox tenant has no app with Mail.Send and a secret, or no mailbox, to demonstrate with';
  return routeSchema.parse({
    transport: 'graph',
    mailbox: mailbox.address,
    credentials: {
      tenant: tenant.tenantId,
      clientId: app.appId,
      clientSecret: secret.value,
      // The tenant says when its secret expires: the doctor and auth status can tell, with nothing to configure.
      ...(secret.expires ? { secretExpires: secret.expires } : {}),
      authorityHost: record.origin,
    },
    endpoint: record.graph,
    ca: [record.caPath],
    // Applications send as whatever they were set up with (app@contoso.example, sapadmin@localhost),
    // and the relay mailbox has Send As on none of them: the demo sends every message as the mailbox
    // with the original From as Reply-To, the way most real installations are configured, rather
    // than granting Send As in the demo tenant on addresses no real tenant would grant it on.
    sender: { allowed: [], rewriteEnvelope: true, rewriteFrom: 'when-not-allowed' },
    // The sandbox writes its non-delivery reports at once; a newcomer trying an unknown address
    // should see the bounce within the minute, not after a real tenant's five.
    bounces: { every: '20s' },
  });
}

async function loadDemoTenant(): Promise<Tenant | string> {
  const [{ loadTenantFile }, { defaultTenantFile }] = await Promise.all([import('../../sandbox/tenant/load.js'), import('../../sandbox/options.js')]);
  const loaded = loadTenantFile(defaultTenantFile());
  return loaded.ok ? loaded.tenant : `the sandbox tenant file does not load: ${loaded.error.message}`;
}

/** Starts the sandbox and points the config's (empty) routes at it. */
export async function startDemo(config: Config, log: Logger): Promise<Demo> {
  const { startSandbox } = await import('../../sandbox/index.js');
  const dataDir = sandboxDir(config);
  const start = (ports: { httpsPort: number; smtp: { submissionPort: number; mxPort: number } }) => startSandbox({ dataDir, host: '127.0.0.1', ...ports });
  // The usual ports make the sandbox's page easy to find; if they are taken, any free ones do.
  const sandbox = await start(DEMO_PORTS).catch(() => start({ httpsPort: 0, smtp: { submissionPort: 0, mxPort: 0 } }));
  const tenant = sandbox.tenant.current;
  const record = { origin: sandbox.urls.origin, graph: sandbox.urls.graph, caPath: sandbox.caPath };
  const route = demoRouteOf(tenant, record);
  if (typeof route === 'string') {
    await sandbox.stop();
    throw new Error(route);
  }
  config.routes[DEMO_ROUTE] = route;
  config.routing.default = DEMO_ROUTE;
  const mailbox = route.transport === 'graph' ? route.mailbox : '';
  log.warn(
    { sandbox: `${sandbox.urls.origin}/sandbox/`, mailbox, ca: sandbox.caPath },
    `no route configured: delivering through Microsoft Graph into the Microsoft 365 sandbox (demo tenant ${tenant.domains[0]}) as ${mailbox}, other senders kept as Reply-To; its page ${sandbox.urls.origin}/sandbox/ shows the mailboxes. Configure routes in relay365.yaml to deliver for real (relay365 init).`,
  );
  return {
    record: () => {
      mkdirSync(dataDir, { recursive: true });
      writeFileSync(recordFile(config), `${JSON.stringify(record, null, 2)}\n`);
    },
    stop: () => sandbox.stop(),
  };
}

/**
 * For every command but serve: when the config has no route, the demo route serve delivers
 * through is added to it (and made the default), so all of them see the routes serve sees.
 */
export async function addDemoRoute(loaded: LoadedConfig): Promise<DemoRoute | null> {
  const { config } = loaded;
  if (Object.keys(config.routes).length > 0) return null;
  const file = recordFile(config);
  const recorded = existsSync(file);
  const { sandboxUrls } = await import('../../sandbox/context.js');
  let record: DemoRecord = { origin: DEFAULT_ORIGIN, graph: sandboxUrls(DEFAULT_ORIGIN, () => '').graph, caPath: join(sandboxDir(config), 'pki', 'ca.crt') };
  try {
    if (recorded) record = JSON.parse(readFileSync(file, 'utf8')) as DemoRecord;
  } catch (err) {
    throw new ConfigError([`no route is configured, and ${file} (where relay365 serve records its demo route) does not read: ${(err as Error).message}; relay365 serve writes it again when it starts (npm start)`]);
  }
  const tenant = await loadDemoTenant();
  const route = typeof tenant === 'string' ? tenant : demoRouteOf(tenant, record);
  if (typeof route === 'string') throw new ConfigError([`no route is configured, and the demo route cannot be made: ${route}`]);
  config.routes[DEMO_ROUTE] = route;
  config.routing.default = DEMO_ROUTE;
  return { route, origin: record.origin, recorded };
}

/** Whether the demo's sandbox answers at its address (serve is running). */
export function demoRunning(demo: DemoRoute, timeoutMs = 2000): Promise<boolean> {
  const url = new URL(demo.origin);
  return new Promise((resolve) => {
    const socket = connect({ host: url.hostname, port: Number(url.port || 443), timeout: timeoutMs });
    const done = (up: boolean) => {
      socket.destroy();
      resolve(up);
    };
    socket.once('connect', () => done(true));
    socket.once('timeout', () => done(false));
    socket.once('error', () => done(false));
  });
}

/** The config as loadOrExit gives it, with the demo route when it has no route (see addDemoRoute). */
export async function loadWithDemo(options: GlobalOptions, load: Parameters<typeof loadOrExit>[1] = {}): Promise<LoadedConfig & { demo: DemoRoute | null }> {
  const loaded = loadOrExit(options, load);
  try {
    return { ...loaded, demo: await addDemoRoute(loaded) };
  } catch (err) {
    if (err instanceof ConfigError) reportConfigError(err);
    throw err;
  }
}
