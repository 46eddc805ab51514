/**
 * Environment overrides: every config key can be set as RELAY365_<PATH>, path segments
 * joined by a double underscore, matched to the schema's keys without regard to case or
 * single underscores: RELAY365_LISTENERS__DEFAULT__MAX_MESSAGE_SIZE=10MB sets
 * listeners.default.maxMessageSize. Values are read as YAML scalars, so numbers, booleans
 * and [lists] work. Containers (systemd, Docker) configure this way.
 */
import { parse as parseYaml } from 'yaml';

/** Variables that steer the loader itself and are not config keys (the master key is never a config key). */
const RESERVED = new Set(['RELAY365_CONFIG', 'RELAY365_MASTER_KEY']);
const PREFIX = 'RELAY365_';

type JsonSchema = {
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
};

export interface EnvOverride {
  variable: string;
  path: string[];
}

const fold = (s: string) => s.replace(/_/g, '').toLowerCase();

function childSchema(schema: JsonSchema | undefined, segment: string): { key: string; schema?: JsonSchema } {
  if (!schema) return { key: segment.toLowerCase() };
  const options = [schema, ...(schema.oneOf ?? []), ...(schema.anyOf ?? [])];
  for (const option of options) {
    for (const [key, sub] of Object.entries(option.properties ?? {})) {
      if (fold(key) === fold(segment)) return { key, schema: sub };
    }
  }
  const additional = options.find((o) => typeof o.additionalProperties === 'object')?.additionalProperties;
  return { key: segment.toLowerCase(), schema: typeof additional === 'object' ? additional : undefined };
}

/** Writes every RELAY365_* override into `input` (mutated) and says which variable set which path. */
export function applyEnvOverrides(
  input: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  jsonSchema: JsonSchema,
): EnvOverride[] {
  const applied: EnvOverride[] = [];
  for (const variable of Object.keys(env).sort()) {
    if (!variable.startsWith(PREFIX) || RESERVED.has(variable)) continue;
    const raw = env[variable];
    if (raw === undefined) continue;
    const segments = variable.slice(PREFIX.length).split('__').filter(Boolean);
    if (segments.length === 0) continue;

    let schema: JsonSchema | undefined = jsonSchema;
    let target: Record<string, unknown> = input;
    const path: string[] = [];
    segments.forEach((segment, i) => {
      const existing = Object.keys(target).find((k) => fold(k) === fold(segment));
      const child = childSchema(schema, segment);
      const key = existing ?? child.key;
      schema = child.schema;
      path.push(key);
      if (i === segments.length - 1) {
        target[key] = readValue(raw);
      } else {
        const next = target[key];
        if (typeof next !== 'object' || next === null || Array.isArray(next)) target[key] = {};
        target = target[key] as Record<string, unknown>;
      }
    });
    applied.push({ variable, path });
  }
  return applied;
}

function readValue(raw: string): unknown {
  try {
    const value = parseYaml(raw) as unknown;
    return value === null ? raw : value;
  } catch {
    return raw;
  }
}
