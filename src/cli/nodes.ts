/**
 * `relay365 nodes`: every relay node using the store — with PostgreSQL, the whole cluster,
 * from any node — with its last heartbeat, whether it is running, stopped or silent (it
 * died; its messages go to the others when their leases expire), and what it is delivering.
 */
import type { Command } from 'commander';
import { nodeState, SILENT_MS } from '../queue/heartbeat.js';
import { describeStore } from '../queue/open.js';
import type { NodeStatus } from '../queue/store.js';
import { loadOrExit, openStoreOrExit, type GlobalOptions } from './context.js';
import { ago, table } from './format.js';

export { nodeState, type NodeState } from '../queue/heartbeat.js';

export function nodeCommands(program: Command, global: () => GlobalOptions): void {
  program
    .command('nodes')
    .description('the relay nodes sharing the store: heartbeat, state, messages in delivery')
    .option('--json', 'as JSON, for scripts and monitoring')
    .action(async (opts: { json?: boolean }) => {
      const loaded = loadOrExit(global());
      const { config } = loaded;
      const store = await openStoreOrExit(loaded, { create: false });
      let nodes: NodeStatus[];
      try {
        nodes = await store.nodes();
      } finally {
        await store.close();
      }
      const now = Date.now();
      if (opts.json) {
        return void process.stdout.write(`${JSON.stringify(nodes.map((n) => ({ ...n, state: nodeState(n, now) })), null, 2)}\n`);
      }
      if (!nodes.length) return void process.stdout.write(`no node has used the store yet (${describeStore(config)})\n`);
      const rows = nodes.map((n) => [
        n.name,
        nodeState(n, now),
        `${n.host} pid ${n.pid}`,
        n.version,
        ago(n.startedAt, now),
        ago(n.heartbeatAt, now),
        String(n.delivering),
      ]);
      const lines = [`store: ${describeStore(config)}`, '', table(['NODE', 'STATE', 'HOST', 'VERSION', 'STARTED', 'HEARTBEAT', 'DELIVERING'], rows)];
      const silent = nodes.filter((n) => nodeState(n, now) === 'silent');
      for (const n of silent) {
        lines.push(
          '',
          `${n.name} has not sent a heartbeat for over ${SILENT_MS / 1000} s: it has stopped without shutting down.` +
            (n.delivering ? ` The ${n.delivering} message(s) it was delivering go to the other nodes when their leases (delivery.lease) expire.` : ''),
        );
      }
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}
