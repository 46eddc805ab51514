// The live tenant: read from its file, re-read when the file changes, replaceable through the API.
//
// Every endpoint asks `store.current` when it needs the tenant, so an admin (or a test) who edits
// the file or PUTs a new tenant sees the effect on the next request, the way a change in the
// Microsoft 365 admin centre applies to the next sign-in. The file's mtime is checked on each
// access (one stat call), which is cheaper than a watcher and cannot miss an edit.
import { EventEmitter } from 'node:events';
import { statSync } from 'node:fs';
import { loadTenantFile, parseTenant, type TenantError, type TenantLoadResult } from './load.js';
import type { Tenant } from './schema.js';

export type TenantChangeSource = 'file' | 'api' | 'code';

export class TenantStore {
  private tenant: Tenant;
  private fileMtimeMs: number | undefined;
  private readonly changes = new EventEmitter();
  /** The last reload of the file that failed; the previous tenant stays in force. */
  lastError: TenantError | undefined;

  private constructor(tenant: Tenant, readonly file: string | undefined) {
    this.tenant = tenant;
    this.fileMtimeMs = file === undefined ? undefined : mtimeOf(file);
  }

  /** Opens a store backed by a tenant file. */
  static fromFile(path: string): { ok: true; store: TenantStore } | { ok: false; error: TenantError } {
    const loaded = loadTenantFile(path);
    return loaded.ok ? { ok: true, store: new TenantStore(loaded.tenant, path) } : loaded;
  }

  /** Opens a store holding a tenant given as an object (tests). */
  static fromObject(input: unknown): { ok: true; store: TenantStore } | { ok: false; error: TenantError } {
    const parsed = parseTenant(input, 'tenant object');
    return parsed.ok ? { ok: true, store: new TenantStore(parsed.tenant, undefined) } : parsed;
  }

  /** The tenant in force now; re-reads the file first if it changed since the last look. */
  get current(): Tenant {
    if (this.file !== undefined) {
      const mtime = mtimeOf(this.file);
      if (mtime !== undefined && mtime !== this.fileMtimeMs) {
        this.fileMtimeMs = mtime;
        const loaded = loadTenantFile(this.file);
        if (loaded.ok) this.set(loaded.tenant, 'file');
        else this.lastError = loaded.error;
      }
    }
    return this.tenant;
  }

  /** Replaces the whole tenant. The file, if any, is left alone: its next edit wins again. */
  replace(input: unknown, source: string = 'replacement tenant'): TenantLoadResult {
    const parsed = parseTenant(input, source);
    if (parsed.ok) this.set(parsed.tenant, 'api');
    return parsed;
  }

  /** Applies a JSON merge patch (RFC 7396) to the current tenant: objects merge, arrays and values replace. */
  patch(patch: unknown, source: string = 'tenant patch'): TenantLoadResult {
    return this.replace(mergePatch(structuredClone(this.current), patch), source);
  }

  /** Edits a copy of the current tenant in code and puts it in force if it is still valid. */
  update(edit: (draft: Tenant) => void, source: string = 'tenant update'): TenantLoadResult {
    const draft = structuredClone(this.current);
    edit(draft);
    return this.replace(draft, source);
  }

  /** Calls `listener` after every change; returns the function that stops it. */
  onChange(listener: (tenant: Tenant, source: TenantChangeSource) => void): () => void {
    this.changes.on('change', listener);
    return () => this.changes.off('change', listener);
  }

  private set(tenant: Tenant, source: TenantChangeSource): void {
    this.tenant = tenant;
    this.lastError = undefined;
    this.changes.emit('change', tenant, source);
  }
}

function mtimeOf(path: string): number | undefined {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined; // a file being rewritten may briefly not exist: keep the tenant we have
  }
}

function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const result: Record<string, unknown> =
    target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [key, value] of Object.entries(patch as Record<string, unknown>)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}
