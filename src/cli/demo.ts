/**
 * `npm start` with no route configured: relay365 starts the Microsoft 365 sandbox beside
 * itself and delivers into it through Microsoft Graph, the way a real tenant would be
 * used, so a newcomer sees a message go end to end — into a mailbox they can look at on
 * the sandbox's page. The relay proper never depends on the sandbox; only this CLI verb
 * loads it, and only when no route is configured.
 */
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { routeSchema } from '../config/routes.js';

export const DEMO_ROUTE = 'sandbox';
const DEMO_PORTS = { httpsPort: 9443, smtp: { submissionPort: 5587, mxPort: 5025 } };

export interface Demo {
  stop(): Promise<void>;
}

/** Starts the sandbox and points the config's (empty) routes at it. */
export async function startDemo(config: Config, log: Logger): Promise<Demo> {
  const { startSandbox } = await import('../../sandbox/index.js');
  const dataDir = join(dirname(config.store.path), 'sandbox');
  const start = (ports: { httpsPort: number; smtp: { submissionPort: number; mxPort: number } }) => startSandbox({ dataDir, host: '127.0.0.1', ...ports });
  // The usual ports make the sandbox's page easy to find; if they are taken, any free ones do.
  const sandbox = await start(DEMO_PORTS).catch(() => start({ httpsPort: 0, smtp: { submissionPort: 0, mxPort: 0 } }));
  const tenant = sandbox.tenant.current;
  const app = tenant.apps.find((a) => a.applicationPermissions.some((p) => p.roles.includes('Mail.Send')) && a.secrets.length > 0);
  const mailbox = tenant.mailboxes.find((m) => m.type === 'user' && m.address.startsWith('relay@')) ?? tenant.mailboxes[0];
  if (!app || !mailbox) {
    await sandbox.stop();
    throw new Error('the sandbox tenant has no app with Mail.Send and a secret, or no mailbox, to demonstrate with');
  }
  config.routes[DEMO_ROUTE] = routeSchema.parse({
    transport: 'graph',
    mailbox: mailbox.address,
    credentials: {
      tenant: tenant.tenantId,
      clientId: app.appId,
      clientSecret: app.secrets[0]?.value,
      authorityHost: sandbox.urls.origin,
    },
    endpoint: sandbox.urls.graph,
    ca: [sandbox.caPath],
    // Whatever an application puts in From (sapadmin@localhost…) goes out as the mailbox,
    // with the original as Reply-To: what most installations want, shown from the start.
    sender: { allowed: [`*@${tenant.domains[0]}`], rewriteEnvelope: true, rewriteFrom: 'when-not-allowed' },
  });
  config.routing.default = DEMO_ROUTE;
  log.warn(
    { sandbox: `${sandbox.urls.origin}/sandbox/`, mailbox: mailbox.address, ca: sandbox.caPath },
    `no route configured: delivering through Microsoft Graph into the Microsoft 365 sandbox (demo tenant ${tenant.domains[0]}); its page ${sandbox.urls.origin}/sandbox/ shows the mailboxes. Configure routes in relay365.yaml to deliver for real.`,
  );
  return { stop: () => sandbox.stop() };
}
