/** Matching addresses and domains against the patterns admins write in the config. */

export const domainOf = (address: string) => address.slice(address.lastIndexOf('@') + 1).toLowerCase();

/** "contoso.com" matches contoso.com; "*.contoso.com" matches its subdomains (not contoso.com itself). */
export function domainMatches(domain: string, patterns: readonly string[]): boolean {
  const d = domain.toLowerCase();
  return patterns.some((pattern) => {
    const p = pattern.toLowerCase();
    return p.startsWith('*.') ? d.endsWith(p.slice(1)) : d === p;
  });
}

/** "sap@contoso.com" matches exactly; "*@contoso.com" (or just "contoso.com") any address of that domain. */
export function addressMatches(address: string, patterns: readonly string[]): boolean {
  const a = address.toLowerCase();
  return patterns.some((pattern) => {
    const p = pattern.toLowerCase();
    if (p.startsWith('*@')) return domainMatches(domainOf(a), [p.slice(2)]);
    if (!p.includes('@')) return domainMatches(domainOf(a), [p]);
    return a === p;
  });
}

/**
 * smtp-server refuses an address without a domain before any hook sees it. Applications
 * like SAP SCOT send bare local parts (MAIL FROM:<sapadmin>) and rely on the relay's default
 * domain, so the listener lets them through marked with this reserved domain (RFC 2606),
 * and the door gives them the app's default domain — or refuses them, naming it.
 */
export const BARE_LOCAL_PART = '@bare-local-part.invalid';

/** The local part of an address that came without a domain, or null. */
export const bareLocalPart = (address: string): string | null =>
  address.endsWith(BARE_LOCAL_PART) ? address.slice(0, -BARE_LOCAL_PART.length) : address && !address.includes('@') ? address : null;
