/**
 * The sink the relay delivers to: Postfix's smtp-sink when installed (fast, written in C,
 * so the sink never limits the relay) or the Node sink in node-sink.ts. Both report a
 * running message count on stdout ("mesg=N"); the bench learns "the sink has all N" from
 * that count, at the moment the line arrives.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { startChild, waitForPort } from './processes.js';

export type SinkKind = 'smtp-sink' | 'node';
export const SMTP_SINK = '/usr/sbin/smtp-sink';

export interface Sink {
  kind: SinkKind;
  port: number;
  pid: number;
  /** Messages the sink has received so far. */
  readonly count: number;
  /** Resolves with performance.now() at the moment the count reaches `target`; rejects if it stops moving for `stallMs`. */
  reach(target: number, stallMs: number, onStall: () => Promise<string>): Promise<number>;
}

export function smtpSinkInstalled(): boolean {
  return existsSync(SMTP_SINK);
}

export async function startSink(kind: SinkKind, maxConnections: number): Promise<Sink> {
  const child =
    kind === 'smtp-sink'
      ? startChild(SMTP_SINK, [
          '-c',
          // smtp-sink refuses to run as root without a user to drop to.
          ...(process.getuid?.() === 0 ? ['-u', 'nobody'] : []),
          '-m',
          String(Math.max(256, maxConnections)),
          '127.0.0.1:0',
          '1000',
        ], {})
      : startChild(process.execPath, [fileURLToPath(new URL('./node-sink.js', import.meta.url))], {});

  let count = 0;
  let announcedPort = 0;
  let lastChange = performance.now();
  const waiters: { target: number; resolve: (at: number) => void }[] = [];
  let partial = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    const now = performance.now();
    const parts = (partial + chunk.toString('latin1')).split(/[\r\n]/);
    partial = parts.pop() ?? '';
    for (const part of parts) {
      const mesg = /mesg=(\d+)/.exec(part);
      if (mesg) {
        const n = Number(mesg[1]);
        if (n > count) {
          count = n;
          lastChange = now;
        }
      }
      const listening = /^listening (\d+)$/.exec(part);
      if (listening) announcedPort = Number(listening[1]);
    }
    for (const waiter of [...waiters]) {
      if (count >= waiter.target) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(now);
      }
    }
  });

  const port = await waitForPort(child, kind, () => announcedPort);
  return {
    kind,
    port,
    pid: child.pid as number,
    get count() {
      return count;
    },
    reach(target, stallMs, onStall) {
      if (count >= target) return Promise.resolve(performance.now());
      return new Promise((resolve, reject) => {
        lastChange = Math.max(lastChange, performance.now());
        const waiter = { target, resolve: (at: number) => (clearInterval(watch), resolve(at)) };
        const watch = setInterval(() => {
          if (child.exitCode !== null || child.signalCode !== null) {
            clearInterval(watch);
            reject(new Error(`the ${kind} sink exited (${child.exitCode ?? child.signalCode}) with ${count} of ${target} messages`));
          } else if (performance.now() - lastChange > stallMs) {
            clearInterval(watch);
            waiters.splice(waiters.indexOf(waiter), 1);
            void onStall().then((why) =>
              reject(new Error(`delivery stalled: the sink has had ${count} of ${target} messages for ${stallMs / 1000} s. ${why}`)),
            );
          }
        }, 250);
        waiters.push(waiter);
      });
    },
  };
}
