/**
 * The configuration is valid (loading it already checked every key and resolved every env:, file:
 * and enc: reference — a failure there is reported by the caller), and each route's secrets are
 * given safely and are not about to run out: an expired client secret stops all of a route's mail.
 */
import type { LoadedConfig } from '../config/load.js';
import type { UnresolvableRef } from '../config/secret-refs.js';
import { missingSecretFix, missingSecretSaid } from './missing-secrets.js';
import { expiryOf } from '../credentials/expiry.js';
import { newSecretSteps } from '../transports/m365/fixes-entra.js';
import { failed, passed, warned, type CheckResult } from './check.js';
import type { RouteTarget } from './route-target.js';

const PLAIN_TEXT_FIX = (key: string) => `Give it as env:NAME or file:/path, or encrypt it: relay365 secret encrypt, then put the enc:v1:… value in ${key}.`;
const isRouteKey = (key: string) => key.startsWith('routes.');

export function configChecks(loaded: LoadedConfig): CheckResult[] {
  const where = loaded.file ?? 'no config file (defaults and environment)';
  const checks = [passed('config', 'configuration', `${where} is valid; ${Object.keys(loaded.config.routes).length} route(s)`)];
  // A route's plain-text secrets and placeholder ids are reported with the route (secretChecks), the rest here.
  const ownChecks = new Set([...loaded.plaintextSecrets, ...loaded.placeholders].map((w) => w.warning));
  for (const warning of loaded.warnings) if (!ownChecks.has(warning)) checks.push(warned('config', 'configuration', warning, 'See README.md, "Secrets at rest".'));
  for (const plain of loaded.plaintextSecrets) {
    if (!isRouteKey(plain.key)) checks.push(plaintextCheck(plain));
  }
  for (const ref of loaded.unresolvableRefs) if (!isRouteKey(ref.path)) checks.push(missingSecretCheck(ref));
  return checks;
}

function plaintextCheck(plain: LoadedConfig['plaintextSecrets'][number]): CheckResult {
  return plain.overriddenBy
    ? warned('secrets', 'secrets', `${plain.key} is overridden by ${plain.overriddenBy}, but the configuration file still holds it in plain text.`, `Remove ${plain.key} from the configuration file; ${plain.overriddenBy} gives it.`)
    : warned('secrets', 'secrets', `${plain.key} is written in plain text in the configuration.`, PLAIN_TEXT_FIX(plain.key));
}

const missingSecretCheck = (ref: UnresolvableRef) => failed('secrets', 'secrets', missingSecretSaid(ref), missingSecretFix(ref));

/** The route's secret references that did not resolve (the doctor loads the config tolerating them). */
export function unresolvedOf(route: string, loaded: LoadedConfig): UnresolvableRef[] {
  return loaded.unresolvableRefs.filter((r) => r.path.startsWith(`routes.${route}.`));
}

/** A client or tenant id that is still a placeholder: Entra ID will issue no token, so the route cannot send. */
function placeholderChecks(target: RouteTarget, loaded: LoadedConfig): CheckResult[] {
  return loaded.placeholders
    .filter((p) => p.key.startsWith(`routes.${target.name}.`))
    .map((p) => failed('config', 'credentials', `${p.key} is "${p.value}", a placeholder: Entra ID issues no token for it.`, `${p.fix.charAt(0).toUpperCase()}${p.fix.slice(1)}.`));
}

/** The config keys of a route that hold secrets, and where their value came from. */
function secretKeysOf(target: RouteTarget): string[] {
  const c = target.config;
  if (c.transport === 'smtp-basic') return ['password'];
  if (c.transport === 'smarthost' && c.auth) return ['auth.pass'];
  if ((c.transport === 'graph' || c.transport === 'smtp-oauth') && c.credentials.clientSecret) return ['credentials.clientSecret'];
  return [];
}

export function secretChecks(target: RouteTarget, loaded: LoadedConfig, now: number): CheckResult[] {
  const title = 'secrets';
  const checks: CheckResult[] = placeholderChecks(target, loaded);
  const keys = secretKeysOf(target);
  for (const ref of unresolvedOf(target.name, loaded)) checks.push(missingSecretCheck(ref));
  for (const key of keys) {
    const path = `routes.${target.name}.${key}`;
    const ref = loaded.secretRefs.find((r) => r.path === path);
    const plain = loaded.plaintextSecrets.find((p) => p.key === path);
    const variable = loaded.overrides.find((o) => o.path.join('.') === path)?.variable;
    if (ref) checks.push(passed('secrets', title, `${path} resolved (${ref.kind}: reference${variable ? ` from ${variable}` : ''})`));
    else if (variable) checks.push(passed('secrets', title, `${path} comes from the environment (${variable})`));
    if (plain) checks.push(plaintextCheck(plain));
  }
  const c = target.config;
  if ((c.transport === 'graph' || c.transport === 'smtp-oauth') && c.credentials.flow === 'app-only') {
    const expiry = expiryOf(target.name, c.credentials, now);
    const facts = target.facts ?? { route: target.name, transport: c.transport };
    const renew = expiry?.kind === 'certificate' ? `Create a new certificate, upload it to the app registration and point routes.${target.name}.credentials.certificate at it.` : newSecretSteps(facts);
    if (!expiry) {
      if (c.credentials.clientSecret) checks.push(warned('secrets', title, `routes.${target.name}.credentials.secretExpires is not set, so relay365 cannot warn before the client secret expires.`, `Set routes.${target.name}.credentials.secretExpires to the expiry date the Entra admin center shows for the secret (Certificates & secrets).`));
    } else if (expiry.level === 'expired') {
      checks.push(failed('secrets', title, `The ${expiry.kind} of ${expiry.key} expired on ${new Date(expiry.expiresAt).toISOString().slice(0, 10)}: Entra ID refuses it and the route sends nothing.`, renew));
    } else if (expiry.level !== 'ok') {
      checks.push(warned('secrets', title, expiry.warning ?? `The ${expiry.kind} expires in ${expiry.daysLeft} days.`, renew));
    } else {
      checks.push(passed('secrets', title, `the ${expiry.kind} is valid until ${new Date(expiry.expiresAt).toISOString().slice(0, 10)} (${expiry.daysLeft} days)`));
    }
  }
  if (!checks.length) checks.push(passed('secrets', title, 'no secrets in this route'));
  return checks;
}
