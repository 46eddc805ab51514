/**
 * Runs relay365 for a test: in this process (startRelay, for most tests) or as a child
 * process of the built CLI (for crash and signal tests), always with a config file written
 * to a fresh temporary folder, listeners on port 0, and JSON logs kept for inspection.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log.js';
import { startRelay, type RunningRelay } from '../../src/relay.js';
import { recordForLeakScan } from '../secrets/leak-sink.js';
import { until } from './sink.js';

export const ROOT = resolve(import.meta.dirname, '../..');
export const CLI = join(ROOT, 'dist/src/cli/main.js');

export function tempDir(prefix = 'relay365-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Writes relay365.yaml into `dir` with a listener on port 0 unless the test says otherwise. */
export function writeConfig(dir: string, config: Record<string, unknown>): string {
  const file = join(dir, 'relay365.yaml');
  const withDefaults = {
    node: { name: 'relay.test' },
    listeners: { default: { host: '127.0.0.1', port: 0 } },
    admin: { port: 0 },
    ...config,
  };
  writeFileSync(file, stringify(withDefaults));
  return file;
}

/** A smarthost route to a sink on loopback, plaintext, with quick retries. */
export function routeTo(port: number, extra: Record<string, unknown> = {}) {
  return { transport: 'smarthost', host: '127.0.0.1', port, tls: 'none', connectTimeout: '2s', ...extra };
}

export const fastRetry = { poll: '200ms', retry: { initial: '300ms', factor: 1, max: '300ms', jitter: 0 } };

export interface TestRelay {
  relay: RunningRelay;
  port: number;
  dir: string;
  logs: Record<string, unknown>[];
  stop(): Promise<void>;
}

export async function startTestRelay(config: Record<string, unknown>, dir = tempDir()): Promise<TestRelay> {
  const file = writeConfig(dir, config);
  const { config: loaded } = loadConfig({ path: file, env: {} });
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      recordForLeakScan('startTestRelay', chunk.toString()); // the secret-leak scan reads every relay log
      for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  const relay = await startRelay(loaded, createLogger('debug', sink));
  const port = [...relay.listeners.values()][0]?.port as number;
  return { relay, port, dir, logs, stop: () => relay.stop() };
}

export interface ChildRelay {
  child: ChildProcess;
  port: number;
  logs: Record<string, unknown>[];
  stderr: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `relay365 serve --config <dir>/relay365.yaml` (or, with `config: false`, `relay365 serve`
 * in `dir` as a newcomer runs it, with no config file) and waits until it listens.
 */
export async function spawnRelay(dir: string, env: NodeJS.ProcessEnv = {}, options: { config?: boolean } = {}): Promise<ChildRelay> {
  const config = options.config === false ? [] : ['--config', join(dir, 'relay365.yaml')];
  const child = spawn(process.execPath, [CLI, 'serve', ...config], {
    cwd: dir,
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const result: ChildRelay = {
    child,
    port: 0,
    logs: [],
    stderr: '',
    exited: new Promise((done) => child.on('exit', (code, signal) => done({ code, signal }))),
  };
  let partial = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    recordForLeakScan('spawnRelay stdout', chunk.toString());
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line) continue;
      const entry = JSON.parse(line) as Record<string, unknown>;
      result.logs.push(entry);
      if (entry.msg === 'listening') result.port = entry.port as number;
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    recordForLeakScan('spawnRelay stderr', chunk.toString());
    result.stderr += chunk.toString();
  });
  let exited = false;
  void result.exited.then(() => (exited = true));
  await until(() => result.port > 0 || exited, 15_000, () => `relay did not start: ${result.stderr}`);
  if (!result.port) throw new Error(`relay exited before listening: ${result.stderr}`);
  return result;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * `relay365 <args>` run in `dir` as an admin runs it: the exit code is returned, not thrown,
 * and the output goes to the secret-leak scan.
 */
export async function runCli(dir: string, args: string[], options: { env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<CliResult> {
  const child = promisify(execFile)(process.execPath, [CLI, ...args], { cwd: dir, env: { PATH: process.env.PATH, ...options.env } });
  if (options.input !== undefined) child.child.stdin?.end(options.input);
  let result: CliResult;
  try {
    result = { code: 0, ...(await child) };
  } catch (err) {
    const e = err as CliResult;
    result = { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
  recordForLeakScan(`relay365 ${args.join(' ')}`, `${result.stdout}\n${result.stderr}`);
  return result;
}
