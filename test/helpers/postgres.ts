/**
 * The test run's PostgreSQL (started once by postgres-global.ts): a fresh database for each
 * test or cluster, so tests never see each other's queues, and PostgreSQL stores on it.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { PostgresStore } from '../../src/queue/postgres/store.js';

/** Creates an empty database and returns its URL. */
export async function freshDatabase(prefix = 't'): Promise<string> {
  const base = inject('postgresBase');
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: `${base}postgres` });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return `${base}${name}`;
}

export function openPostgresStore(url: string, options: { node?: string; connections?: number; inlineLimit?: number } = {}): Promise<PostgresStore> {
  return PostgresStore.open({ url, connections: options.connections ?? 5, inlineLimit: options.inlineLimit ?? 256 * 1024, ...(options.node ? { node: options.node } : {}) });
}
