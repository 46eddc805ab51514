/**
 * --store postgres and --nodes N: the throwaway PostgreSQL server the relay nodes share
 * (bench/postgres-server.ts, fsync on), a fresh database for each run, and the runs
 * themselves — with --nodes N > 1, the same load through one node and then through N, so
 * the report can put them side by side. The server's CPU is counted from its processes
 * (the postmaster and every backend) in /proc.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { startThrowawayPostgres, type ThrowawayPostgres } from './postgres-server.js';
import { removeOnCleanup } from './processes.js';
import type { BenchOptions } from './relay.js';
import { fileSystem, type RunShape } from './stack.js';

export interface StoreRuns {
  shapes: RunShape[];
  /** Before each run: a fresh database for it (PostgreSQL); the shape to run. */
  prepare(shape: RunShape): Promise<RunShape>;
  /** The PostgreSQL server's processes now (empty for SQLite). */
  pids(): number[];
  stop(): Promise<void>;
}

/** Processes whose parent is `pid`, from /proc (PostgreSQL's backends are the postmaster's children). */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(join('/proc', entry, 'stat'), 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) children.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return children;
}

export async function storeRuns(opts: BenchOptions): Promise<StoreRuns> {
  const counts = opts.nodes > 1 ? [1, opts.nodes] : [opts.nodes];
  if (opts.store === 'sqlite') {
    return { shapes: [{ nodes: 1, storeUrl: null, storeText: '' }], prepare: async (s) => s, pids: () => [], stop: async () => undefined };
  }
  const server: ThrowawayPostgres = await startThrowawayPostgres();
  removeOnCleanup(server.dir);
  let run = 0;
  return {
    shapes: counts.map((nodes) => ({ nodes, storeUrl: '', storeText: '' })),
    async prepare(shape) {
      const database = `bench_${++run}_${shape.nodes}_nodes`;
      const admin = new pg.Client({ connectionString: server.url() });
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE ${database}`);
      } finally {
        await admin.end();
      }
      const storeText = `PostgreSQL (throwaway server of this machine's binaries, 127.0.0.1:${server.port}, fsync and synchronous_commit on, on ${fileSystem(server.dir)}), shared by ${shape.nodes} node${shape.nodes === 1 ? '' : 's'}; group commit, bodies in the database`;
      return { ...shape, storeUrl: server.url(database), storeText };
    },
    pids: () => [server.pid, ...childrenOf(server.pid)],
    stop: () => server.stop(),
  };
}
