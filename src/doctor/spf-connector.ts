/**
 * Direct Send and connectors: the SPF record of the route's domain must include this relay's
 * public IP (doctor.publicIps, since it cannot be discovered offline) and, for Microsoft 365's own
 * mail, spf.protection.outlook.com; a certificate connector's client certificate must name the
 * domain (CN or DNS SAN) the connector's TlsSenderCertificateName holds, and be valid.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { BlockList, isIP } from 'node:net';
import { failed, passed, since, warned, type CheckResult } from './check.js';
import type { DoctorContext, RouteState } from './context.js';
import { dnsFailure } from './resolver.js';

const INCLUDE = 'include:spf.protection.outlook.com';

export function spfRecordFor(ips: readonly string[]): string {
  const mechanisms = ips.length ? ips.map((ip) => `${isIP(ip) === 6 ? 'ip6' : 'ip4'}:${ip}`) : ["ip4:<this relay's public IP>"];
  return `v=spf1 ${mechanisms.join(' ')} ${INCLUDE} ~all`;
}

export async function spfCheck(ctx: DoctorContext, state: RouteState): Promise<CheckResult | null> {
  const c = state.target.config;
  if (c.transport !== 'direct-send' && c.transport !== 'connector') return null;
  const title = `SPF ${c.domain}`;
  const ips = ctx.settings.publicIps;
  const record = spfRecordFor(ips);
  const start = performance.now();
  let txt: string[];
  try {
    txt = await ctx.resolver.txt(c.domain);
  } catch (err) {
    const e = err as { code?: string };
    if (e.code !== 'ENODATA' && e.code !== 'ENOTFOUND') return failed('spf', title, `The TXT records of ${c.domain} ${dnsFailure(err)}.`, `Check this host's DNS (${ctx.resolver.servers}).`, since(start));
    txt = [];
  }
  const spf = txt.filter((t) => /^v=spf1(\s|$)/i.test(t.trim()));
  const fix = `Publish one TXT record for ${c.domain}: ${record} (keep any other senders' mechanisms in it).`;
  if (spf.length === 0) return failed('spf', title, `${c.domain} has no SPF record: receivers (Exchange Online too) may treat mail from this relay as spoofed.`, fix, since(start));
  if (spf.length > 1) return failed('spf', title, `${c.domain} has ${spf.length} SPF records, which makes SPF fail for everyone (RFC 7208 permerror): ${spf.join(' | ')}`, `Merge them into one: ${record}`, since(start));
  const found = spf[0]!;
  if (!ips.length) {
    return warned('spf', title, `${found} — doctor.publicIps is not set, so whether it includes this relay cannot be checked (the public IP cannot be discovered offline).`, "Set doctor.publicIps to this relay's public IP address(es) as Microsoft sees them (behind NAT: the firewall's).", since(start));
  }
  const missing = ips.filter((ip) => !covers(found, ip));
  const noInclude = !found.toLowerCase().split(/\s+/).includes(INCLUDE);
  if (missing.length) {
    const merged = `v=spf1 ${missing.map((ip) => `${isIP(ip) === 6 ? 'ip6' : 'ip4'}:${ip}`).join(' ')} ${found.replace(/^v=spf1\s*/i, '')}`.trim();
    return failed('spf', title, `The SPF record of ${c.domain} (${found}) does not include this relay's public IP ${missing.join(', ')}: Exchange Online counts its mail as failing SPF${c.transport === 'direct-send' ? ' and may put it in junk or reject it' : ''}.`, `Change the TXT record of ${c.domain} to: ${noInclude ? record : merged}`, since(start));
  }
  if (noInclude) return warned('spf', title, `${found} includes this relay but not spf.protection.outlook.com: mail Microsoft 365 sends for ${c.domain} itself fails SPF.`, fix, since(start));
  return passed('spf', title, `${found} includes ${ips.join(', ')} and spf.protection.outlook.com`, since(start));
}

/** Whether the record's own ip4:/ip6: mechanisms cover the address (include:, a and mx are not followed). */
function covers(record: string, ip: string): boolean {
  const family = isIP(ip) === 6 ? 'ipv6' : 'ipv4';
  const list = new BlockList();
  for (const term of record.split(/\s+/)) {
    const m = /^\+?ip([46]):([^/]+)(?:\/(\d+))?$/i.exec(term);
    if (!m) continue;
    const type = m[1] === '6' ? 'ipv6' : 'ipv4';
    if (type !== family || isIP(m[2]!) === 0) continue;
    list.addSubnet(m[2]!, m[3] ? Number(m[3]) : type === 'ipv4' ? 32 : 128, type);
  }
  return list.check(ip, family);
}

export function certificateCheck(ctx: DoctorContext, state: RouteState): CheckResult | null {
  const c = state.target.config;
  if (c.transport !== 'connector' || !c.certificate) return null;
  const title = `client certificate ${c.certificate.cert}`;
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(readFileSync(c.certificate.cert));
  } catch (err) {
    return failed('certificate', title, `routes.${state.target.name}.certificate.cert cannot be read as a PEM certificate: ${(err as Error).message}`, `Point routes.${state.target.name}.certificate.cert at the PEM certificate (and .key at its private key).`);
  }
  const cn = /CN=([^\n,]+)/.exec(cert.subject)?.[1]?.trim();
  const sans = (cert.subjectAltName ?? '').split(/,\s*/).filter((s) => s.startsWith('DNS:')).map((s) => s.slice(4).toLowerCase());
  const names = [...new Set([...(cn ? [cn.toLowerCase()] : []), ...sans])];
  state.certificateNames = names;
  const domain = c.domain.toLowerCase();
  const matches = names.some((n) => n === domain || n.endsWith(`.${domain}`) || n === `*.${domain}`);
  const notAfter = Date.parse(cert.validTo);
  if (!matches) {
    return failed('certificate', title, `The certificate names ${names.join(', ') || 'nothing'}, none of them ${domain} or a name under it: the connector (TlsSenderCertificateName ${domain}) does not recognise this relay.`, `Use a certificate whose CN or a DNS SAN is a name under ${domain} (e.g. relay.${domain}), from a CA Microsoft trusts; the connector: Set-InboundConnector -Identity <connector> -TlsSenderCertificateName ${domain}.`);
  }
  if (notAfter <= ctx.now) return failed('certificate', title, `The certificate (${names.join(', ')}) expired on ${new Date(notAfter).toISOString().slice(0, 10)}.`, `Renew it and point routes.${state.target.name}.certificate at the new files.`);
  const days = Math.floor((notAfter - ctx.now) / 86_400_000);
  if (days < 30) return warned('certificate', title, `The certificate (${names.join(', ')}) expires in ${days} days.`, `Renew it and point routes.${state.target.name}.certificate at the new files.`);
  return passed('certificate', title, `${names.join(', ')}, valid until ${new Date(notAfter).toISOString().slice(0, 10)}`);
}
