/**
 * Which relay a command talks to, and what a second copy says: the built CLI in child
 * processes. A command finds the config the way `serve` does and names it and its store; a
 * command that only looks never creates a store; a second `serve` on the same data directory,
 * or on a port another program holds, stops with one plain line before anything starts.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { openStore } from '../../src/queue/open.js';
import { freshDatabase, openPostgresStore } from '../helpers/postgres.js';
import { runCli, spawnRelay, tempDir, writeConfig, type ChildRelay } from '../helpers/relay.js';
import { until } from '../helpers/sink.js';

const cli = (dir: string, args: string[], env: NodeJS.ProcessEnv = {}) => runCli(dir, args, { env });

let relay: ChildRelay | undefined;
let holder: Server | undefined;
afterEach(async () => {
  relay?.child.kill('SIGKILL');
  await new Promise((done) => (holder ? holder.close(done) : done(undefined)));
  relay = holder = undefined;
});

/** Every command that only looks at the store. */
const READS = [
  ['queue', 'list'],
  ['queue', 'show', '0000000000000000aa'],
  ['queue', 'retry', '0000000000000000aa'],
  ['auth', 'status'],
  ['nodes'],
  ['admin', 'token', 'list'],
];

/** A store made by the relay's own code, as a first start leaves it. */
async function storeFor(file: string): Promise<void> {
  const store = await openStore(loadConfig({ path: file, env: {} }).config);
  await store.close();
}

describe('which relay a command talks to', () => {
  it('a read command where relay365 never ran says so in one line, exits 66, and creates nothing', async () => {
    const dir = tempDir();
    for (const args of READS) {
      const res = await cli(dir, args);
      expect(res.code, args.join(' ')).toBe(66);
      expect(res.stdout, args.join(' ')).toBe('');
      expect(res.stderr, args.join(' ')).toBe(
        `relay365: no store at ${join(dir, 'data', 'relay365.db')} (config: none, defaults): relay365 has not run here — start it with npm start (relay365 serve), or pass --config\n`,
      );
    }
    // route list still lists the config's routes (they need no store), and creates none either
    const routes = await cli(dir, ['route', 'list']);
    expect(routes.code).toBe(0);
    expect(routes.stderr).toContain(`no store at ${join(dir, 'data', 'relay365.db')} yet: relay365 has not run here`);
    expect(existsSync(join(dir, 'data'))).toBe(false);

    writeConfig(dir, { store: { path: 'queue/relay.db' } });
    const named = await cli(dir, ['queue', 'list']);
    expect(named.stderr).toBe(`relay365: no store at ${join(dir, 'queue', 'relay.db')} (config: ${join(dir, 'relay365.yaml')}): relay365 has not run here — start it with npm start (relay365 serve), or pass --config\n`);
    expect(existsSync(join(dir, 'queue'))).toBe(false);
  });

  it('finds the config by RELAY365_CONFIG from any folder, and names config and store on stderr, never in --json', async () => {
    const dir = tempDir();
    const file = writeConfig(dir, { routes: { keep: { transport: 'capture' } } });
    await storeFor(file);
    const elsewhere = tempDir();
    const list = await cli(elsewhere, ['queue', 'list'], { RELAY365_CONFIG: file });
    expect(list.code).toBe(0);
    expect(list.stdout).toBe('no messages\n');
    expect(list.stderr).toBe(`relay365: config ${file}; store SQLite ${join(dir, 'data', 'relay365.db')}\n`);
    const json = await cli(elsewhere, ['route', 'list', '--json'], { RELAY365_CONFIG: file });
    expect(JSON.parse(json.stdout)).toEqual([expect.objectContaining({ name: 'keep' })]);
    expect(json.stderr).toBe(list.stderr);
    // ./relay365.yaml is found from its folder, --config from anywhere: the same store.
    expect((await cli(dir, ['nodes'])).stderr).toBe(list.stderr);
    expect((await cli(elsewhere, ['--config', file, 'admin', 'token', 'list'])).stderr).toBe(list.stderr);
    expect(existsSync(join(elsewhere, 'data'))).toBe(false);
  });

  it('a PostgreSQL store without relay365 tables is not migrated by a read command', async () => {
    const url = await freshDatabase('cli');
    const dir = tempDir();
    const file = writeConfig(dir, { store: { url } });
    const res = await cli(dir, ['queue', 'list']);
    expect(res.code).toBe(66);
    expect(res.stderr).toMatch(/^relay365: the database postgres:\/\/.*\/cli_\w+ has no relay365 tables \(config: .*relay365\.yaml\): relay365 has not run on it — start it with npm start \(relay365 serve\), or pass --config\n$/);
    expect((await cli(dir, ['nodes'])).code).toBe(66); // still none: the first read created no tables
    await storeFor(file);
    const after = await cli(dir, ['queue', 'list']);
    expect(after.code).toBe(0);
    expect(after.stderr).toMatch(/^relay365: config .*relay365\.yaml; store PostgreSQL postgres:\/\//);
  });
});

describe('a second copy of serve', () => {
  it('says "already running here (pid N)" in one line, before the demo sandbox starts; the pid file goes at shutdown', async () => {
    const dir = tempDir();
    writeConfig(dir, {}); // no routes: a first start runs the demo with its sandbox
    relay = await spawnRelay(dir);
    const pidFile = join(dir, 'data', 'relay365.pid');
    expect(readFileSync(pidFile, 'utf8')).toBe(`${relay.child.pid}\n`);
    const second = await cli(dir, ['serve']);
    expect(second.code).toBe(69);
    expect(second.stderr).toBe(`relay365 is already running here (pid ${relay.child.pid})\n`);
    expect(second.stdout).toBe('');
    relay.child.kill('SIGTERM');
    expect((await relay.exited).code).toBe(0);
    expect(existsSync(pidFile)).toBe(false);
  });

  it('takes over the pid file of a relay that died', async () => {
    const dir = tempDir();
    writeConfig(dir, { routes: { keep: { transport: 'capture' } } });
    mkdirSync(join(dir, 'data'));
    const gone = spawnSync(process.execPath, ['-e', '']).pid; // a pid whose process has ended, as a crash leaves it
    writeFileSync(join(dir, 'data', 'relay365.pid'), `${gone}\n`);
    relay = await spawnRelay(dir);
    await until(() => readFileSync(join(dir, 'data', 'relay365.pid'), 'utf8') === `${relay?.child.pid}\n`, 5000, () => 'pid file not taken over');
  });

  it('says in one line when its data directory cannot hold the pid file', async () => {
    const dir = tempDir();
    writeConfig(dir, { routes: { keep: { transport: 'capture' } } });
    writeFileSync(join(dir, 'data'), 'a file where the data directory belongs\n');
    const res = await cli(dir, ['serve']);
    expect(res.code).toBe(73);
    expect(res.stderr).toMatch(new RegExp(`^relay365: cannot write the pid file in ${join(dir, 'data')} \\((EEXIST|ENOTDIR)\\): relay365 needs its data directory, the folder of store\\.path, writable\n$`));
  });

  it('gives the node.name advice only to a node whose name a live node on another host uses on the same PostgreSQL store', async () => {
    const url = await freshDatabase('cli');
    const store = await openPostgresStore(url, { node: 'test' });
    const now = Date.now();
    await store.heartbeat({ name: 'mx', host: 'relay-b.contoso.example', pid: 4242, version: '0.1.0', startedAt: now }, now);
    await store.close();
    const dir = tempDir();
    writeConfig(dir, { node: { name: 'mx' }, store: url, routes: { keep: { transport: 'capture' } } });
    const other = await cli(dir, ['serve']);
    expect(other.code).toBe(69);
    expect(other.stderr).toMatch(/^relay365: another relay365 node named "mx" is running \(on relay-b\.contoso\.example, pid 4242, last heartbeat \d+ s ago\): every node sharing a store needs its own node\.name; set node\.name \(or RELAY365_NODE__NAME\) on this one\n$/);

    writeConfig(dir, { node: { name: 'here' }, store: url, routes: { keep: { transport: 'capture' } } });
    relay = await spawnRelay(dir);
    const elsewhere = tempDir(); // another config, its own data directory, the same store and name
    writeConfig(elsewhere, { node: { name: 'here' }, store: url, routes: { keep: { transport: 'capture' } } });
    const same = await cli(elsewhere, ['serve']);
    expect(same.code).toBe(69);
    expect(same.stderr).toBe(`relay365: relay365 is already running on this host as node "here" (pid ${relay.child.pid}) on the same store: stop it, or give this one its own node.name (or RELAY365_NODE__NAME)\n`);
  });

  it('names a port in use and its key, for a listener and for the console, without starting the sandbox', async () => {
    holder = createServer();
    await new Promise<void>((done) => holder?.listen({ host: '127.0.0.1', port: 0 }, done));
    const port = (holder.address() as { port: number }).port;
    const dir = tempDir();
    writeConfig(dir, { listeners: { default: { host: '127.0.0.1', port } } });
    const smtp = await cli(dir, ['serve']);
    expect(smtp.code).toBe(69);
    expect(smtp.stderr).toBe(`relay365: port ${port} is in use (listeners.default.port)\n`);
    expect(smtp.stdout).toBe('');
    expect(existsSync(join(dir, 'data', 'sandbox'))).toBe(false);
    expect(existsSync(join(dir, 'data', 'relay365.pid'))).toBe(false);

    writeConfig(dir, { admin: { host: '127.0.0.1', port } });
    const admin = await cli(dir, ['serve']);
    expect(admin.code).toBe(69);
    expect(admin.stderr).toBe(`relay365: port ${port} is in use (admin.port)\n`);
  });
});
