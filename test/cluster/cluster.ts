/**
 * Several relay365 nodes as separate processes (the built CLI, `relay365 serve`), each with
 * its own folder, config and loopback port, all on one PostgreSQL database: a cluster as a
 * load balancer would see it. Helpers to submit mail round-robin and to read the shared store.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import nodemailer from 'nodemailer';
import { CLI, spawnRelay, tempDir, writeConfig, type ChildRelay } from '../helpers/relay.js';
import { freshDatabase, openPostgresStore } from '../helpers/postgres.js';
import { registerSecrets } from '../secrets/leak-sink.js';
import type { PostgresStore } from '../../src/queue/postgres/store.js';

export interface ClusterNode {
  name: string;
  dir: string;
  relay: ChildRelay;
}

export interface Cluster {
  url: string;
  nodes: ClusterNode[];
  /** The shared store, as the test reads it. */
  store: PostgresStore;
  /** Submits `count` messages, message i to node i % nodes (the load balancer's round-robin). */
  submit(count: number, message: (i: number) => { from: string; to: string; raw: string }, nodes?: ClusterNode[]): Promise<void>;
  /** `relay365 <args>` against the cluster's store, from the first node's folder. */
  cli(args: string[]): Promise<string>;
  stop(): Promise<void>;
}

/** Starts `count` nodes named node-a, node-b… with `config(name)` merged into each one's config. */
export async function startCluster(count: number, config: (name: string) => Record<string, unknown>): Promise<Cluster> {
  const url = await freshDatabase('cluster');
  // Every node of a cluster has the same master key (README, "Several nodes"): it opens the
  // sign-ins and access tokens the others sealed in the store.
  const masterKey = randomBytes(32).toString('hex');
  registerSecrets(masterKey);
  const nodes: ClusterNode[] = [];
  const stopAll = async () => {
    for (const node of nodes) if (node.relay.child.exitCode === null && node.relay.child.signalCode === null) node.relay.child.kill('SIGTERM');
    await Promise.all(nodes.map((n) => n.relay.exited));
  };
  try {
    // One after the other: each registers itself in the store before the next starts.
    for (let i = 0; i < count; i++) {
      const name = `node-${String.fromCharCode(97 + i)}`;
      const dir = tempDir(`relay365-${name}-`);
      writeConfig(dir, {
        node: { name },
        store: url,
        listeners: { default: { host: '127.0.0.1', port: 0, tls: { mode: 'none' } } },
        ...config(name),
      });
      nodes.push({ name, dir, relay: await spawnRelay(dir, { RELAY365_MASTER_KEY: masterKey }) });
    }
  } catch (err) {
    await stopAll();
    throw err;
  }
  const store = await openPostgresStore(url, { node: 'test' });
  return {
    url,
    nodes,
    store,
    async submit(total, message, to = nodes) {
      const clients = to.map((n) => nodemailer.createTransport({ host: '127.0.0.1', port: n.relay.port, pool: true, maxConnections: 5, maxMessages: Infinity, logger: false }));
      try {
        await Promise.all(
          Array.from({ length: total }, (_, i) => {
            const m = message(i);
            return clients[i % clients.length]!.sendMail({ envelope: { from: m.from, to: [m.to] }, raw: m.raw });
          }),
        );
      } finally {
        for (const c of clients) c.close();
      }
    },
    async cli(args) {
      const { stdout } = await promisify(execFile)(process.execPath, [CLI, '--config', join(nodes[0]!.dir, 'relay365.yaml'), ...args], { env: { PATH: process.env.PATH, RELAY365_MASTER_KEY: masterKey } });
      return stdout;
    },
    async stop() {
      await stopAll();
      await store.close();
    },
  };
}

/** The Subject of a raw message as the sink kept it. */
export const subjectOf = (raw: Buffer) => /^Subject: (.*)$/m.exec(raw.toString('latin1'))?.[1]?.trim() ?? '';

/** How often each value occurs. */
export function counts(values: string[]): Map<string, number> {
  const seen = new Map<string, number>();
  for (const v of values) seen.set(v, (seen.get(v) ?? 0) + 1);
  return seen;
}
