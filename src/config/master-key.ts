/**
 * relay365's master key: 32 random bytes that encrypt `enc:v1:` config values, the MSAL token
 * caches and the app-only access tokens in the store (secret-box.ts). It comes from RELAY365_MASTER_KEY (64 hex digits or
 * base64), or else from a key file (`secrets.keyFile`, default data/master.key) that relay365
 * creates on first start, mode 0600, in a folder of mode 0700.
 *
 * Every node sharing a store (and every copy of a config with enc: values) needs the same key:
 * the key id in each sealed value lets a node with another key say so in plain words instead of
 * "decryption failed". Problems are ConfigErrors, so they stop start-up as one clear line,
 * never as a stack trace, and they never contain the key.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { text } from './fields.js';
import { ConfigError } from './problems.js';
import { KEY_BYTES, SecretBox } from './secret-box.js';

export const MASTER_KEY_VARIABLE = 'RELAY365_MASTER_KEY';

export const secretsSchema = z
  .strictObject({
    keyFile: text('a file path')
      .default('data/master.key')
      .describe(`The master key file (created on first start, mode 0600) unless ${MASTER_KEY_VARIABLE} is set; relative paths are relative to the config file. Every node sharing the store needs the same key.`),
  })
  .prefault({})
  .describe('Secrets at rest: the master key that encrypts enc:v1: values, and the delegated sign-ins and app-only access tokens kept in the store.');

export type SecretsConfig = z.output<typeof secretsSchema>;

export interface MasterKeySource {
  env: NodeJS.ProcessEnv;
  /** Absolute path of secrets.keyFile. */
  keyFile: string;
}

export class MasterKey {
  readonly box: SecretBox;

  constructor(
    key: Buffer,
    /** Where it came from, for messages: "RELAY365_MASTER_KEY" or "the key file /path". */
    readonly source: string,
    /** Set when this start created the key file. */
    readonly created: boolean = false,
    /** E.g. a key file others may read. */
    readonly warnings: readonly string[] = [],
  ) {
    this.box = new SecretBox(key);
  }

  get keyId(): string {
    return this.box.keyId;
  }
}

/** 64 hex digits, or base64 / base64url of 32 bytes; anything else is refused with what was expected. */
function parseKey(value: string, where: string): Buffer {
  const textValue = value.trim();
  if (/^[0-9a-fA-F]{64}$/.test(textValue)) return Buffer.from(textValue, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}={0,1}$/.test(textValue)) {
    const bytes = Buffer.from(textValue.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (bytes.length === KEY_BYTES) return bytes;
  }
  throw new ConfigError([`${where}: not a relay365 master key: expected ${KEY_BYTES} bytes as 64 hex digits or base64 (44 characters), got ${textValue.length} characters`]);
}

/** The key from the environment or an existing key file; null when there is neither. */
export function readMasterKey(source: MasterKeySource): MasterKey | null {
  const fromEnv = source.env[MASTER_KEY_VARIABLE];
  if (fromEnv !== undefined && fromEnv !== '') return new MasterKey(parseKey(fromEnv, MASTER_KEY_VARIABLE), MASTER_KEY_VARIABLE);
  let content: string;
  try {
    content = readFileSync(source.keyFile, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    throw new ConfigError([`secrets.keyFile: cannot read the master key file ${source.keyFile} (${code ?? (e as Error).message}); it must be readable by the user relay365 runs as`]);
  }
  const key = parseKey(content, `secrets.keyFile: ${source.keyFile}`);
  return new MasterKey(key, `the key file ${source.keyFile}`, false, permissionWarnings(source.keyFile));
}

/** The key, creating the key file when there is none yet (first start, `secret encrypt`, `auth login`). */
export function openMasterKey(source: MasterKeySource): MasterKey {
  const existing = readMasterKey(source);
  if (existing) return existing;
  const key = randomBytes(KEY_BYTES);
  try {
    mkdirSync(dirname(source.keyFile), { recursive: true, mode: 0o700 });
    // wx: two processes starting at once must not each write a different key.
    writeFileSync(source.keyFile, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return readMasterKey(source) as MasterKey;
    throw new ConfigError([`secrets.keyFile: cannot create the master key file ${source.keyFile} (${code ?? (e as Error).message}); create its folder for the user relay365 runs as, or set ${MASTER_KEY_VARIABLE}`]);
  }
  return new MasterKey(key, `the key file ${source.keyFile}`, true);
}

function permissionWarnings(file: string): string[] {
  try {
    const mode = statSync(file).mode & 0o777;
    if (mode & 0o077) return [`secrets.keyFile: ${file} can be read by others (mode ${mode.toString(8).padStart(4, '0')}); chmod 600 it`];
  } catch {
    // Read a moment ago; a stat failure now changes nothing about the key.
  }
  return [];
}
