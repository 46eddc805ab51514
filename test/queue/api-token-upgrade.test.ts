/**
 * Upgrading a store whose API tokens were made before tokens had owners, roles and expiries:
 * they keep the admin role they had, belong to "cli:unrecorded" (nobody knows who made them),
 * and expire 90 days after the upgrade, so none lives forever — on SQLite and PostgreSQL alike.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { expect, it } from 'vitest';
import { MIGRATIONS as SQLITE_MIGRATIONS } from '../../src/queue/sqlite/migrations.js';
import { MIGRATIONS as POSTGRES_MIGRATIONS } from '../../src/queue/postgres/migrations.js';
import { SqliteStore } from '../../src/queue/sqlite/store.js';
import { freshDatabase, openPostgresStore } from '../helpers/postgres.js';
import { tempDir } from '../helpers/relay.js';

const DAY = 86_400_000;
/** The schema just before API tokens got owners. */
const before = (migrations: string[]) => migrations.slice(0, migrations.findIndex((m) => m.includes('ADD COLUMN owner')));
const OLD_TOKEN = `INSERT INTO api_tokens (id, name, hash, created_at) VALUES ('t0', 'legacy', '${'0'.repeat(64)}', 1000)`;

function expectUpgraded(tokens: { name: string; owner: string; role: string; expiresAt: number }[], start: number, end: number) {
  expect(tokens).toMatchObject([{ name: 'legacy', owner: 'cli:unrecorded', role: 'admin' }]);
  expect(tokens[0]!.expiresAt).toBeGreaterThanOrEqual(Math.floor(start / 1000) * 1000 + 90 * DAY);
  expect(tokens[0]!.expiresAt).toBeLessThanOrEqual(end + 90 * DAY);
}

it('gives SQLite API tokens from before owners the admin role, owner cli:unrecorded and 90 days', async () => {
  const dir = tempDir();
  const path = join(dir, 'relay365.db');
  const db = new Database(path);
  db.exec('CREATE TABLE schema_version (version INTEGER NOT NULL)');
  before(SQLITE_MIGRATIONS).forEach((sql, i) => {
    db.exec(sql);
    db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(i + 1);
  });
  db.exec(OLD_TOKEN);
  db.close();
  const start = Date.now();
  const store = new SqliteStore({ path, spool: join(dir, 'spool'), inlineLimit: 1024 });
  try {
    expectUpgraded(await store.apiTokens(), start, Date.now());
  } finally {
    await store.close();
  }
});

it('gives PostgreSQL API tokens from before owners the admin role, owner cli:unrecorded and 90 days', async () => {
  const url = await freshDatabase();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('CREATE TABLE schema_version (version integer NOT NULL)');
    for (const [i, sql] of before(POSTGRES_MIGRATIONS).entries()) {
      await client.query(sql);
      await client.query('INSERT INTO schema_version (version) VALUES ($1)', [i + 1]);
    }
    await client.query(OLD_TOKEN);
  } finally {
    await client.end();
  }
  const start = Date.now();
  const store = await openPostgresStore(url);
  try {
    expectUpgraded(await store.apiTokens(), start, Date.now());
  } finally {
    await store.close();
  }
});
