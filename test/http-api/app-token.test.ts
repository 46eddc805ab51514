/** `relay365 app token APP`: a new API token, shown once, and the hash that goes into the config. */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { hashApiToken } from '../../src/policy/api-tokens.js';
import { CLI, tempDir, writeConfig } from '../helpers/relay.js';
import { recordForLeakScan } from '../secrets/leak-sink.js';

function run(dir: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: dir, env: { PATH: process.env.PATH, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('relay365 app token', () => {
  it('prints a token once on stdout and, on stderr, the config with its hash (and the hashes already there)', async () => {
    const dir = tempDir();
    writeConfig(dir, { apps: { erp: { networks: ['10.1.20.0/24'] } } });
    const out = await run(dir, ['app', 'token', 'erp']);
    expect(out.code).toBe(0);
    const token = out.stdout.trim();
    expect(token).toMatch(/^r365_[A-Za-z0-9_-]{43}$/);
    // The token is the command's output; only what is meant to be kept is scanned for leaks.
    recordForLeakScan('relay365 app token (stderr)', out.stderr);
    expect(out.stderr).not.toContain(token);
    const hash = hashApiToken(token);
    expect(out.stderr).toContain(`apps:\n  erp:\n    apiTokens:\n      - ${hash}\n`);

    writeConfig(dir, { apps: { erp: { networks: ['10.1.20.0/24'], apiTokens: [hash] } } });
    expect((await run(dir, ['config', 'check'])).code).toBe(0);
    const second = await run(dir, ['app', 'token', 'erp']);
    expect(second.stderr).toContain(`      - ${hash}\n      - ${hashApiToken(second.stdout.trim())}\n`);
  });

  it('refuses an unknown app, and a token pasted where its hash belongs', async () => {
    const dir = tempDir();
    writeConfig(dir, { apps: { erp: { networks: ['10.1.20.0/24'] } } });
    const unknown = await run(dir, ['app', 'token', 'sap']);
    expect(unknown.code).toBe(64);
    expect(unknown.stderr).toBe('relay365: no app "sap" in the config; add apps.sap first\n');
    writeConfig(dir, { apps: { erp: { networks: ['10.1.20.0/24'], apiTokens: ['r365_not-a-hash'] } } });
    const check = await run(dir, ['config', 'check']);
    expect(check.code).toBe(78);
    expect(check.stderr).toContain('apps.erp.apiTokens.0: expected a hash made by `relay365 app token` (sha256$…), not a token');
  });
});
