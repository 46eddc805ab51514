/**
 * DNS: the endpoint's name resolves; for direct-send and connector routes also the domain's MX,
 * which must point at Exchange Online Protection (*.mail.protection.outlook.com) for mail to
 * the domain to reach Microsoft 365 at all.
 */
import { MX_SUFFIX, mxHostFor } from '../transports/m365/mx-host.js';
import { failed, passed, since, skipped, warned, type CheckResult } from './check.js';
import type { DoctorContext, RouteState } from './context.js';
import { dnsFailure } from './resolver.js';

export async function endpointDnsCheck(ctx: DoctorContext, state: RouteState): Promise<CheckResult> {
  const endpoint = state.target.endpoint;
  if (!endpoint) return skipped('dns', 'DNS', 'this route connects to nothing');
  const title = `DNS ${endpoint.host}`;
  const start = performance.now();
  try {
    state.addresses = await ctx.resolver.addresses(endpoint.host);
    return passed('dns', title, `${endpoint.host} → ${state.addresses.join(', ')} (asked ${ctx.resolver.servers})`, since(start));
  } catch (err) {
    return failed('dns', title, `${endpoint.host} ${dnsFailure(err)} (asked ${ctx.resolver.servers}).`, `Check routes.${state.target.name}.host for typos, and that this host's DNS resolver (${ctx.resolver.servers}; doctor.dnsServers) resolves internet names — a DMZ host often needs an outbound DNS rule.`, since(start));
  }
}

export async function mxCheck(ctx: DoctorContext, state: RouteState): Promise<CheckResult | null> {
  const c = state.target.config;
  if (c.transport !== 'direct-send' && c.transport !== 'connector') return null;
  const title = `MX ${c.domain}`;
  const expected = mxHostFor(c.domain);
  const fix = `In the DNS of ${c.domain}: MX 0 ${expected} (Microsoft 365 admin center > Settings > Domains > ${c.domain} > DNS records shows the exact value).`;
  const start = performance.now();
  let records;
  try {
    records = (await ctx.resolver.mx(c.domain)).sort((a, b) => a.priority - b.priority);
  } catch (err) {
    return failed('mx', title, `The MX record of ${c.domain} ${dnsFailure(err)} (asked ${ctx.resolver.servers}).`, fix, since(start));
  }
  if (!records.length) return failed('mx', title, `${c.domain} has no MX record.`, fix, since(start));
  const list = records.map((r) => `${r.priority} ${r.exchange}`).join(', ');
  const first = records[0]!.exchange.toLowerCase().replace(/\.$/, '');
  if (!first.endsWith(`.${MX_SUFFIX}`)) {
    return failed('mx', title, `The MX of ${c.domain} (${list}) does not point at Exchange Online Protection (*.${MX_SUFFIX}): mail for ${c.domain} does not reach Microsoft 365 first.`, fix, since(start));
  }
  if (c.host && c.host.toLowerCase() !== first) {
    return warned('mx', title, `The MX of ${c.domain} is ${first}, but routes.${state.target.name}.host is ${c.host}.`, `Remove routes.${state.target.name}.host (relay365 then uses ${expected}) or set it to ${first}.`, since(start));
  }
  return passed('mx', title, `${c.domain} MX ${list}`, since(start));
}
