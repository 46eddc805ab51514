/**
 * Secret references: any secret-bearing key of the config (secrets.ts names them: pass,
 * password, clientSecret, …) may hold, instead of the secret itself,
 *
 *   env:NAME        the value of the environment variable NAME
 *   file:/path      the content of a file, trailing newline(s) trimmed (Docker and systemd
 *                   credentials, Kubernetes secrets); relative paths are relative to the config file
 *   enc:v1:…        the secret encrypted with relay365's master key (`relay365 secret encrypt`)
 *
 * They are resolved once, when the config is loaded, in this one place: everything after the
 * loader sees the secret itself and never the reference — except for a command that asks for
 * some secrets only (`relay365 sendmail`, which cron runs as a user who may read neither the
 * master key nor the routes' secret files): the others stay references, never read. A reference that cannot be resolved
 * stops start-up with the key, the file or variable, and why — never the secret — except for
 * setup and the doctor, which report it (tolerate) and go on.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { EnvOverride } from './env.js';
import { MASTER_KEY_VARIABLE, type MasterKey } from './master-key.js';
import { isSecretKey } from './secrets.js';

export const ENCRYPTED_PREFIX = 'enc:v1:';
/** Associated data of encrypted config values: they decrypt as config values only. */
const CONFIG_PURPOSE = 'relay365 config secret';

export type SecretRefKind = 'env' | 'file' | 'enc';

export function secretRefKind(value: unknown): SecretRefKind | null {
  if (typeof value !== 'string') return null;
  if (value.startsWith('env:')) return 'env';
  if (value.startsWith('file:')) return 'file';
  if (value.startsWith('enc:')) return 'enc';
  return null;
}

/** The `enc:v1:` form of a secret, as `relay365 secret encrypt` prints it. */
export function encryptSecret(key: MasterKey, secret: string): string {
  return `${ENCRYPTED_PREFIX}${key.box.seal(secret, CONFIG_PURPOSE)}`;
}

export interface SecretRefContext {
  env: NodeJS.ProcessEnv;
  /** Folder relative file: paths start from (the config file's). */
  baseDir: string;
  /** "relay365.yaml", for messages about keys the file set. */
  fileLabel: string;
  overrides: EnvOverride[];
  /** The master key, asked for only when an enc: value is found; null when there is none. */
  masterKey: () => MasterKey | null;
  /** Where the key would have come from, for the "no master key" message. */
  keyFile: string;
  /** Resolve only the references at these key paths (a command that needs no other secret); others stay as they are, unread. */
  only?: ReadonlySet<string>;
  /**
   * A reference that cannot be resolved stays as it is and is reported in `unresolvable` instead
   * of as a problem: for setup and the doctor, which explain how to create the missing secret.
   */
  tolerate?: boolean;
}

/** A reference that could not be resolved, and why (naming the variable or file, never a value). */
export interface UnresolvableRef extends ResolvedRef {
  ref: string;
  problem: string;
}

/** A resolved reference, for `config show` and `config check` (never the value). */
export interface ResolvedRef {
  path: string;
  kind: SecretRefKind;
}

/** Replaces every reference in `config` (mutated) by its secret; returns the problems, what was resolved and what was left (ctx.only). */
export function resolveSecretRefs(config: object, ctx: SecretRefContext): { problems: string[]; resolved: ResolvedRef[]; left: ResolvedRef[]; unresolvable: UnresolvableRef[] } {
  const problems: string[] = [];
  const resolved: ResolvedRef[] = [];
  const left: ResolvedRef[] = [];
  const unresolvable: UnresolvableRef[] = [];
  const visit = (node: unknown, path: string[]) => {
    if (Array.isArray(node)) return node.forEach((v, i) => visit(v, [...path, String(i)]));
    if (!node || typeof node !== 'object') return;
    const record = node as Record<string, unknown>;
    for (const [key, value] of Object.entries(record)) {
      const kind = isSecretKey(key) ? secretRefKind(value) : null;
      if (!kind) {
        visit(value, [...path, key]);
        continue;
      }
      const at = [...path, key];
      if (ctx.only && !ctx.only.has(at.join('.'))) {
        left.push({ path: at.join('.'), kind });
        continue;
      }
      const result = resolveOne(kind, value as string, ctx);
      if (typeof result === 'string') {
        record[key] = result;
        resolved.push({ path: at.join('.'), kind });
      } else if (ctx.tolerate) {
        unresolvable.push({ path: at.join('.'), kind, ref: kind === 'enc' ? ENCRYPTED_PREFIX : (value as string), problem: result.problem });
      } else {
        problems.push(`${sourceOf(at, ctx)}: ${at.join('.')}: ${result.problem}`);
      }
    }
  };
  visit(config, []);
  return { problems, resolved, left, unresolvable };
}

function resolveOne(kind: SecretRefKind, ref: string, ctx: SecretRefContext): string | { problem: string } {
  if (kind === 'env') {
    const name = ref.slice('env:'.length);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return { problem: `"env:" must be followed by an environment variable name, got "${ref}"` };
    const value = ctx.env[name];
    if (value === undefined || value === '') return { problem: `the environment variable ${name} (env:${name}) is not set` };
    return value;
  }
  if (kind === 'file') {
    const given = ref.slice('file:'.length);
    if (!given) return { problem: '"file:" must be followed by a file path' };
    const path = isAbsolute(given) ? given : resolve(ctx.baseDir, given);
    let content: string;
    try {
      content = readFileSync(path, 'utf8');
    } catch (e) {
      return { problem: `cannot read the secret file ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` };
    }
    const secret = content.replace(/[\r\n]+$/, '');
    return secret === '' ? { problem: `the secret file ${path} is empty` } : secret;
  }
  if (!ref.startsWith(ENCRYPTED_PREFIX)) return { problem: `an encrypted value starts with "${ENCRYPTED_PREFIX}" (this relay365 knows version 1 only); make it again with relay365 secret encrypt` };
  const key = ctx.masterKey();
  if (!key) return { problem: `an enc:v1: value needs the master key it was encrypted with: set ${MASTER_KEY_VARIABLE}, or put the key file at ${ctx.keyFile} (secrets.keyFile)` };
  const opened = key.box.open(ref.slice(ENCRYPTED_PREFIX.length), CONFIG_PURPOSE);
  if (opened.ok) return opened.plaintext.toString('utf8');
  if (opened.reason === 'other-key') {
    return { problem: `was encrypted with another master key (key id ${opened.keyId}); the master key from ${key.source} has key id ${key.keyId}. Use the key it was encrypted with, or encrypt the secret again with relay365 secret encrypt` };
  }
  return { problem: `the enc:v1: value is damaged (it does not decrypt with the master key from ${key.source}, key id ${key.keyId}); copy it again, or encrypt the secret again with relay365 secret encrypt` };
}

function sourceOf(path: string[], ctx: SecretRefContext): string {
  const override = ctx.overrides.find((o) => o.path.join('.') === path.join('.'));
  return override ? `environment ${override.variable}` : ctx.fileLabel;
}
