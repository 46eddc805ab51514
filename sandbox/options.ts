// What `startSandbox` accepts, and the defaults that make `startSandbox()` a working demo.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_ENTRA_SETTINGS, type EntraSettings } from './entra/context.js';
import type { GraphSettings } from './graph/settings.js';
import type { SandboxHttpPlugin } from './http-route.js';
import type { SandboxService } from './services.js';
import type { SmtpOptions } from './smtp/settings.js';
import type { TenantInput } from './tenant/schema.js';

export interface SandboxOptions {
  /** A tenant file (YAML or JSON) or a tenant object. Default: the bundled contoso.example demo tenant. */
  tenant?: string | TenantInput;
  /** Where the CA, keys, grants and mail are kept. Default ./data/sandbox. */
  dataDir?: string;
  /** Address the HTTPS server listens on. Default 127.0.0.1. */
  host?: string;
  /** HTTPS port; 0 picks a free one (tests). Default 9443. */
  httpsPort?: number;
  /** Host name used in the sandbox's URLs. Default localhost (for a loopback host). */
  publicHost?: string;
  /** Extra names for the server certificate, besides localhost, 127.0.0.1 and ::1. */
  serverNames?: string[];
  /** Token lifetimes and device-code timing; Microsoft's values by default. */
  entra?: Partial<EntraSettings>;
  /** How many events the log keeps. Default 5000. */
  eventLogCapacity?: number;
  /** The SMTP servers (client submission, like smtp.office365.com:587; MX, like <tenant>.mail.protection.outlook.com:25): ports and sending limits. See smtp/settings.ts. */
  smtp?: SmtpOptions;
  /** The DNS server (UDP) that answers the tenant's MX and SPF records; see dns/records.ts. */
  dns?: DnsOptions;
  /** Graph's request and throttling limits (Microsoft's by default); see graph/settings.ts. */
  graph?: Partial<GraphSettings>;
  /** Services to start beside the built-in ones (see services.ts). */
  services?: SandboxService[];
  /** HTTPS plugins to register beside the built-in ones (see http.ts). */
  httpPlugins?: SandboxHttpPlugin[];
  /** Where start-up lines go. Default: nowhere (the CLI prints them). */
  log?: (line: string) => void;
}

export interface ResolvedSandboxOptions {
  readonly tenant: string | TenantInput;
  readonly dataDir: string;
  readonly host: string;
  readonly httpsPort: number;
  readonly publicHost: string;
  readonly serverNames: readonly string[];
  readonly entra: EntraSettings;
  readonly eventLogCapacity: number;
  readonly smtp: SmtpOptions;
  readonly graph: Partial<GraphSettings>;
  readonly dns: DnsOptions;
  readonly services: readonly SandboxService[];
  readonly httpPlugins: readonly SandboxHttpPlugin[];
  readonly log: (line: string) => void;
}

export interface DnsOptions {
  /** Listening address; default: the sandbox's `host`. */
  host?: string;
  /** UDP port; default 5053, or a free port when `httpsPort` is 0. */
  port?: number;
  /** The address Microsoft's names and the MX hosts resolve to; default: the listening address (127.0.0.1 for a wildcard). */
  address?: string;
}

export const DEFAULT_HTTPS_PORT = 9443;
export const DEFAULT_DATA_DIR = './data/sandbox';

export function resolveOptions(o: SandboxOptions = {}): ResolvedSandboxOptions {
  const host = o.host ?? '127.0.0.1';
  return {
    tenant: o.tenant ?? defaultTenantFile(),
    dataDir: resolve(o.dataDir ?? DEFAULT_DATA_DIR),
    host,
    httpsPort: o.httpsPort ?? DEFAULT_HTTPS_PORT,
    publicHost: o.publicHost ?? publicHostFor(host),
    serverNames: o.serverNames ?? [],
    entra: { ...DEFAULT_ENTRA_SETTINGS, ...o.entra },
    eventLogCapacity: o.eventLogCapacity ?? 5000,
    smtp: o.smtp ?? {},
    graph: o.graph ?? {},
    dns: o.dns ?? {},
    services: o.services ?? [],
    httpPlugins: o.httpPlugins ?? [],
    log: o.log ?? (() => undefined),
  };
}

/** The bundled demo tenant, found from the source tree or from the compiled one (dist/sandbox). */
export function defaultTenantFile(): string {
  const candidates = ['./tenants/contoso.example.yaml', '../../sandbox/tenants/contoso.example.yaml'].map((p) => fileURLToPath(new URL(p, import.meta.url)));
  return candidates.find((p) => existsSync(p)) ?? candidates[0]!;
}

function publicHostFor(host: string): string {
  if (host === '::1') return '[::1]';
  if (['127.0.0.1', '0.0.0.0', '::', 'localhost'].includes(host)) return 'localhost';
  return host.includes(':') ? `[${host}]` : host;
}
