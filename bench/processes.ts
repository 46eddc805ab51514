/**
 * The bench's child processes (the relay, the sink, smtp-source) and what Linux says about
 * them. Every child is registered so that one cleanup kills it — on success, on failure
 * and on Ctrl-C — and the temporary folder goes with them. Ports are read from /proc
 * rather than chosen in advance: relay365 at log level warn does not print its
 * "listening" line, and smtp-sink never prints its port, but both bind port 0 without a
 * race and /proc names the socket each one listens on.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';

const children = new Set<ChildProcess>();
const folders = new Set<string>();
let cleaning: Promise<void> | null = null;

/** Starts a child that cleanup() will stop. */
export function startChild(command: string, args: string[], options: SpawnOptions): ChildProcess {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

export function removeOnCleanup(folder: string): void {
  folders.add(folder);
}

/** Resolves when the child has exited; with a timeout, sends SIGKILL first if it has not. */
export function exited(child: ChildProcess, killAfterMs?: number): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const timer = killAfterMs === undefined ? null : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.once('exit', (code) => {
      if (timer) clearTimeout(timer);
      resolve(code);
    });
  });
}

/** SIGTERM to every child still running (SIGKILL after 20 s), then the temporary folders go. */
export function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    await Promise.all(
      [...children].map((child) => {
        child.kill('SIGTERM');
        return exited(child, 20_000);
      }),
    );
    for (const folder of folders) rmSync(folder, { recursive: true, force: true });
    folders.clear();
  })();
  return cleaning;
}

/** Last resort when the bench exits without cleanup() having finished: nothing may outlive it. */
function cleanupNow(): void {
  for (const child of children) child.kill('SIGKILL');
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
}

process.once('exit', cleanupNow);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    process.stderr.write(`\nbench: ${signal}: stopping the relay and the sink, removing the temporary folder\n`);
    void cleanup().finally(() => process.exit(130));
  });
}

/** TCP ports the process listens on, from its socket inodes and /proc/<pid>/net/tcp{,6}. */
export function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (match?.[1]) inodes.add(match[1]);
      } catch {
        // the descriptor closed while we looked
      }
    }
  } catch {
    return [];
  }
  const ports: number[] = [];
  for (const table of ['tcp', 'tcp6']) {
    let text = '';
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const [, local, , state, , , , , , inode] = line.trim().split(/\s+/);
      if (state === '0A' && inode && inodes.has(inode) && local) ports.push(parseInt(local.split(':')[1] ?? '0', 16));
    }
  }
  return ports;
}

/** Waits until the child listens on a TCP port (or says so through `announced`), or fails with its stderr. */
export async function waitForPort(child: ChildProcess, what: string, announced: () => number = () => 0, timeoutMs = 20_000): Promise<number> {
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const port = announced() || (child.pid ? listeningPorts(child.pid)[0] : undefined);
    if (port) return port;
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited before listening (${child.exitCode ?? child.signalCode}): ${stderr.trim()}`);
    if (Date.now() > deadline) throw new Error(`${what} did not listen within ${timeoutMs / 1000} s: ${stderr.trim()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface Memory {
  /** Resident set size now, in bytes. */
  rss: number;
  /** Peak resident set size (VmHWM) since start or since resetPeak(), in bytes. */
  peak: number;
}

export function memory(pid: number): Memory | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
    return { rss: kb('VmRSS'), peak: kb('VmHWM') };
  } catch {
    return null;
  }
}

/** Resets VmHWM to the current RSS (Linux ≥ 4.0: "5" > /proc/<pid>/clear_refs); false where not allowed. */
export function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** CPU time (user + system) the process has used, in seconds. */
export function cpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of stat(5), 12 and 13 after the command name.
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

/** Samples VmRSS every `everyMs`; max is the highest seen (VmHWM is the exact peak where readable). */
export class RssSampler {
  max = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly pid: number,
    everyMs = 100,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
    this.timer.unref();
  }

  sample(): void {
    const m = memory(this.pid);
    if (m && m.rss > this.max) this.max = m.rss;
  }

  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return this.max;
  }
}
