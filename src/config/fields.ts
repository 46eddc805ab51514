/**
 * Field builders for the config schema. Each one carries its own admin-readable error
 * ("expected a number from 1 to 65535, got "587x"") so the loader can print it as is,
 * and each accepts the forms an admin would type ("30s", "35MB") as well as plain numbers.
 */
import { BlockList, isIP } from 'node:net';
import { z } from 'zod';

const got = (input: unknown): string => (input === undefined ? 'nothing' : JSON.stringify(input));

export function intInRange(min: number, max: number, what = 'a number') {
  const message = (input: unknown) => `expected ${what} from ${min} to ${max}, got ${got(input)}`;
  return z
    .number({ error: (iss) => message(iss.input) })
    .int({ error: (iss) => message(iss.input) })
    .min(min, { error: (iss) => message(iss.input) })
    .max(max, { error: (iss) => message(iss.input) });
}

export const port = () => intInRange(1, 65535);

/**
 * The fields that read a duration or a size, so `config show` can write them back as an admin
 * would (as-written.ts). Marked on what they read (their first stage), which every copy of
 * the field (.describe(), .refine(), .prefault()) keeps.
 */
export type Unit = 'duration' | 'size';
const UNITS = new WeakMap<z.core.$ZodType, Unit>();
export const unitOf = (reads: z.core.$ZodType): Unit | undefined => UNITS.get(reads);
function withUnit<T extends z.core.$ZodType>(reads: T, unit: Unit): T {
  UNITS.set(reads, unit);
  return reads;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/;

/** A duration as "500ms", "30s", "5m", "4h", "5d" or a number of seconds; parsed to milliseconds. */
export function duration() {
  const message = (input: unknown) =>
    `expected a duration such as "30s", "5m", "4h" or "5d" (or a number of seconds), got ${got(input)}`;
  const reads = withUnit(z.union([z.number().nonnegative(), z.string().regex(DURATION, { error: (iss) => message(iss.input) })], { error: (iss) => message(iss.input) }), 'duration');
  return reads
    .transform((value) => {
      if (typeof value === 'number') return Math.round(value * 1000);
      const [, amount, unit] = DURATION.exec(value.trim()) as RegExpExecArray;
      return Math.round(Number(amount) * (DURATION_UNITS[unit as string] as number));
    })
    .meta({ description: 'A duration: "500ms", "30s", "5m", "4h", "5d", or a number of seconds.' });
}

const SIZE_UNITS: Record<string, number> = { b: 1, kb: 1024, kib: 1024, mb: 1024 ** 2, mib: 1024 ** 2, gb: 1024 ** 3, gib: 1024 ** 3 };
const SIZE = /^(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)$/i;

/** A size as "35MB", "256KB" (binary multiples) or a number of bytes; parsed to bytes. */
export function size() {
  const message = (input: unknown) => `expected a size such as "35MB", "256KB" or a number of bytes, got ${got(input)}`;
  const reads = withUnit(z.union([z.number().int().nonnegative(), z.string().regex(SIZE, { error: (iss) => message(iss.input) })], { error: (iss) => message(iss.input) }), 'size');
  return reads
    .transform((value) => {
      if (typeof value === 'number') return value;
      const [, amount, unit] = SIZE.exec(value.trim()) as RegExpExecArray;
      return Math.round(Number(amount) * (SIZE_UNITS[(unit as string).toLowerCase()] as number));
    })
    .meta({ description: 'A size: "35MB", "256KB", or a number of bytes.' });
}

export function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  const list = values.map((v) => `"${v}"`).join(', ');
  return z.enum(values, { error: (iss) => `expected one of ${list}, got ${got(iss.input)}` });
}

/** Text; a number is taken as its digits (a password or user name of digits, from YAML or the environment). */
export function text(what = 'a text') {
  return z.preprocess(
    (value) => (typeof value === 'number' ? String(value) : value),
    z.string({ error: (iss) => `expected ${what}, got ${got(iss.input)}` }).min(1, { error: `expected ${what}, got an empty text` }),
  );
}

export function bool() {
  return z.boolean({ error: (iss) => `expected true or false, got ${got(iss.input)}` });
}

/** A host name or address to listen on or connect to. */
export function host() {
  return text('a host name or IP address');
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/**
 * Whether a listener on `host` is reachable from this machine only: 127.0.0.0/8, ::1 or
 * localhost. Any other name might resolve to a network address, so it counts as a network.
 */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  if (bare === 'localhost') return true;
  const family = isIP(bare);
  return family !== 0 && LOOPBACK.check(bare, family === 4 ? 'ipv4' : 'ipv6');
}

export const tlsVersion = () => oneOf(['TLSv1.2', 'TLSv1.3']);

/** An https:// URL (an authority host, an API endpoint). */
export function httpsUrl(what = 'an https:// URL') {
  return text(what).refine((value) => /^https:\/\/[^\s/]+/.test(value), { error: (iss) => `expected ${what}, got ${JSON.stringify(iss.input)}` });
}

/** An e-mail address (local@domain). */
export function address(what = 'an e-mail address') {
  return text(what).refine((value) => /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value), { error: (iss) => `expected ${what}, got ${JSON.stringify(iss.input)}` });
}

const SIZE_STEPS = [['GB', 1024 ** 3], ['MB', 1024 ** 2], ['KB', 1024]] as const;

/** `bytes` in the largest unit it is a whole multiple of, or one tenth of (1.5MB); null when none (2000). */
function inSizeUnits(bytes: number): { amount: number; unit: string } | null {
  for (const [unit, step] of SIZE_STEPS) {
    if (bytes >= step && (bytes * 10) % step === 0) return { amount: bytes / step, unit };
  }
  return null;
}

/**
 * A size as the config would say it, so that it reads back to the same bytes: 36700160 →
 * "35MB", 65536 → "64KB", 1572864 → "1.5MB"; a count of bytes that is no such multiple stays
 * the number it is (2000).
 */
export function sizeAsWritten(bytes: number): string | number {
  const units = inSizeUnits(bytes);
  return units ? `${units.amount}${units.unit}` : bytes;
}

/** A size for a sentence: "35 MB", "64 KB", "1.5 MB", "2000 bytes". */
export function humanSize(bytes: number): string {
  const units = inSizeUnits(bytes);
  return units ? `${units.amount} ${units.unit}` : `${bytes} bytes`;
}

const DURATION_STEPS = [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const;

/** Milliseconds as the config would say them: 432000000 → "5d", 90000 → "90s", 1500 → "1500ms". */
export function durationAsWritten(ms: number): string {
  for (const [unit, step] of DURATION_STEPS) if (ms >= step && ms % step === 0) return `${ms / step}${unit}`;
  return `${ms}ms`;
}
