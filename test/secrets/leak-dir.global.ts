/**
 * vitest global setup: one folder per test run for the secret-leak scan's sink (leak-sink.ts),
 * named in the environment before the worker processes start, removed when the run ends.
 * vitest calls it once per project; the first call makes the folder, the others find it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LEAK_DIR_VARIABLE } from './leak-sink.js';

export default function setup(): () => void {
  process.env[LEAK_DIR_VARIABLE] ??= mkdtempSync(join(tmpdir(), 'relay365-leak-scan-'));
  const made = process.env[LEAK_DIR_VARIABLE];
  return () => rmSync(made, { recursive: true, force: true });
}
