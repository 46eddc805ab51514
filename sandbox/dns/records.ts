// The tenant's public DNS, as the sandbox's DNS server answers it: for every accepted domain the MX
// Microsoft publishes (<domain with dashes>.mail.protection.outlook.com) and an SPF record that
// includes spf.protection.outlook.com; Microsoft's endpoint names point at the sandbox's address.
// The tenant's `dns.records` replace the defaults of the same name and type (an empty value
// removes them), so a test breaks one record and sees what relay365 doctor says.
import type { DnsRecord, Tenant } from '../tenant/schema.js';

/** The SPF record of the demo tenant's domains: its scanners' range and Exchange Online. */
export const DEFAULT_SPF = 'v=spf1 ip4:203.0.113.0/24 include:spf.protection.outlook.com -all';

/** Microsoft's names a client of the sandbox looks up. */
const MICROSOFT_HOSTS = ['smtp.office365.com', 'login.microsoftonline.com', 'graph.microsoft.com', 'outlook.office365.com', 'localhost'];

export const mxHostOf = (domain: string) => `${domain.replaceAll('.', '-')}.mail.protection.outlook.com`;

export function tenantDnsRecords(tenant: Tenant, address: string): DnsRecord[] {
  const family = address.includes(':') ? 'AAAA' : 'A';
  const defaults: DnsRecord[] = [
    ...MICROSOFT_HOSTS.map((name) => ({ name, type: family, value: address, priority: 0 }) as DnsRecord),
    ...tenant.domains.flatMap((domain): DnsRecord[] => [
      { name: domain, type: 'MX', value: mxHostOf(domain), priority: 0 },
      { name: domain, type: 'TXT', value: DEFAULT_SPF, priority: 0 },
      { name: mxHostOf(domain), type: family, value: address, priority: 0 },
    ]),
  ];
  const replaced = new Set(tenant.dns.records.map((r) => `${r.name} ${r.type}`));
  return [...defaults.filter((r) => !replaced.has(`${r.name} ${r.type}`)), ...tenant.dns.records.filter((r) => r.value !== '')];
}
