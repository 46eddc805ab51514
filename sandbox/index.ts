// startSandbox(): a local Microsoft 365 (Entra ID, and Exchange Online's endpoints) for tests and demos.
//
// It loads the tenant, prepares the CA and server certificate, opens the shared state (mail,
// events, faults, grants), serves HTTPS (Entra ID, the sandbox API and page, Graph) and starts
// the services beside it (the SMTP servers). `stop()` undoes all of it. See README.md.
import { SandboxClock } from './clock.js';
import { sandboxUrls, type SandboxContext, type SandboxUrls } from './context.js';
import type { EntraContext } from './entra/context.js';
import { GrantStore } from './entra/grants.js';
import { EntraService } from './entra/service.js';
import { loadOrCreateSigningKeys } from './entra/signing.js';
import { HTTP_PLUGINS, startHttpServer } from './http.js';
import { resolveOptions, type SandboxOptions } from './options.js';
import { preparePki } from './pki/index.js';
import { BUILT_IN_SERVICES, type SandboxPorts, type StartedService } from './services.js';
import { EventLog } from './state/events.js';
import { FaultRegistry } from './state/faults.js';
import { MailStore } from './state/mailboxes.js';
import { TenantStore } from './tenant/store.js';

export interface Sandbox {
  readonly urls: SandboxUrls;
  readonly ports: SandboxPorts;
  readonly caPath: string;
  readonly caPem: string;
  readonly tenant: TenantStore;
  readonly mailboxes: MailStore;
  readonly events: EventLog;
  readonly faults: FaultRegistry;
  readonly clock: SandboxClock;
  readonly entra: EntraService;
  /** Everything at once, as the plugins and services receive it. */
  readonly context: SandboxContext;
  stop(): Promise<void>;
}

/** A start-up failure with the reason, e.g. a tenant file that does not validate. */
export class SandboxStartError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'SandboxStartError';
  }
}

export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const opts = resolveOptions(options);
  const opened = typeof opts.tenant === 'string' ? TenantStore.fromFile(opts.tenant) : TenantStore.fromObject(opts.tenant);
  if (!opened.ok) throw new SandboxStartError(opened.error.code, opened.error.message);
  const tenant = opened.store;
  const clock = new SandboxClock();
  const [pki, keys, grants] = await Promise.all([preparePki(opts.dataDir, opts.serverNames), loadOrCreateSigningKeys(opts.dataDir), GrantStore.open(opts.dataDir)]);
  const mailboxes = await MailStore.open(opts.dataDir, () => tenant.current, () => clock.now());
  const events = new EventLog(opts.eventLogCapacity, () => clock.now());
  const faults = new FaultRegistry();
  const entraContext: EntraContext = { tenants: tenant, clock, keys, grants, settings: opts.entra };
  const entra = new EntraService(entraContext);
  // The URLs depend on the port, known only once the server listens (port 0 in tests); no request
  // or service can observe the context before that, so it is filled in right after listen().
  const context = { options: opts, tenant, pki, mailboxes, events, faults, clock, entra, urls: undefined as unknown as SandboxUrls };

  const http = await startHttpServer(context, [...HTTP_PLUGINS, ...opts.httpPlugins]);
  context.urls = sandboxUrls(`https://${opts.publicHost}:${http.port}`, () => tenant.current.tenantId);

  const started: StartedService[] = [];
  const ports: SandboxPorts = { https: http.port, submission: null, mx: null, dns: null };
  const stopAll = async () => {
    for (const s of started.reverse()) await s.stop();
    await http.close();
    await Promise.all([grants.flushed(), mailboxes.flushed()]);
  };
  try {
    for (const service of [...BUILT_IN_SERVICES, ...opts.services]) {
      const s = await service.start(context);
      started.push(s);
      Object.assign(ports, s.ports);
    }
  } catch (e) {
    await stopAll();
    throw e;
  }
  opts.log(`sandbox: ${context.urls.page} (tenant ${tenant.current.displayName}, ${tenant.current.tenantId})`);
  opts.log(`sandbox: authority ${context.urls.authority()}, knownAuthorities ['${context.urls.knownAuthority}']`);
  opts.log(`sandbox: CA certificate ${pki.caPath}`);

  let stopped: Promise<void> | undefined;
  return {
    urls: context.urls,
    ports,
    caPath: pki.caPath,
    caPem: pki.caPem,
    tenant,
    mailboxes,
    events,
    faults,
    clock,
    entra,
    context,
    stop: () => (stopped ??= stopAll()),
  };
}

export type { SandboxOptions } from './options.js';
export type { SandboxContext, SandboxUrls } from './context.js';
export { GRAPH_PREFIX } from './context.js';
export type { SandboxPorts, SandboxService, StartedService } from './services.js';
export type { RateLimitBehaviour, SmtpOptions, SubmissionLimits } from './smtp/settings.js';
export { describe as describeEvent, type SandboxHttpPlugin } from './http-route.js';
export { verifyAccessToken, type AccessTokenCheck, type AccessTokenClaims, type AccessTokenRejection, type VerifyOptions } from './entra/verify.js';
export type { Tenant, TenantInput, Mailbox, AppRegistration, InboundConnector } from './tenant/schema.js';
export * as tenantAccess from './tenant/accessors.js';
export { connectorFor, type ConnectingServer } from './tenant/connectors.js';
export { EXCHANGE_ONLINE, MICROSOFT_GRAPH, findResource } from './tenant/resources.js';
export { INTERNET_OUTBOX, MailFolder, type DeliveryReport, type DeliveryRequest, type MailEntry, type RawMessage } from './state/mailboxes.js';
export { SMTP_STAGES, type Fault, type FaultAction, type FaultSpec } from './state/faults.js';
export type { SandboxEvent, SandboxEventInput, SandboxEndpoint } from './state/events.js';
