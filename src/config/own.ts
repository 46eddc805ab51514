/**
 * Looking a thing up by a name that may come from outside — an SMTP AUTH user, a route in a URL
 * or on the command line, an admin's user name, an error code Entra ID sent — in an object
 * keyed by name: own properties only. A plain object also answers "constructor", "toString"
 * and "__proto__" from its prototype, and `name in object` says yes to them, so a lookup that
 * does not use these would find a route, an app or a user nobody configured.
 */

/** The value the record itself holds under `name`, or undefined. */
export function own<T>(record: Readonly<Record<string, T>>, name: string): T | undefined {
  return Object.hasOwn(record, name) ? record[name] : undefined;
}

/** Whether the record itself has `name` (what `name in record` should have meant). */
export function hasOwn(record: object, name: string): boolean {
  return Object.hasOwn(record, name);
}

/**
 * Keys of the config's input that cannot be names: "__proto__" is dropped by the YAML-to-object
 * step of every JavaScript parser or validator that guards against prototype pollution (zod
 * does), so a route or app by that name would vanish without a word. Refused instead, by path.
 */
export function reservedKeys(value: unknown, path: string[] = []): string[][] {
  if (Array.isArray(value)) return value.flatMap((v, i) => reservedKeys(v, [...path, String(i)]));
  if (!value || typeof value !== 'object') return [];
  return Object.keys(value).flatMap((key) => (key === '__proto__' ? [[...path, key]] : reservedKeys((value as Record<string, unknown>)[key], [...path, key])));
}
