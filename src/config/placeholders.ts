/**
 * Client and tenant ids that are still a placeholder: the zeros `relay365 init` and
 * relay365.example.yaml write (00000000-0000-0000-0000-000000000000), the contoso tenant of
 * Microsoft's examples, or words such as "your-client-id" and "<tenant id>". The config is valid
 * with them (a starter file must be), but Entra ID will never issue a token for them: `config
 * check` and start-up warn, the doctor fails the route, and `relay365 setup` says so first —
 * each naming the key and what belongs there.
 */
import type { Config, RouteConfig } from './schema.js';

export interface Placeholder {
  /** e.g. routes.m365.credentials.clientId */
  key: string;
  value: string;
  /** What to put there instead, and where to find it. */
  fix: string;
  /** The warning, as config check prints it and the log says it at start-up. */
  warning: string;
}

const SAME_DIGIT_GUID = /^([0-9a-f])\1{7}-\1{4}-\1{4}-\1{4}-\1{12}$/i;
const SAMPLE_GUID = /^(x{8}-x{4}-x{4}-x{4}-x{12}|12345678-1234-1234-1234-123456789012|01234567-89ab-cdef-0123-456789abcdef)$/i;
const WORDS = /^(your|my|the)[-_ ]?(app|application|client|tenant|directory)([-_ ]?(id|guid|name|domain))?(\.onmicrosoft\.com)?$|^(app|application|client|tenant|directory)[-_ ]?(id|guid)$|^(changeme|change[-_ ]me|replace[-_ ]?me|todo|tbd|placeholder|xxx+)$/i;
/** Microsoft's examples' tenant, which `relay365 init` writes too. */
const EXAMPLE_TENANTS = new Set(['contoso.onmicrosoft.com']);

export function isPlaceholder(value: string): boolean {
  const v = value.trim();
  return SAME_DIGIT_GUID.test(v) || SAMPLE_GUID.test(v) || WORDS.test(v) || /[<>{}]|…|\.\.\./.test(v) || EXAMPLE_TENANTS.has(v.toLowerCase());
}

const WHERE = 'Microsoft Entra admin center > App registrations > the app > Overview';

/** A route's client and tenant ids that are placeholders, each with what belongs there. */
export function routePlaceholders(name: string, route: RouteConfig): Omit<Placeholder, 'warning'>[] {
  if (route.transport !== 'graph' && route.transport !== 'smtp-oauth') return [];
  const { clientId, tenant } = route.credentials;
  const found: Omit<Placeholder, 'warning'>[] = [];
  const key = (field: string) => `routes.${name}.credentials.${field}`;
  if (isPlaceholder(clientId)) found.push({ key: key('clientId'), value: clientId, fix: `put the app registration's Application (client) ID there (${WHERE}; relay365 setup ${name} says how to register the app)` });
  if (isPlaceholder(tenant)) found.push({ key: key('tenant'), value: tenant, fix: `put your Directory (tenant) ID there (${WHERE}), or your tenant's verified domain (….onmicrosoft.com)` });
  return found;
}

/** The sentence config check prints and start-up logs: `where` is the file, or the RELAY365_* variable that set the key. */
export const placeholderWarning = (p: Omit<Placeholder, 'warning'>, where: string) =>
  `${where}: ${p.key}: "${p.value}" is a placeholder, not a real ${p.key.endsWith('.clientId') ? 'client id' : 'tenant'}; ${p.fix}`;

/** `where(key)`: the file, or the RELAY365_* variable that set the key. */
export function placeholderIds(config: Config, where: (key: string) => string): Placeholder[] {
  return Object.entries(config.routes).flatMap(([name, route]) => routePlaceholders(name, route).map((p) => ({ ...p, warning: placeholderWarning(p, where(p.key)) })));
}
