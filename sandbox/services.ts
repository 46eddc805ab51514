// Services the sandbox starts beside its HTTPS server: the SMTP servers (client submission and
// MX) are services. Each gets the shared context, reports the ports it listens on, and is
// stopped in reverse order when the sandbox stops.
import type { SandboxContext } from './context.js';
import { dnsService } from './dns/service.js';
import { smtpService } from './smtp/service.js';

export interface SandboxPorts {
  https: number;
  /** Client submission (smtp.office365.com:587 stand-in); null when not running. */
  submission: number | null;
  /** MX (<tenant>.mail.protection.outlook.com:25 stand-in); null when not running. */
  mx: number | null;
  /** The DNS server (UDP) with the tenant's MX and SPF records; null when not running. */
  dns: number | null;
}

export interface StartedService {
  readonly ports?: Partial<Pick<SandboxPorts, 'submission' | 'mx' | 'dns'>>;
  stop(): Promise<void>;
}

export interface SandboxService {
  readonly name: string;
  start(ctx: SandboxContext): Promise<StartedService>;
}

/**
 * The services every sandbox starts, in order. The SMTP servers register here (they read their
 * ports from `ctx.options.smtp`); tests and tools can add more with `startSandbox({ services })`.
 */
export const BUILT_IN_SERVICES: readonly SandboxService[] = [smtpService, dnsService];
