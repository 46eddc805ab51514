/** `relay365 app passwd|list`: the hash goes into the config; the password is never printed. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { verifyPassword } from '../../src/policy/passwords.js';
import { CLI, tempDir, writeConfig } from '../helpers/relay.js';

function run(dir: string, args: string[], stdin = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: dir, env: { PATH: process.env.PATH } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

describe('relay365 app', () => {
  it('passwd prints a scrypt hash of the piped password, and nothing of the password', async () => {
    const dir = tempDir();
    writeConfig(dir, { apps: { sap: { networks: ['10.1.20.0/24'] } } });
    const out = await run(dir, ['app', 'passwd', 'sap'], 'correct horse battery staple\n');
    expect(out.code).toBe(0);
    const hash = /passwordHash: (\S+)/.exec(out.stdout)?.[1] as string;
    expect(hash).toMatch(/^scrypt\$131072\$8\$1\$/);
    expect(await verifyPassword('correct horse battery staple', hash)).toBe(true);
    expect(out.stdout + out.stderr).not.toContain('battery');
    writeConfig(dir, { apps: { sap: { networks: ['10.1.20.0/24'], auth: { passwordHash: hash } } } });
    expect((await run(dir, ['config', 'check'])).code).toBe(0);
  });

  it('passwd refuses a short password and an unknown app', async () => {
    const dir = tempDir();
    writeConfig(dir, { apps: { sap: { networks: ['10.1.20.0/24'] } } });
    expect((await run(dir, ['app', 'passwd', 'sap'], 'short\n')).code).toBe(65);
    const unknown = await run(dir, ['app', 'passwd', 'erp'], 'long enough password\n');
    expect(unknown.code).toBe(64);
    expect(unknown.stderr).toBe('relay365: no app "erp" in the config; add apps.erp first\n');
  });

  it('a password in place of the hash is a config error naming the key', async () => {
    const dir = tempDir();
    writeConfig(dir, { apps: { sap: { auth: { passwordHash: 'hunter2' } } } });
    const check = await run(dir, ['config', 'check']);
    expect(check.code).toBe(78);
    expect(check.stderr).toContain('relay365.yaml: apps.sap.auth.passwordHash: expected a hash made by `relay365 app passwd` (scrypt$…), not a password');
    expect(check.stderr).not.toContain('hunter2');
  });

  it('list shows how each app is recognised and where its mail goes', async () => {
    const dir = tempDir();
    writeConfig(dir, { apps: { sap: { networks: ['10.1.20.0/24', '2001:db8::/32'], senders: ['*@contoso.example'] } }, routes: { up: { transport: 'capture' } } });
    const out = await run(dir, ['app', 'list']);
    expect(out.stderr).toBe(`relay365: config ${join(dir, 'relay365.yaml')}\n`); // which config, as every command says
    expect(out.stdout).toMatch(/^sap +from 10\.1\.20\.0\/24, 2001:db8::\/32 +\*@contoso\.example +up$/m);
  });
});
