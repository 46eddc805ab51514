/**
 * Choosing the PostgreSQL store in the config: `store: postgres://…` for short, store.url,
 * or RELAY365_STORE_URL; existing SQLite configs unchanged; a bad URL explained; and the
 * database password never shown — not by `config show`, not in an error, not in the logs.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, configJsonSchema, loadConfig } from '../../src/config/load.js';
import { CLI, runCli, spawnRelay, tempDir, writeConfig, type ChildRelay } from '../helpers/relay.js';
import { freshDatabase } from '../helpers/postgres.js';

function load(yaml: string, env: NodeJS.ProcessEnv = {}) {
  const dir = tempDir();
  writeFileSync(join(dir, 'relay365.yaml'), yaml);
  return { dir, ...loadConfig({ path: 'relay365.yaml', cwd: dir, env }) };
}

function problems(yaml: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    load(yaml, env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('the config was accepted');
}

async function cli(dir: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const { stdout } = await promisify(execFile)(process.execPath, [CLI, '--config', join(dir, 'relay365.yaml'), ...args], { env: { PATH: process.env.PATH, ...env } });
  return stdout;
}

let relay: ChildRelay | undefined;
afterEach(async () => {
  if (relay && relay.child.exitCode === null) relay.child.kill('SIGTERM');
  await relay?.exited;
  relay = undefined;
});

describe('choosing the PostgreSQL store', () => {
  it('takes store: postgres://… as short for store.url, and leaves SQLite the default', () => {
    const { config, dir } = load('store: postgres://relay365@db.contoso.example/relay365\n');
    expect(config.store).toMatchObject({ url: 'postgres://relay365@db.contoso.example/relay365', connections: 10, inlineLimit: 256 * 1024 });
    expect(config.store.path).toBe(join(dir, 'data/relay365.db'));
    expect(load('store:\n  path: queue.db\n').config.store.url).toBeUndefined();
    expect(load('').config.store.url).toBeUndefined();
  });

  it('takes the URL from RELAY365_STORE_URL, and the password from RELAY365_STORE__PASSWORD beside a shorthand', () => {
    expect(load('', { RELAY365_STORE_URL: 'postgresql://relay365@db/relay365' }).config.store.url).toBe('postgresql://relay365@db/relay365');
    const { config } = load('store: postgres://relay365@db/relay365\n', { RELAY365_STORE__PASSWORD: 'S3cret-db-pw', RELAY365_STORE__CONNECTIONS: '4' });
    expect(config.store).toMatchObject({ url: 'postgres://relay365@db/relay365', password: 'S3cret-db-pw', connections: 4 });
  });

  it('explains a URL that is not PostgreSQL, without repeating its password', () => {
    expect(problems('store: mysql://root:S3cret-db-pw@db/relay\n')).toEqual([
      'relay365.yaml: store.url: expected a PostgreSQL URL such as "postgres://relay365@db.contoso.example/relay365" (postgres:// or postgresql://), got "mysql://root:…@db/relay"',
    ]);
    expect(problems('store:\n  ulr: postgres://db/relay365\n')).toEqual(['relay365.yaml: store: unknown key "ulr" (did you mean "url"?)']);
    expect(problems('', { RELAY365_STORE_URL: 'db.contoso.example' })).toEqual([
      'environment RELAY365_STORE_URL: store.url: expected a PostgreSQL URL such as "postgres://relay365@db.contoso.example/relay365" (postgres:// or postgresql://), got "db.contoso.example"',
    ]);
  });

  it('offers both forms to editors through the JSON Schema', () => {
    const store = (configJsonSchema() as { properties: { store: { oneOf: { type: string; properties?: Record<string, unknown> }[] } } }).properties.store;
    expect(store.oneOf.map((o) => o.type)).toEqual(['string', 'object']);
    expect(Object.keys(store.oneOf[1]?.properties ?? {})).toEqual(['url', 'password', 'connections', 'path', 'spool', 'inlineLimit', 'retention']);
  });

  it('masks the database password in config show, with what set it', async () => {
    const dir = tempDir();
    writeConfig(dir, { store: 'postgres://relay365:S3cret-db-pw@db.contoso.example/relay365?sslmode=require' });
    const shown = await cli(dir, ['config', 'show']);
    expect(shown).toContain('url: postgres://relay365:…@db.contoso.example/relay365?sslmode=require # set');
    expect(shown).not.toContain('S3cret-db-pw');
    const fromEnvironment = await cli(dir, ['config', 'show', '--json'], { RELAY365_STORE_URL: 'postgres://u@db/r?password=An0ther-pw', RELAY365_STORE__PASSWORD: 'Th1rd-pw' });
    expect(JSON.parse(fromEnvironment).store).toMatchObject({ url: 'postgres://u@db/r?password=…', password: '…' });
  });

  it('runs on PostgreSQL and never logs the password in the URL', async () => {
    const url = new URL(await freshDatabase());
    url.password = 'S3cret-db-pw'; // the throwaway server trusts loopback: any password goes
    const dir = tempDir();
    writeConfig(dir, { node: { name: 'node-p' }, store: url.toString(), listeners: { default: { host: '127.0.0.1', port: 0, tls: { mode: 'none' } } } });
    relay = await spawnRelay(dir);
    const starting = relay.logs.find((l) => l.msg === 'relay365 starting');
    expect(starting?.store).toBe(`PostgreSQL postgres://postgres:…@127.0.0.1:${url.port}${url.pathname}`);
    expect(JSON.stringify(relay.logs)).not.toContain('S3cret-db-pw');
    const nodes = await cli(dir, ['nodes']);
    expect(nodes).toMatch(/^store: PostgreSQL postgres:\/\/postgres:…@127\.0\.0\.1/);
    expect(nodes).toMatch(/node-p\s+running/);
    expect(nodes).not.toContain('S3cret-db-pw');
  });
});

describe('a store reached without TLS', () => {
  const warningsFor = (url: string, env: NodeJS.ProcessEnv = {}) => load(`store: "${url}"\n`, env).warnings;
  const warning = (host: string, given: string) =>
    `store.url: the connection to PostgreSQL at ${host} does not require TLS (${given}): the database password and every message may cross the network unencrypted. Add sslmode=verify-full (with sslrootcert=<the server's CA file>) or sslmode=require to the URL`;

  it('is warned about for another host without an sslmode that requires TLS', () => {
    expect(warningsFor('postgres://relay365@db.contoso.example/relay365')).toEqual([warning('db.contoso.example', 'no sslmode')]);
    for (const mode of ['disable', 'allow', 'prefer']) expect(warningsFor(`postgres://relay365@10.1.2.3:5432/relay365?sslmode=${mode}`)).toEqual([warning('10.1.2.3', `sslmode=${mode}`)]);
    expect(warningsFor('postgresql://relay365@[2001:db8::5]/relay365?ssl=false')).toEqual([warning('2001:db8::5', 'ssl=false')]);
    expect(warningsFor('postgres://relay365@db.contoso.example/relay365', { PGSSLMODE: 'prefer' })).toEqual([warning('db.contoso.example', 'sslmode=prefer')]);
  });

  it('is not warned about with TLS required, or on this host (loopback, a Unix socket)', () => {
    for (const url of [
      'postgres://relay365@db.contoso.example/relay365?sslmode=verify-full&sslrootcert=/etc/relay365/db-ca.pem',
      'postgres://relay365@db.contoso.example/relay365?sslmode=require',
      'postgres://relay365@db.contoso.example/relay365?ssl=true',
      'postgres://relay365@127.0.0.1/relay365',
      'postgres://relay365@localhost:5433/relay365?sslmode=disable',
      'postgres://relay365@[::1]/relay365',
      'postgres:///relay365?host=/var/run/postgresql',
      'postgres:///relay365',
      'postgres://relay365@%2Fvar%2Frun%2Fpostgresql/relay365',
    ])
      expect(warningsFor(url), url).toEqual([]);
    expect(warningsFor('postgres://relay365@db.contoso.example/relay365', { PGSSLMODE: 'verify-full' })).toEqual([]);
  });

  it('config check prints the warning (never the password) and still calls the config valid', async () => {
    const dir = tempDir();
    writeConfig(dir, { store: 'postgres://relay365:S3cret-db-pw@db.contoso.example/relay365' });
    const check = await runCli(dir, ['--config', join(dir, 'relay365.yaml'), 'config', 'check']);
    expect(check.code).toBe(0);
    expect(check.stderr).toContain(`warning: ${warning('db.contoso.example', 'no sslmode')}`);
    expect(check.stderr).not.toContain('S3cret-db-pw');
  });
});
