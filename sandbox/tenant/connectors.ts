// Which inbound connector, if any, a connecting server is attributed to.
//
// Exchange Online attributes mail arriving on port 25 to a tenant's inbound connector either by
// the sending server's IP address (SenderIPAddresses) or by a domain in its TLS client
// certificate's CN or SAN (TlsSenderCertificateName). Attributed mail may relay to external
// recipients; unattributed mail is Direct Send. The MX server asks `connectorFor` once per session.
import { BlockList, isIP } from 'node:net';
import type { InboundConnector, Tenant } from './schema.js';

export interface ConnectingServer {
  /** The client's IP address as the socket reports it (IPv4-mapped IPv6 is unwrapped). */
  ip?: string;
  /** Names from the client certificate: its CN and its DNS SANs. */
  certificateNames?: readonly string[];
}

/** The enabled connector that recognises this server, IP connectors first; undefined for Direct Send. */
export function connectorFor(t: Tenant, server: ConnectingServer): InboundConnector | undefined {
  const enabled = t.inboundConnectors.filter((c) => c.enabled);
  const ip = server.ip?.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1');
  if (ip && isIP(ip)) {
    const byIp = enabled.find((c) => c.senderIpAddresses.length > 0 && ipListOf(c).check(ip, isIP(ip) === 6 ? 'ipv6' : 'ipv4'));
    if (byIp) return byIp;
  }
  const names = (server.certificateNames ?? []).map((n) => n.toLowerCase());
  return enabled.find((c) => c.tlsSenderCertificateName !== undefined && names.some((n) => certificateNameMatches(c.tlsSenderCertificateName!, n)));
}

/**
 * Connector name `contoso.example` matches a certificate for exactly that name; `*.contoso.example`
 * matches any name under it; a wildcard certificate `*.contoso.example` matches a connector naming
 * a host under that domain.
 */
export function certificateNameMatches(connectorName: string, certName: string): boolean {
  const want = connectorName.toLowerCase();
  const have = certName.toLowerCase();
  if (want === have) return true;
  if (want.startsWith('*.')) return have.endsWith(want.slice(1)) && !have.slice(0, -want.length + 1).includes('.');
  if (have.startsWith('*.')) return want.endsWith(have.slice(1)) && !want.slice(0, -have.length + 1).includes('.');
  return false;
}

function ipListOf(c: InboundConnector): BlockList {
  const list = new BlockList();
  for (const entry of c.senderIpAddresses) {
    const [addr = '', bits] = entry.split('/');
    const type = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
    if (!isIP(addr)) continue; // the schema keeps strings; an unparsable entry matches nothing
    if (bits === undefined) list.addAddress(addr, type);
    else list.addSubnet(addr, Number(bits), type);
  }
  return list;
}
