/**
 * One relay per data directory: relay365.pid beside the store, holding the running relay's
 * pid. It is made whole in a temporary file and linked into place, which fails when the name
 * exists (O_EXCL's guarantee, with the pid already in it), so two starts cannot both win and
 * none reads a half-written file. A file whose pid is gone, or is no relay365 (the pid was
 * reused after a crash or a reboot), is stale and taken over. A clean shutdown removes it.
 */
import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { processExists } from '../queue/heartbeat.js';

export const PID_FILE = 'relay365.pid';

export class AlreadyRunning extends Error {
  readonly code = 'ALREADY_RUNNING';
  constructor(readonly pid: number) {
    super(`relay365 is already running here (pid ${pid})`);
  }
}

export interface PidFile {
  path: string;
  /** Removes the file if it is still this process's. */
  release(): void;
}

/** Takes the data directory for this process, or throws AlreadyRunning with the running relay's pid. */
export function takePidFile(dataDir: string): PidFile {
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, PID_FILE);
  const draft = `${path}.${process.pid}`;
  writeFileSync(draft, `${process.pid}\n`, { mode: 0o644 });
  try {
    // A second round only after a stale file was removed; a third would mean another start is racing for it.
    for (let round = 0; round < 3; round++) {
      try {
        linkSync(draft, path);
        return { path, release: () => releasePidFile(path) };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const holder = readPid(path);
      if (holder !== null && isRelay(holder)) throw new AlreadyRunning(holder);
      rmSync(path, { force: true });
    }
    const holder = readPid(path);
    throw holder !== null ? new AlreadyRunning(holder) : new Error(`could not take ${path}: another relay365 is starting in ${dataDir}`);
  } finally {
    rmSync(draft, { force: true });
  }
}

function readPid(path: string): number | null {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** A live process other than this one that is relay365 (its command line says so where /proc shows it). */
function isRelay(pid: number): boolean {
  if (pid === process.pid || !processExists(pid)) return false;
  try {
    return /relay365|cli[/\\]main\.js/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
  } catch {
    return true;
  }
}

function releasePidFile(path: string): void {
  if (readPid(path) === process.pid) rmSync(path, { force: true });
}
