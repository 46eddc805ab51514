// Reading a tenant from a YAML or JSON file, or from an object a test hands over.
//
// Failures are values: the sandbox keeps serving the last good tenant when an edited file does
// not parse, and the message says which file, which field and what is wrong with it.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { tenantSchema, type Tenant } from './schema.js';

export const TenantErrorCode = {
  unreadable: 'tenant_unreadable',
  syntax: 'tenant_syntax',
  invalid: 'tenant_invalid',
} as const;
export type TenantErrorCode = (typeof TenantErrorCode)[keyof typeof TenantErrorCode];

export interface TenantError {
  readonly code: TenantErrorCode;
  readonly message: string;
}

export type TenantLoadResult = { ok: true; tenant: Tenant } | { ok: false; error: TenantError };

/**
 * Validates a tenant given as a plain object. `baseDir` is where relative `pemFile` paths start.
 * `source` names the input in messages ("tenant file ./x.yaml", "PUT /sandbox/api/tenant").
 */
export function parseTenant(input: unknown, source = 'tenant', baseDir = process.cwd()): TenantLoadResult {
  const parsed = tenantSchema.safeParse(input);
  if (!parsed.success) {
    return { ok: false, error: { code: TenantErrorCode.invalid, message: `${source} is not a valid tenant:\n${z.prettifyError(parsed.error)}` } };
  }
  const tenant = parsed.data;
  for (const app of tenant.apps) {
    for (const cert of app.certificates) {
      if (cert.pem !== undefined || cert.pemFile === undefined) continue;
      const path = resolve(baseDir, cert.pemFile);
      try {
        cert.pem = readFileSync(path, 'utf8');
      } catch (e) {
        return { ok: false, error: { code: TenantErrorCode.unreadable, message: `${source}: certificate of app ${app.appId}: cannot read ${path}: ${(e as Error).message}` } };
      }
    }
  }
  return { ok: true, tenant };
}

/** Reads and validates a tenant file (YAML, or JSON which is YAML too). */
export function loadTenantFile(path: string): TenantLoadResult {
  const source = `tenant file ${path}`;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    return { ok: false, error: { code: TenantErrorCode.unreadable, message: `cannot read ${source}: ${(e as Error).message}` } };
  }
  let data: unknown;
  try {
    data = parseYaml(text, { prettyErrors: true });
  } catch (e) {
    return { ok: false, error: { code: TenantErrorCode.syntax, message: `${source} does not parse: ${(e as Error).message}` } };
  }
  return parseTenant(data, source, dirname(resolve(path)));
}
