/**
 * The host that receives a tenant's mail on port 25 (Direct Send and relay connectors):
 * Microsoft publishes `<domain with dots replaced by dashes>.mail.protection.outlook.com`
 * as the MX of a domain added to Microsoft 365 (contoso.com → contoso-com.mail.protection.outlook.com).
 * Some domains get a different MX (DNSSEC-enabled domains, older tenants with a suffix): the
 * admin center shows the real one under Settings → Domains, and a route's `host` overrides this.
 */
import { domainToASCII } from 'node:url';

export const MX_SUFFIX = 'mail.protection.outlook.com';

export function mxHostFor(domain: string): string {
  // An internationalised domain is published in its ASCII (punycode) form.
  const ascii = domainToASCII(domain.trim().replace(/\.$/, '').toLowerCase()) || domain.trim().toLowerCase();
  return `${ascii.replaceAll('.', '-')}.${MX_SUFFIX}`;
}
