/**
 * DNS as the doctor asks it: the system's resolver by default (getaddrinfo, so /etc/hosts counts,
 * as it does for the relay's own connections), or the servers of doctor.dnsServers (a test points
 * them at the sandbox's DNS server on loopback). Every lookup gives up after doctor.timeout.
 */
import { promises as dns } from 'node:dns';
import { isIP } from 'node:net';

export interface DoctorResolver {
  /** Where names are looked up, for the report ("the system's resolver", "127.0.0.1:5053"). */
  readonly servers: string;
  addresses(host: string): Promise<string[]>;
  mx(domain: string): Promise<{ exchange: string; priority: number }[]>;
  txt(domain: string): Promise<string[]>;
}

export function createResolver(servers: readonly string[], timeoutMs: number): DoctorResolver {
  const resolver = new dns.Resolver({ timeout: Math.max(1, timeoutMs), tries: 1 });
  if (servers.length) resolver.setServers([...servers]);
  const custom = servers.length > 0;
  return {
    servers: custom ? servers.join(', ') : "the system's resolver",
    async addresses(host) {
      if (isIP(host)) return [host];
      if (!custom) return (await withTimeout(dns.lookup(host, { all: true }), timeoutMs, host)).map((a) => a.address);
      const [v4, v6] = await Promise.allSettled([resolver.resolve4(host), resolver.resolve6(host)]);
      const found = [...(v4.status === 'fulfilled' ? v4.value : []), ...(v6.status === 'fulfilled' ? v6.value : [])];
      if (found.length) return found;
      throw v4.status === 'rejected' ? v4.reason : new Error(`${host} has no A or AAAA record`);
    },
    mx: (domain) => (custom ? resolver.resolveMx(domain) : withTimeout(dns.resolveMx(domain), timeoutMs, domain)),
    txt: async (domain) => (await (custom ? resolver.resolveTxt(domain) : withTimeout(dns.resolveTxt(domain), timeoutMs, domain))).map((chunks) => chunks.join('')),
  };
}

function withTimeout<T>(work: Promise<T>, ms: number, name: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`no answer for ${name} within ${ms} ms`), { code: 'ETIMEOUT' })), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** A DNS error as a few words: "does not exist (NXDOMAIN)", "no answer within 5000 ms". */
export function dnsFailure(err: unknown): string {
  const e = err as { code?: string; message?: string };
  if (e.code === 'ENOTFOUND') return 'does not exist (NXDOMAIN)';
  if (e.code === 'ENODATA') return 'has no record of that type';
  if (e.code === 'ETIMEOUT' || e.code === 'ETIMEDOUT') return `got no answer (${e.message ?? 'timeout'})`;
  if (e.code === 'ECONNREFUSED') return 'could not be asked: the DNS server refused the query';
  return `could not be looked up (${e.code ?? ''} ${e.message ?? String(err)})`.replace('( ', '(');
}
