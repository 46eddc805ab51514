/**
 * The store's PostgreSQL URL (store.url, the shorthand `store: postgres://…`, or
 * RELAY365_STORE_URL): its validation, how it is shown (the password masked like every
 * other secret: "postgres://relay365:S3c…@db.contoso.example/relay365"), and the
 * environment variable the issue names, which does not follow the double-underscore rule.
 */
import { z } from 'zod';
import type { EnvOverride } from './env.js';
import { maskSecret } from './secrets.js';

export const STORE_URL_VARIABLE = 'RELAY365_STORE_URL';
const SCHEMES = /^postgres(ql)?:\/\//i;

/** The URL with its password (in the user part or a password= parameter) masked. */
export function maskStoreUrl(url: string): string {
  const decode = (text: string) => {
    try {
      return decodeURIComponent(text);
    } catch {
      return text;
    }
  };
  return url
    .replace(/^([a-z][a-z0-9+.-]*:\/\/[^/:@?#]*:)([^@/?#]*)@/i, (_, head: string, password: string) => `${head}${maskSecret(decode(password))}@`)
    .replace(/([?&]password=)([^&#]*)/i, (_, head: string, password: string) => `${head}${maskSecret(decode(password))}`);
}

export function postgresUrl() {
  const example = 'postgres://relay365@db.contoso.example/relay365';
  return z
    .string({ error: (iss) => `expected a PostgreSQL URL such as "${example}", got ${JSON.stringify(iss.input)}` })
    .refine((value) => SCHEMES.test(value) && URL.canParse(value), {
      error: (iss) => `expected a PostgreSQL URL such as "${example}" (postgres:// or postgresql://), got "${maskStoreUrl(String(iss.input))}"`,
    });
}

/** sslmode values that make the connection fail rather than go on without TLS. */
const TLS_REQUIRED = new Set(['require', 'verify-ca', 'verify-full', 'no-verify']);

const isLocalHost = (host: string) => host === '' || host.startsWith('/') || host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);

/**
 * Why the store's connection may go unencrypted, or null: a host that is not this one (not
 * loopback, not a Unix socket) without an sslmode that requires TLS — none (PGSSLMODE from the
 * environment counts, as node-postgres reads it then), disable, allow or prefer (which, as
 * PostgreSQL defines them, go on in plain text when the server or someone in between declines
 * TLS). Only the host is named: the URL may carry the password.
 */
export function plaintextStoreWarning(url: string, env: NodeJS.ProcessEnv = {}): string | null {
  if (!URL.canParse(url)) return null;
  const parsed = new URL(url);
  const decode = (text: string) => {
    try {
      return decodeURIComponent(text);
    } catch {
      return text;
    }
  };
  const host = decode(parsed.searchParams.get('host') ?? (parsed.hostname || (env.PGHOST ?? ''))).replace(/^\[|\]$/g, '');
  if (isLocalHost(host)) return null;
  const ssl = parsed.searchParams.get('ssl');
  const mode = parsed.searchParams.get('sslmode') ?? (ssl === null ? (env.PGSSLMODE ?? null) : null);
  if (mode !== null ? TLS_REQUIRED.has(mode) : ssl === 'true' || ssl === '1') return null;
  const given = mode !== null ? `sslmode=${mode}` : ssl !== null ? `ssl=${ssl}` : 'no sslmode';
  return `store.url: the connection to PostgreSQL at ${host} does not require TLS (${given}): the database password and every message may cross the network unencrypted. Add sslmode=verify-full (with sslrootcert=<the server's CA file>) or sslmode=require to the URL`;
}

/** `store: postgres://…` is short for `store: { url: postgres://… }`. */
export const storeShorthand = (value: unknown) => (typeof value === 'string' ? { url: value } : value);

/** Expands the shorthand in what the admin wrote, so environment overrides of other store keys keep the URL. */
export function expandStoreShorthand(input: Record<string, unknown>): void {
  if (typeof input.store === 'string') input.store = storeShorthand(input.store);
}

/**
 * RELAY365_STORE_URL sets store.url (as RELAY365_STORE__URL would). It is taken out of the
 * environment the generic overrides see (there it would name a key "store_url") and applied here.
 */
export function splitStoreUrlVariable(env: NodeJS.ProcessEnv): { rest: NodeJS.ProcessEnv; apply(input: Record<string, unknown>): EnvOverride | null } {
  const { [STORE_URL_VARIABLE]: url, ...rest } = env;
  return {
    rest,
    apply(input) {
      if (url === undefined || url === '') return null;
      const current = storeShorthand(input.store);
      input.store = { ...(current && typeof current === 'object' && !Array.isArray(current) ? current : {}), url };
      return { variable: STORE_URL_VARIABLE, path: ['store', 'url'] };
    },
  };
}

/**
 * The JSON Schema of the store key shows both forms (a URL, or the keys), which zod cannot
 * derive from a preprocessed value: `override` for z.toJSONSchema rewrites that one node.
 */
export function storeJsonSchema(storeObject: z.ZodType) {
  return (ctx: { zodSchema: unknown; jsonSchema: Record<string, unknown> }) => {
    if (ctx.zodSchema !== storeObject) return;
    const object = { ...ctx.jsonSchema };
    for (const key of Object.keys(ctx.jsonSchema)) delete ctx.jsonSchema[key];
    ctx.jsonSchema.oneOf = [
      { type: 'string', pattern: '^postgres(ql)?://', description: 'Short for store.url: the PostgreSQL database several nodes share.' },
      object,
    ];
  };
}
