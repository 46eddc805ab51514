/**
 * Matching addresses and domains against the patterns admins write in the config. Both sides
 * are compared in one normal form, so a rule cannot be walked around by another spelling of
 * the same domain: lower case, without the one trailing dot of a fully qualified name
 * (`evil.com.`), and international names as punycode (`bücher.example` and
 * `xn--bcher-kva.example` are the same domain). What has no such form — an address literal
 * (`u@[192.0.2.1]`), an IP address, empty labels — is not a domain, and the door refuses it.
 */
import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';

/** The domain of an address in its normal form (or, when it has none, lower-cased as given). */
export const domainOf = (address: string) => {
  const domain = address.slice(address.lastIndexOf('@') + 1);
  return normalDomain(domain) ?? domain.toLowerCase();
};

/** Why a domain cannot be matched against rules (an address literal, an IP address, not a domain name), or null. */
export function notADomain(domain: string): string | null {
  if (domain.startsWith('[')) return 'address literals are not accepted; use a domain name';
  if (isIP(domain)) return 'an IP address is not a domain name; use a domain name';
  // A numeric last label is no top-level domain: 192.0.2.1. and the like are addresses in disguise.
  if (normalDomain(domain) === null || /\.\d+\.?$/.test(domain)) return `"${domain}" is not a domain name`;
  return null;
}

/** Lower case, one trailing dot removed, IDN as punycode (A-labels); null when it is not a domain name. */
export function normalDomain(domain: string): string | null {
  const name = domain.endsWith('.') ? domain.slice(0, -1) : domain;
  const ascii = name ? domainToASCII(name.toLowerCase()) : '';
  if (!ascii || ascii.split('.').some((label) => label === '')) return null;
  return ascii;
}

/** Patterns come from the config: each is brought to its normal form once. */
const patternForms = new Map<string, string | null>();
function patternDomain(pattern: string): string | null {
  let form = patternForms.get(pattern);
  if (form === undefined) patternForms.set(pattern, (form = normalDomain(pattern)));
  return form;
}

/** "contoso.com" matches contoso.com; "*.contoso.com" matches its subdomains (not contoso.com itself). */
export function domainMatches(domain: string, patterns: readonly string[]): boolean {
  const d = normalDomain(domain);
  if (d === null) return false;
  return patterns.some((pattern) => {
    const wildcard = pattern.startsWith('*.');
    const p = patternDomain(wildcard ? pattern.slice(2) : pattern);
    if (p === null) return false;
    return wildcard ? d.endsWith(`.${p}`) : d === p;
  });
}

/** "sap@contoso.com" matches exactly; "*@contoso.com" (or just "contoso.com") any address of that domain. */
export function addressMatches(address: string, patterns: readonly string[]): boolean {
  const at = address.lastIndexOf('@');
  const local = address.slice(0, at).toLowerCase();
  const domain = address.slice(at + 1);
  return patterns.some((pattern) => {
    if (pattern.startsWith('*@')) return domainMatches(domain, [pattern.slice(2)]);
    const pAt = pattern.lastIndexOf('@');
    if (pAt < 0) return domainMatches(domain, [pattern]);
    return at >= 0 && local === pattern.slice(0, pAt).toLowerCase() && domainMatches(domain, [pattern.slice(pAt + 1)]);
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
