/**
 * Installing relay365 the way an admin does: `npm pack` of this checkout, `npm install -g`
 * of the tarball into a temporary prefix (from the npm cache: --prefer-offline), then the
 * installed `relay365` — its version, `relay365 init` in a fresh folder, and the SQLite store
 * (better-sqlite3's install script must have run). And the systemd unit passes
 * `systemd-analyze verify` where systemd is installed.
 *
 * The tarball is packed with --ignore-scripts: `npm test` has just built dist/, and the test
 * checks that `prepack` builds it for a real `npm pack`.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT, tempDir } from '../helpers/relay.js';
import { recordForLeakScan } from '../secrets/leak-sink.js';

const exec = promisify(execFile);
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; bin: Record<string, string>; files: string[]; scripts: Record<string, string> };
const systemdAnalyze = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((p) => existsSync(p));

let prefix: string;
let tarball: string;
let relay365: string;

/** npm runs with this process's environment (its cache, its config); relay365 with PATH and what the test gives only. */
async function run(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  const env = command === 'npm' ? process.env : { PATH: process.env.PATH, ...options.env };
  try {
    const out = await exec(command, args, { cwd: options.cwd ?? ROOT, env, maxBuffer: 16 * 1024 * 1024 });
    recordForLeakScan(`packaging: ${command} ${args[0] ?? ''}`, out.stdout + out.stderr);
    return { code: 0, ...out };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('npm pack and a global install', () => {
  beforeAll(async () => {
    const dir = tempDir('relay365-pack-');
    const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir]);
    expect(packed.code, packed.stderr).toBe(0);
    tarball = join(dir, (JSON.parse(packed.stdout) as Array<{ filename: string }>)[0]!.filename);
    prefix = join(dir, 'prefix');
    // better-sqlite3 builds its native module in an install script; npm runs it for a global
    // install only when allowed on the command line (the package's allowScripts covers its own tree).
    const installed = await run('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', '--allow-scripts=better-sqlite3', tarball]);
    expect(installed.code, installed.stderr).toBe(0);
    relay365 = join(prefix, 'bin', 'relay365');
  }, 600_000);

  it('packs the built command, its docs, the example config and the systemd unit, and no sources or tests', async () => {
    expect(pkg.scripts.prepack).toBe('npm run build');
    expect(pkg.bin.relay365).toBe('dist/src/cli/main.js');
    const listed = await run('tar', ['tzf', tarball]);
    const files = listed.stdout.split('\n').map((f) => f.replace(/^package\//, ''));
    for (const wanted of ['dist/src/cli/main.js', 'dist/src/cli/sendmail.js', 'README.md', 'relay365.example.yaml', 'relay365.schema.json', 'packaging/relay365.service', 'docs/sap-scot.md', 'package.json']) {
      expect(files).toContain(wanted);
    }
    expect(files.filter((f) => f.startsWith('test/') || f.startsWith('src/') || f.endsWith('.test.js'))).toEqual([]);
  });

  it('gives a working relay365: its version', async () => {
    const out = await run(relay365, ['--version']);
    expect(out.code).toBe(0);
    expect(out.stdout.trim()).toBe(pkg.version);
  });

  it('relay365 init writes a commented starter config in a fresh folder, prints the next steps, and never overwrites', async () => {
    const dir = tempDir('relay365-init-');
    const out = await run(relay365, ['init', '--transport', 'smtp-oauth'], { cwd: dir });
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toContain('relay365 setup m365');
    const written = readFileSync(join(dir, 'relay365.yaml'), 'utf8');
    expect(written).toMatch(/^# yaml-language-server: \$schema=.*relay365\.schema\.json$/m);
    expect(written).toContain('transport: smtp-oauth');
    expect(existsSync(written.match(/\$schema=(\S+)/)![1]!)).toBe(true);
    const check = await run(relay365, ['config', 'check'], { cwd: dir, env: { M365_SECRET: 'from-the-environment' } });
    expect(check.code, check.stderr).toBe(0);
    const again = await run(relay365, ['init'], { cwd: dir });
    expect(again.code).toBe(73);
    expect(again.stderr).toContain('never overwrites');
    expect(readFileSync(join(dir, 'relay365.yaml'), 'utf8')).toBe(written);
  });

  it('opens its SQLite store (better-sqlite3 was built by its install script)', async () => {
    const dir = tempDir('relay365-installed-');
    writeFileSync(join(dir, 'relay365.yaml'), 'routes:\n  keep:\n    transport: capture\n');
    // Pausing a route is a command that may create the store (before the first start); listing then reads it.
    const paused = await run(relay365, ['route', 'pause', 'keep'], { cwd: dir });
    expect(paused.code, paused.stderr).toBe(0);
    const out = await run(relay365, ['queue', 'list'], { cwd: dir });
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toContain('no messages');
  });

  it('works as a sendmail symlink of the installed command', async () => {
    const dir = tempDir('relay365-link-');
    await run('ln', ['-s', relay365, join(dir, 'sendmail')]);
    const out = await run(join(dir, 'sendmail'), ['-bp'], { cwd: dir });
    expect(out.code).toBe(64); // answered by sendmail's own parser, not commander
    expect(out.stderr).toContain('only submits mail (-bm)');
  });
});

describe('the systemd unit', () => {
  it.skipIf(!systemdAnalyze)(`passes systemd-analyze verify${systemdAnalyze ? '' : ' (skipped: systemd-analyze is not installed)'}`, async () => {
    const unit = readFileSync(join(ROOT, 'packaging/relay365.service'), 'utf8');
    expect(unit).toMatch(/^ProtectSystem=strict$/m);
    expect(unit).toMatch(/^NoNewPrivileges=yes$/m);
    expect(unit).toMatch(/^StateDirectory=relay365$/m);
    expect(unit).toMatch(/^CapabilityBoundingSet=$/m);
    expect(unit).toMatch(/^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
    // verify checks that ExecStart's program exists: point it at this machine's node.
    const dir = tempDir('relay365-unit-');
    const copy = join(dir, 'relay365.service');
    writeFileSync(copy, unit.replace('/usr/local/bin/relay365', process.execPath));
    const out = await run(systemdAnalyze as string, ['verify', copy]);
    expect(out.stderr.split('\n').filter((l) => l.includes('relay365.service'))).toEqual([]);
    expect(out.code).toBe(0);
  });
});
