/**
 * A node's presence in the store: registered when the relay starts, a heartbeat every
 * HEARTBEAT_MS, marked stopped at a clean shutdown. `relay365 nodes` reads it to show the
 * whole cluster. It also guards the one rule of several nodes: each has its own node.name,
 * because leases are held in that name — a second node under a live node's name would
 * take that node's deliveries for its own at start (releaseLeases) and deliver them twice.
 */
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { relayVersion } from '../version.js';
import type { NodeInfo, NodeStatus, Store } from './store.js';

export const HEARTBEAT_MS = 5000;
/** A node silent this long is taken for dead (three missed heartbeats). */
export const SILENT_MS = 3 * HEARTBEAT_MS;

export class NodeNameTaken extends Error {
  readonly code = 'NODE_NAME_TAKEN';
}

/** Whether a node listed in the store is running now, as far as its heartbeat tells. */
export function isAlive(node: NodeStatus, now: number): boolean {
  return node.stoppedAt === null && now - node.heartbeatAt < SILENT_MS;
}

/** Whether a process with this pid exists (EPERM: it does, as another user). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export type NodeState = 'running' | 'stopped' | 'silent';

/** Running, stopped cleanly, or silent (it died: its leases go to the others when they expire). */
export function nodeState(node: NodeStatus, now: number): NodeState {
  if (node.stoppedAt !== null) return 'stopped';
  return isAlive(node, now) ? 'running' : 'silent';
}

export class NodePresence {
  private timer: NodeJS.Timeout | null = null;
  readonly info: NodeInfo;

  constructor(
    private readonly store: Store,
    name: string,
    private readonly log: Logger,
  ) {
    this.info = { name, host: hostname(), pid: process.pid, version: relayVersion(), startedAt: Date.now() };
  }

  /** Registers this node, refusing a name a live node uses; then beats until stop(). */
  async start(): Promise<void> {
    const now = Date.now();
    const same = (await this.store.nodes()).find((n) => n.name === this.info.name);
    // The same name on this host whose process is gone is this node's own earlier life (a crash, a restart).
    const earlierLife = same && same.host === this.info.host && (same.pid === this.info.pid || !processExists(same.pid));
    if (same && isAlive(same, now) && !earlierLife) {
      // The same data directory is refused before (serve's pid file): on this host it is another config on the same store.
      throw new NodeNameTaken(
        same.host === this.info.host
          ? `relay365 is already running on this host as node "${same.name}" (pid ${same.pid}) on the same store: stop it, or give this one its own node.name (or RELAY365_NODE__NAME)`
          : `another relay365 node named "${same.name}" is running (on ${same.host}, pid ${same.pid}, last heartbeat ${Math.round((now - same.heartbeatAt) / 1000)} s ago): ` +
              'every node sharing a store needs its own node.name; set node.name (or RELAY365_NODE__NAME) on this one',
      );
    }
    await this.store.heartbeat(this.info, now);
    this.timer = setInterval(() => void this.beat(), HEARTBEAT_MS);
    this.timer.unref();
  }

  private async beat(): Promise<void> {
    try {
      await this.store.heartbeat(this.info, Date.now());
    } catch (err) {
      this.log.warn({ err }, 'could not write this node\'s heartbeat to the store');
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.store.nodeStopped(this.info.name, Date.now());
  }
}
