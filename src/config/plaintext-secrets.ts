/**
 * Secrets written in plain text in the config file: worth a warning (by `config check`, at
 * start-up and by the doctor), because the file is copied, backed up and pasted into tickets.
 * Only the file counts. A secret that comes from a RELAY365_* variable is not in the file at
 * all, and one given as env:NAME, file:/path or enc:v1:… is a reference, not the secret: neither
 * is warned about. A plain secret that is still in the file while the environment overrides it
 * gets a softer note: it is not used, but it is still there to be read.
 */
import type { EnvOverride } from './env.js';
import { secretRefKind } from './secret-refs.js';
import { isSecretKey } from './secrets.js';

export interface PlaintextSecret {
  /** The key, e.g. routes.m365.credentials.clientSecret (never the value). */
  key: string;
  /** The RELAY365_* variable that overrides it, when one does. */
  overriddenBy: string | null;
  /** The warning, as config check prints it and the log says it at start-up. */
  warning: string;
}

/** Key paths in `file` (the YAML as read, before the environment) whose value is a secret in plain text. */
export function plaintextSecretKeys(file: unknown, path: string[] = []): string[] {
  if (!file || typeof file !== 'object' || Array.isArray(file)) return [];
  return Object.entries(file).flatMap(([k, v]) => (isSecretKey(k) && typeof v === 'string' && secretRefKind(v) === null ? [[...path, k].join('.')] : plaintextSecretKeys(v, [...path, k])));
}

export function plaintextSecrets(keys: readonly string[], overrides: readonly EnvOverride[], fileLabel: string): PlaintextSecret[] {
  return keys.map((key) => {
    const overriddenBy = overrides.find((o) => o.path.join('.') === key)?.variable ?? null;
    const warning = overriddenBy
      ? `${fileLabel}: ${key}: ${overriddenBy} overrides it, but the file still holds a secret in plain text; remove it from the file`
      : `${fileLabel}: ${key}: a secret in plain text; give it as env:NAME, file:/path or enc:v1:… (relay365 secret encrypt) instead`;
    return { key, overriddenBy, warning };
  });
}
