// The DNS server as a sandbox service: UDP on the sandbox's host, port `dns.port` (default 5053,
// or a free port when the HTTPS port is 0, as for the SMTP servers); names answer with the host.
// The default port being taken only leaves the DNS server out (sandbox.ports.dns is null).
import type { SandboxService, StartedService } from '../services.js';
import { startDnsServer } from './server.js';

export const DEFAULT_DNS_PORT = 5053;

export const dnsService: SandboxService = {
  name: 'dns',
  async start(ctx): Promise<StartedService> {
    const { options } = ctx;
    const host = options.dns.host ?? options.host;
    const port = options.dns.port ?? (options.httpsPort === 0 ? 0 : DEFAULT_DNS_PORT);
    const address = options.dns.address ?? (['0.0.0.0', '::', 'localhost'].includes(host) ? '127.0.0.1' : host);
    let dns;
    try {
      dns = await startDnsServer(ctx.tenant, { host, port, address });
    } catch (e) {
      // The default port taken (another sandbox, a local resolver) must not stop the demo; a port asked for must.
      if (options.dns.port !== undefined) throw e;
      options.log(`sandbox: DNS not started: udp ${host}:${port} is not free (${(e as Error).message}); use --dns-port`);
      return { ports: { dns: null }, stop: async () => undefined };
    }
    options.log(`sandbox: DNS on udp ${host}:${dns.port} (the tenant's MX and SPF, Microsoft's names → ${address})`);
    return { ports: { dns: dns.port }, stop: () => dns.stop() };
  },
};
