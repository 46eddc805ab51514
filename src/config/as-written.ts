/**
 * The configuration as an admin reads it: the loader turns every duration into milliseconds and
 * every size into bytes (delivery.lifetime: 5d is 432000000), which is what the relay needs and
 * what nobody wrote. For `config show`, each duration and size goes back to its written form —
 * the admin's own text where the file or the environment set it ("5d", "35MB", or 300 seconds
 * as 300), a default in the same form (432000000 → 5d, 36700160 → 35MB).
 *
 * Which keys are durations and sizes is read from the schema itself (fields.ts marks them), so a
 * new key is shown right without being listed here.
 */
import type { z } from 'zod';
import { durationAsWritten, sizeAsWritten, unitOf, type Unit } from './fields.js';
import { configSchema } from './schema.js';

type Schema = z.core.$ZodType;
type Def = { type: string; [key: string]: unknown };
const defOf = (schema: Schema) => schema._zod.def as unknown as Def;
const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Wrappers whose inner schema reads the same value. */
const WRAPPERS = new Set(['default', 'prefault', 'optional', 'nullable', 'nonoptional', 'readonly', 'catch']);

/** Every path in `value` that holds a duration or a size, with which one. */
function unitPaths(schema: Schema, value: unknown, path: string[], found: Map<string, { path: string[]; unit: Unit }>): void {
  const def = defOf(schema);
  if (WRAPPERS.has(def.type)) return unitPaths(def.innerType as Schema, value, path, found);
  if (def.type === 'lazy') return unitPaths((def.getter as () => Schema)(), value, path, found);
  if (def.type === 'pipe') {
    const unit = unitOf(def.in as Schema);
    if (unit) {
      if (typeof value === 'number') found.set(path.join('\u0000'), { path, unit });
      return;
    }
    // z.preprocess is a pipe too: its second stage is the schema of the value.
    unitPaths(def.in as Schema, value, path, found);
    unitPaths(def.out as Schema, value, path, found);
    return;
  }
  if (def.type === 'object' && isObject(value)) {
    const shape = def.shape as Record<string, Schema>;
    for (const [key, v] of Object.entries(value)) if (Object.hasOwn(shape, key)) unitPaths(shape[key] as Schema, v, [...path, key], found);
    return;
  }
  if (def.type === 'record' && isObject(value)) {
    for (const [key, v] of Object.entries(value)) unitPaths(def.valueType as Schema, v, [...path, key], found);
    return;
  }
  if (def.type === 'array' && Array.isArray(value)) {
    value.forEach((v, i) => unitPaths(def.element as Schema, v, [...path, String(i)], found));
    return;
  }
  if (def.type === 'union') {
    const options = def.options as Schema[];
    const key = def.discriminator as string | undefined;
    // A route is read by the option of its transport only: another transport's key of the same name may be no duration.
    const chosen = key && isObject(value) ? options.filter((o) => literalAt(o, key) === value[key]) : options;
    for (const option of chosen) unitPaths(option, value, path, found);
  }
}

function literalAt(schema: Schema, key: string): unknown {
  const def = defOf(schema);
  if (def.type !== 'object') return undefined;
  const field = (def.shape as Record<string, Schema>)[key];
  const values = field ? (defOf(field).values as unknown[] | undefined) : undefined;
  return values?.[0];
}

function at(value: unknown, path: readonly string[]): unknown {
  let current = value;
  for (const key of path) {
    if (!isObject(current) && !Array.isArray(current)) return undefined;
    current = Object.hasOwn(current, key) ? (current as Record<string, unknown>)[key] : undefined;
  }
  return current;
}

function put(target: unknown, path: readonly string[], value: unknown): void {
  const parent = at(target, path.slice(0, -1)) as Record<string, unknown>;
  parent[path[path.length - 1] as string] = value;
}

/**
 * A copy of `config` (as loaded, secrets already masked) with each duration and size as the
 * admin wrote it in `input` (file and environment, before defaults), or, where they wrote
 * nothing, its value in the form they would have.
 */
export function asWritten<T>(config: T, input: Record<string, unknown>): T {
  const copy = structuredClone(config);
  const found = new Map<string, { path: string[]; unit: Unit }>();
  unitPaths(configSchema, copy, [], found);
  for (const { path, unit } of found.values()) {
    const written = at(input, path);
    if (typeof written === 'string' || typeof written === 'number') put(copy, path, written);
    else put(copy, path, unit === 'duration' ? durationAsWritten(at(copy, path) as number) : sizeAsWritten(at(copy, path) as number));
  }
  return copy;
}
