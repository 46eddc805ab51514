/**
 * A throwaway PostgreSQL server for the tests (test/helpers/postgres-global.ts) and the
 * bench (--store postgres): the machine's own PostgreSQL binaries, a fresh cluster in a
 * temporary folder, listening on 127.0.0.1 on a free port (and a Unix socket in that
 * folder), fsync on — durability is what is being measured and tested — and removed
 * when stopped.
 *
 * PostgreSQL refuses to run as root. Run as root (CI, containers), the cluster belongs to
 * the `postgres` system user and the server runs as that user; otherwise it runs as the
 * current user. The binaries are found in $RELAY365_PG_BIN, then `pg_config --bindir`,
 * then /usr/lib/postgresql/<newest>/bin, then $PATH.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export interface ThrowawayPostgres {
  host: string;
  /** The postmaster's process id (its backends are its children). */
  pid: number;
  port: number;
  /** The server's folder (data and socket), removed by stop(). */
  dir: string;
  /** A URL for `database` as the superuser (no password: trust authentication on loopback). */
  url(database?: string): string;
  stop(): Promise<void>;
}

export class PostgresNotFound extends Error {}

const BINARIES = ['initdb', 'postgres'] as const;
const hasBinaries = (dir: string) => BINARIES.every((b) => existsSync(join(dir, b)));

/** The folder holding initdb and postgres, or a PostgresNotFound saying where it looked and what to install. */
export function findPostgresBinaries(env: NodeJS.ProcessEnv = process.env): string {
  const tried: string[] = [];
  const candidates: (() => string | null)[] = [
    () => env.RELAY365_PG_BIN ?? null,
    () => {
      try {
        return execFileSync('pg_config', ['--bindir'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
      } catch {
        return null;
      }
    },
    () => {
      const root = '/usr/lib/postgresql';
      if (!existsSync(root)) return null;
      const versions = readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
      return versions.map((v) => join(root, v, 'bin')).find(hasBinaries) ?? null;
    },
    () => {
      for (const dir of (env.PATH ?? '').split(':').filter(Boolean)) {
        if (existsSync(join(dir, 'initdb'))) return dirname(realpathSync(join(dir, 'initdb')));
      }
      return null;
    },
  ];
  for (const candidate of candidates) {
    const dir = candidate();
    if (!dir) continue;
    if (hasBinaries(dir)) return dir;
    tried.push(dir);
  }
  throw new PostgresNotFound(
    `PostgreSQL's server binaries (initdb, postgres) were not found${tried.length ? ` (looked in ${tried.join(', ')})` : ''}. ` +
      'The tests start a throwaway PostgreSQL of their own: install the server (Debian/Ubuntu: apt-get install postgresql; ' +
      'macOS: brew install postgresql), or point RELAY365_PG_BIN at the folder that holds initdb and postgres.',
  );
}

/** uid and gid of the `postgres` user, when running as root (PostgreSQL will not run as root). */
function serverUser(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  const [, , uid, gid] = line?.split(':') ?? [];
  if (!uid || !gid) throw new PostgresNotFound('running as root, and there is no "postgres" user to run PostgreSQL as (PostgreSQL refuses to run as root); create one, or run the tests as another user');
  return { uid: Number(uid), gid: Number(gid) };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function run(command: string, args: string[], user: { uid: number; gid: number } | null): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH, LC_ALL: 'C', TZ: 'UTC' }, ...(user ?? {}) });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(output) : reject(new Error(`${command} exited with ${code}: ${output.trim()}`))));
  });
}

/** Starts the server; waits until it accepts connections. */
export async function startThrowawayPostgres(options: { maxConnections?: number } = {}): Promise<ThrowawayPostgres> {
  const bin = findPostgresBinaries();
  const user = serverUser();
  const dir = mkdtempSync(join(tmpdir(), 'relay365-pg-'));
  if (user) chownSync(dir, user.uid, user.gid);
  const data = join(dir, 'data');
  try {
    // --no-sync: the cluster is thrown away; the server below runs with fsync on.
    await run(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync', '--no-instructions'], user);
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      try {
        const child = await startServer(bin, data, dir, port, options.maxConnections ?? 300, user);
        return running(child, dir, port);
      } catch (err) {
        // Another process took the port between our look and the server's bind: try another.
        if (attempt >= 5 || !/could not (bind|create listen)/i.test((err as Error).message)) throw err;
      }
    }
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

function startServer(bin: string, data: string, socketDir: string, port: number, maxConnections: number, user: { uid: number; gid: number } | null): Promise<ChildProcess> {
  const args = ['-D', data, '-h', '127.0.0.1', '-p', String(port), '-k', socketDir, '-c', 'fsync=on', '-c', 'synchronous_commit=on', '-c', `max_connections=${maxConnections}`, '-c', 'log_min_messages=warning', '-c', 'logging_collector=off'];
  const child = spawn(join(bin, 'postgres'), args, { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: process.env.PATH, LC_ALL: 'C', TZ: 'UTC' }, ...(user ?? {}) });
  return new Promise((resolve, reject) => {
    let log = '';
    const timer = setTimeout(() => fail(new Error(`PostgreSQL did not start within 30 s: ${log.trim()}`)), 30_000);
    function fail(err: Error) {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(err);
    }
    child.once('error', fail);
    child.once('exit', (code) => fail(new Error(`PostgreSQL exited (${code}) while starting: ${log.trim()}`)));
    child.stderr?.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      if (/ready to accept connections/.test(log)) {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        child.stderr?.removeAllListeners('data');
        child.stderr?.resume(); // keep draining what it logs later
        resolve(child);
      }
    });
  });
}

function running(child: ChildProcess, dir: string, port: number): ThrowawayPostgres {
  // Never left behind: if this process exits without stop(), the server goes with it.
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  return {
    host: '127.0.0.1',
    pid: child.pid as number,
    port,
    dir,
    url: (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`,
    async stop() {
      process.off('exit', kill);
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGINT'); // fast shutdown: disconnect clients, checkpoint, exit
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
