/**
 * Loading the configuration: the YAML file (findConfig: --config, RELAY365_CONFIG,
 * ./relay365.yaml, then the installed /etc/relay365/relay365.yaml), then RELAY365_*
 * environment overrides, then validation. Any mistake stops start-up with every problem
 * listed as "<file or variable>: <key path>: <what is wrong>". `serve` and every other
 * command load it here, so a command run by hand sees the relay the service runs.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { hostname } from 'node:os';
import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { applyEnvOverrides, type EnvOverride } from './env.js';
import { readMasterKey, type MasterKey } from './master-key.js';
import { listenerProblems } from './listeners.js';
import { ConfigError, toProblems } from './problems.js';
import { configSchema, storeJsonSchemaOverride, type Config } from './schema.js';
import { adminPlainHttpProblem } from './admin.js';
import { httpPlainHttpProblem } from './submission.js';
import { expandStoreShorthand, plaintextStoreWarning, splitStoreUrlVariable } from './store-url.js';
import { resolveSecretRefs, type ResolvedRef, type UnresolvableRef } from './secret-refs.js';
import { webhookProblem } from './notify.js';
import { reservedKeys } from './own.js';
import { placeholderIds, type Placeholder } from './placeholders.js';
import { plaintextSecretKeys, plaintextSecrets, type PlaintextSecret } from './plaintext-secrets.js';

export { ConfigError } from './problems.js';

export const DEFAULT_CONFIG_FILE = 'relay365.yaml';

/**
 * Where packaging/relay365.service installs relay365: the config it names, the environment it
 * gives the relay (the queue and the master key in the state directory, whatever relative paths
 * the file has) and the file of secrets it reads. A command run by hand with that config gets
 * the same, or it would look for the queue in /etc/relay365/data.
 */
export const INSTALLED: InstalledLayout = {
  config: '/etc/relay365/relay365.yaml',
  envFile: '/etc/relay365/relay365.env',
  env: { RELAY365_STORE__PATH: '/var/lib/relay365/relay365.db', RELAY365_SECRETS__KEYFILE: '/var/lib/relay365/master.key' },
};

export interface InstalledLayout {
  config: string;
  envFile: string;
  env: Readonly<Record<string, string>>;
}

export interface ConfigLocation {
  /** Absolute path of the file, or null: none found, defaults apply (paths relative to the working directory). */
  file: string | null;
  /** How the file was named in messages: as given, or its path. */
  label: string;
  /** Named by --config or RELAY365_CONFIG: it must exist. */
  requested: boolean;
  /** The packaging's config: the service's environment applies too (INSTALLED). */
  installed: boolean;
}

/** The one search every command makes: --config, RELAY365_CONFIG, ./relay365.yaml, the installed config. */
export function findConfig(options: LoadOptions = {}): ConfigLocation {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const layout = options.installed ?? INSTALLED;
  const requested = options.path ?? env.RELAY365_CONFIG;
  const at = (label: string, file: string, named: boolean): ConfigLocation => ({ file, label, requested: named, installed: file === resolve(layout.config) });
  if (requested) return at(requested, resolve(cwd, requested), true);
  const local = resolve(cwd, DEFAULT_CONFIG_FILE);
  if (existsSync(local)) return at(DEFAULT_CONFIG_FILE, local, false);
  if (existsSync(layout.config)) return at(layout.config, resolve(layout.config), false);
  return { file: null, label: DEFAULT_CONFIG_FILE, requested: false, installed: false };
}

/**
 * The environment the service runs with, for the installed config: the unit's Environment=,
 * then its EnvironmentFile (KEY=VALUE lines; unreadable for a user other than root, then
 * skipped: secrets a command needs are then reported missing by name), then this process's.
 */
function installedEnv(layout: InstalledLayout, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  let fromFile: Record<string, string> = {};
  try {
    fromFile = parseEnvFile(readFileSync(layout.envFile, 'utf8'));
  } catch {
    // Missing (EnvironmentFile=- makes it optional) or not readable by this user.
  }
  return { ...layout.env, ...fromFile, ...env };
}

/** systemd's EnvironmentFile syntax, as far as secrets need it: comments, KEY=VALUE, optional quotes. */
export function parseEnvFile(text: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!match) continue;
    const value = match[2] as string;
    const quoted = /^(["'])(.*)\1$/.exec(value);
    vars[match[1] as string] = quoted ? (quoted[2] as string) : value;
  }
  return vars;
}

export interface LoadedConfig {
  config: Config;
  /** The file read, or null when none exists and defaults (plus environment) apply. */
  file: string | null;
  /** What the admin wrote (file + environment), before defaults: what `config show` marks as set. */
  input: Record<string, unknown>;
  overrides: EnvOverride[];
  /** Secrets given as env:/file:/enc: references (already replaced by their values in `config`). */
  secretRefs: ResolvedRef[];
  /** References left as they are because LoadOptions.secrets did not name them (still env:/file:/enc: in `config`). */
  unresolvedRefs: ResolvedRef[];
  /** With LoadOptions.tolerateSecrets: references that could not be resolved (still env:/file:/enc: in `config`), and why. */
  unresolvableRefs: UnresolvableRef[];
  /** Secrets the file holds in plain text (keys only), each with the variable that overrides it, if any. */
  plaintextSecrets: PlaintextSecret[];
  /** Client and tenant ids still a placeholder (00000000-…, your-client-id). */
  placeholders: Placeholder[];
  /** Things that work but deserve the admin's attention (a key file others can read, the two above). */
  warnings: string[];
  /** The packaging's config, read with the service's environment (INSTALLED). */
  installed: boolean;
}

export interface LoadOptions {
  /** From --config; wins over RELAY365_CONFIG. */
  path?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /**
   * Resolve only the secret references at these key paths (e.g. ['sendmail.password']); without
   * it, every one. For a command that needs few secrets and may run as a user who cannot read
   * the others (the master key, the routes' secret files): those are not even looked at.
   */
  secrets?: readonly string[];
  /** Report secret references that cannot be resolved (unresolvableRefs) instead of refusing the config. */
  tolerateSecrets?: boolean;
  /** Where the packaging installs relay365 (INSTALLED); tests give another. */
  installed?: InstalledLayout;
}

let cachedJsonSchema: Record<string, unknown> | undefined;
/** The JSON Schema editors use (yaml-language-server), generated from the zod schema. */
export function configJsonSchema(): Record<string, unknown> {
  cachedJsonSchema ??= z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any', override: storeJsonSchemaOverride }) as Record<string, unknown>;
  return cachedJsonSchema;
}

export function loadConfig(options: LoadOptions = {}): LoadedConfig {
  const cwd = options.cwd ?? process.cwd();
  const location = findConfig(options);
  const env = location.installed ? installedEnv(options.installed ?? INSTALLED, options.env ?? process.env) : (options.env ?? process.env);
  const { label } = location;
  const file = location.file ?? resolve(cwd, label);

  let input: Record<string, unknown> = {};
  let found = false;
  if (existsSync(file)) {
    input = readYaml(file, label);
    found = true;
  } else if (location.requested) {
    throw new ConfigError([`${label}: the config file does not exist (looked for ${file})`]);
  }

  expandStoreShorthand(input);
  // Read before the environment is laid over the file: only what the file holds is "plain text in the config".
  const plainInFile = plaintextSecretKeys(input);
  const storeUrl = splitStoreUrlVariable(env);
  const overrides = applyEnvOverrides(input, storeUrl.rest, configJsonSchema() as never);
  const storeUrlOverride = storeUrl.apply(input);
  if (storeUrlOverride) overrides.push(storeUrlOverride);
  const fileLabel = found ? label : `${label} (not present; defaults)`;
  const reserved = reservedKeys(input);
  if (reserved.length) throw new ConfigError(reserved.map((path) => `${fileLabel}: ${path.join('.')}: "__proto__" cannot be a name in relay365's config (JavaScript reserves it); choose another`));
  const result = configSchema.safeParse(structuredClone(input), { reportInput: true });
  if (!result.success) {
    throw new ConfigError(toProblems(result.error.issues, fileLabel, overrides, (path) => knownKeysAt(path, input)));
  }

  const config = result.data;
  const problems = crossCheck(config).map((p) => `${fileLabel}: ${p}`);
  if (problems.length) throw new ConfigError(problems);

  const base = found ? dirname(file) : cwd;
  resolvePaths(config, base);
  config.node.name ??= hostname();
  // Secret references are resolved last, once, here: nothing after the loader sees env:/file:/enc:.
  let key: MasterKey | null | undefined;
  const masterKey = () => (key === undefined ? (key = readMasterKey({ env, keyFile: config.secrets.keyFile })) : key);
  const only = options.secrets ? new Set(options.secrets) : undefined;
  const refs = resolveSecretRefs(config, { env, baseDir: base, fileLabel, overrides, masterKey, keyFile: config.secrets.keyFile, ...(only ? { only } : {}), ...(options.tolerateSecrets ? { tolerate: true } : {}) });
  if (refs.problems.length) throw new ConfigError(refs.problems);
  const webhook = [...refs.left, ...refs.unresolvable].some((r) => r.path === 'notify.admin.webhook') ? null : webhookProblem(config);
  if (webhook) throw new ConfigError([`${overrides.find((o) => o.path.join('.') === 'notify.admin.webhook')?.variable.replace(/^/, 'environment ') ?? fileLabel}: ${webhook}`]);
  const plaintextStore = config.store.url ? plaintextStoreWarning(config.store.url, env) : null;
  const plaintext = plaintextSecrets(plainInFile, overrides, fileLabel);
  const placeholders = placeholderIds(config, (key) => overrides.find((o) => o.path.join('.') === key)?.variable ?? fileLabel);
  const warnings = [...(key?.warnings ?? []), ...(plaintextStore ? [plaintextStore] : []), ...plaintext.map((p) => p.warning), ...placeholders.map((p) => p.warning)];
  return { config, file: found ? file : null, input, overrides, secretRefs: refs.resolved, unresolvedRefs: refs.left, unresolvableRefs: refs.unresolvable, plaintextSecrets: plaintext, placeholders, warnings, installed: location.installed };
}

function readYaml(file: string, label: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([`${label}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? String(err)})`]);
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: false, lineCounter });
  if (doc.errors.length) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const pos = lineCounter.linePos(e.pos[0]);
        return `${label}: line ${pos.line}, column ${pos.col}: ${e.message.split('\n')[0]}`;
      }),
    );
  }
  const value = doc.toJS() as unknown;
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError([`${label}: expected keys such as "listeners:" and "routes:", got ${JSON.stringify(value)}`]);
  }
  return value as Record<string, unknown>;
}

/** Rules that span keys, which the per-key schema cannot see. */
function crossCheck(config: Config): string[] {
  const problems: string[] = [];
  const routes = Object.keys(config.routes);
  const chosen = config.routing.default;
  if (chosen !== undefined && !routes.includes(chosen)) {
    problems.push(`routing.default: no route named "${chosen}" (routes: ${routes.map((r) => `"${r}"`).join(', ') || 'none'})`);
  }
  if (chosen === undefined && routes.length > 1) {
    problems.push(`routing.default: required when there are several routes; name one of ${routes.map((r) => `"${r}"`).join(', ')}`);
  }
  if (Object.keys(config.listeners).length === 0) problems.push('listeners: at least one listener is needed');
  const known = (name: string) => routes.includes(name);
  const list = routes.map((r) => `"${r}"`).join(', ') || 'none';
  config.routing.rules.forEach((rule, i) => {
    if (!known(rule.route)) problems.push(`routing.rules.${i}.route: no route named "${rule.route}" (routes: ${list})`);
    if (!rule.senderDomains?.length && !rule.recipientDomains?.length) problems.push(`routing.rules.${i}: give senderDomains, recipientDomains or both`);
  });
  const users = new Map<string, string>();
  for (const [name, app] of Object.entries(config.apps)) {
    for (const [key, route] of [['route', app.route], ['fallback', app.fallback], ...app.routes.map((r, i) => [`routes.${i}.route`, r.route])] as const) {
      if (route !== undefined && !known(route)) problems.push(`apps.${name}.${key}: no route named "${route}" (routes: ${list})`);
    }
    if (!app.auth && app.networks.length === 0 && app.apiTokens.length === 0) problems.push(`apps.${name}: give auth (a password), networks (source addresses) or apiTokens (HTTP API), or the app can never send`);
    if (app.rewrite && !app.rewrite.to.includes('@')) problems.push(`apps.${name}.rewrite.to: expected an address, got "${app.rewrite.to}"`);
    if (app.auth) {
      const user = app.auth.user ?? name;
      const other = users.get(user);
      if (other) problems.push(`apps.${name}.auth.user: "${user}" is already the user of app ${other}`);
      users.set(user, name);
    }
  }
  problems.push(...listenerProblems(config));
  if (config.http && config.http.maxBuffered < config.http.maxMessageSize) {
    problems.push(`http.maxBuffered: ${config.http.maxBuffered} bytes is less than http.maxMessageSize (${config.http.maxMessageSize} bytes); make it at least that`);
  }
  for (const problem of [adminPlainHttpProblem(config.admin), httpPlainHttpProblem(config.http)]) if (problem) problems.push(problem);
  for (const [name, route] of Object.entries(config.routes)) {
    const other = route.transport === 'direct-send' ? route.fallback : route.transport === 'graph' ? route.largeMessages.route : undefined;
    const key = route.transport === 'direct-send' ? 'fallback' : 'largeMessages.route';
    if (other !== undefined && !known(other)) problems.push(`routes.${name}.${key}: no route named "${other}" (routes: ${list})`);
    if (other === name) problems.push(`routes.${name}.${key}: a route cannot hand over to itself`);
    if (route.transport === 'graph' && route.largeMessages.via === 'route' && !route.largeMessages.route) {
      problems.push(`routes.${name}.largeMessages.route: required with via: route (the route that takes large messages, e.g. an smtp-oauth route of the same mailbox)`);
    }
  }
  for (const [name, listener] of Object.entries(config.listeners)) {
    if (Boolean(listener.tls.cert) !== Boolean(listener.tls.key)) {
      problems.push(`listeners.${name}.tls: cert and key go together; give both or neither`);
    }
  }
  return problems;
}

function resolvePaths(config: Config, base: string): void {
  const at = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  config.store.path = at(config.store.path);
  config.store.spool = config.store.spool ? at(config.store.spool) : resolve(dirname(config.store.path), 'spool');
  config.secrets.keyFile = at(config.secrets.keyFile);
  config.admin.setupTokenFile = at(config.admin.setupTokenFile);
  for (const listener of Object.values(config.listeners)) {
    if (listener.tls.cert) listener.tls.cert = at(listener.tls.cert);
    if (listener.tls.key) listener.tls.key = at(listener.tls.key);
  }
  for (const route of Object.values(config.routes)) {
    if ('ca' in route) route.ca = route.ca.map(at);
    if (route.transport === 'capture' && route.dir) route.dir = at(route.dir);
    const certificate = 'credentials' in route ? route.credentials.certificate : route.transport === 'connector' ? route.certificate : undefined;
    if (certificate) {
      certificate.key = at(certificate.key);
      certificate.cert = at(certificate.cert);
    }
  }
}

type JsonSchemaNode = { properties?: Record<string, JsonSchemaNode>; additionalProperties?: JsonSchemaNode | boolean; oneOf?: JsonSchemaNode[] };

/** The keys allowed at a path, for "did you mean" suggestions. */
function knownKeysAt(path: PropertyKey[], input: Record<string, unknown>): string[] {
  let nodes: JsonSchemaNode[] = [configJsonSchema() as JsonSchemaNode];
  let value: unknown = input;
  for (const segment of path) {
    value = (value as Record<string, unknown> | undefined)?.[String(segment)];
    nodes = nodes.flatMap((node) => {
      const options = [node, ...(node.oneOf ?? [])];
      return options.flatMap((o) => {
        const sub = o.properties?.[String(segment)] ?? (typeof o.additionalProperties === 'object' ? o.additionalProperties : undefined);
        return sub ? [sub] : [];
      });
    });
  }
  const transport = (value as { transport?: unknown } | undefined)?.transport;
  return nodes.flatMap((node) =>
    [node, ...(node.oneOf ?? [])]
      .filter((o) => !o.properties?.transport || transport === undefined || (o.properties.transport as { const?: unknown }).const === transport)
      .flatMap((o) => Object.keys(o.properties ?? {})),
  );
}
