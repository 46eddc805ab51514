// What every part of the sandbox is handed: the tenant, the PKI, the shared state and Entra.
//
// The HTTPS plugins (Entra, the sandbox API, Graph) and the services started beside them (the
// SMTP servers) receive this one object; it is the whole interface between them.
import type { SandboxClock } from './clock.js';
import type { EntraService } from './entra/service.js';
import type { SandboxPki } from './pki/index.js';
import type { EventLog } from './state/events.js';
import type { FaultRegistry } from './state/faults.js';
import type { MailStore } from './state/mailboxes.js';
import type { TenantStore } from './tenant/store.js';
import type { ResolvedSandboxOptions } from './options.js';

export interface SandboxContext {
  readonly options: ResolvedSandboxOptions;
  /** The live tenant: `tenant.current` on every use, never cached. */
  readonly tenant: TenantStore;
  readonly pki: SandboxPki;
  readonly mailboxes: MailStore;
  readonly events: EventLog;
  readonly faults: FaultRegistry;
  readonly clock: SandboxClock;
  /** Token verification and grant revocation. */
  readonly entra: EntraService;
  /** URLs of the HTTPS server; valid once it listens (before any request or service start). */
  readonly urls: SandboxUrls;
}

export interface SandboxUrls {
  /** e.g. https://localhost:9443 */
  readonly origin: string;
  /** The MSAL authority for a tenant (id or domain; default: the tenant id). */
  authority(tenant?: string): string;
  /** `host:port` for MSAL's `knownAuthorities`. */
  readonly knownAuthority: string;
  /** Stand-in for https://login.microsoftonline.com. */
  readonly login: string;
  /** Stand-in for https://graph.microsoft.com: requests go to `${graph}/v1.0/...`. */
  readonly graph: string;
  /** The sandbox's JSON API. */
  readonly api: string;
  /** The sandbox's HTML page. */
  readonly page: string;
  /** Where users enter device codes (Microsoft: https://microsoft.com/devicelogin). */
  readonly deviceLogin: string;
}

/** Path prefix under which the Graph stand-in's routes live on the HTTPS server. */
export const GRAPH_PREFIX = '/graph';

export function sandboxUrls(origin: string, defaultTenant: () => string): SandboxUrls {
  return {
    origin,
    authority: (tenant) => `${origin}/${tenant ?? defaultTenant()}`,
    knownAuthority: new URL(origin).host,
    login: origin,
    graph: `${origin}${GRAPH_PREFIX}`,
    api: `${origin}/sandbox/api`,
    page: `${origin}/sandbox/`,
    deviceLogin: `${origin}/devicelogin`,
  };
}
