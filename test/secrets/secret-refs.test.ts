// Secrets at rest in the config: any secret-bearing key may be env:NAME, file:/path or enc:v1:…,
// resolved once when the config loads; a reference that cannot be resolved stops the load with
// the key, the variable or file, and why — never with the secret.
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { MasterKey, openMasterKey } from '../../src/config/master-key.js';
import { encryptSecret } from '../../src/config/secret-refs.js';
import { runCli, tempDir, writeConfig } from '../helpers/relay.js';
import { registerSecrets } from './leak-sink.js';

const SMTP_PASS = 'Smarthost-Passw0rd-from-env';
const CLIENT_SECRET = 'Client~Secret.Value-from-a-file';
const BASIC_PASSWORD = 'Mailbox-Passw0rd-encrypted';
const HOOK_PATH = '/webhookb2/7c1e-relay365-incoming-hook-Zq9';
registerSecrets(SMTP_PASS, CLIENT_SECRET, BASIC_PASSWORD, HOOK_PATH);

function config(routes: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return { routes, routing: { default: Object.keys(routes)[0] }, ...extra };
}
const smarthost = (pass: string) => ({ transport: 'smarthost', host: 'smtp.contoso.example', port: 587, auth: { user: 'relay@contoso.example', pass } });
const graph = (clientSecret: string) => ({ transport: 'graph', mailbox: 'relay@contoso.example', credentials: { tenant: 'contoso.example', clientId: 'app', clientSecret } });
const basic = (password: string) => ({ transport: 'smtp-basic', mailbox: 'relay@contoso.example', password });

function load(dir: string, cfg: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) {
  return loadConfig({ path: writeConfig(dir, cfg), env });
}

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('env:, file: and enc: references', () => {
  it('resolve at load time, for every secret-bearing key, and the input keeps the reference', () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'secrets'));
    writeFileSync(join(dir, 'secrets', 'client-secret'), `${CLIENT_SECRET}\n`); // as `echo … > file` writes it
    const key = openMasterKey({ env: {}, keyFile: join(dir, 'data', 'master.key') });
    const cfg = config(
      { a: smarthost('env:SMTP_PASS'), b: graph('file:secrets/client-secret'), c: basic(encryptSecret(key, BASIC_PASSWORD)) },
      { store: { path: 'data/relay365.db' } },
    );
    const loaded = load(dir, cfg, { SMTP_PASS });
    const routes = loaded.config.routes as Record<string, Record<string, unknown>>;
    expect((routes.a!.auth as { pass: string }).pass).toBe(SMTP_PASS);
    expect((routes.b!.credentials as { clientSecret: string }).clientSecret).toBe(CLIENT_SECRET);
    expect(routes.c!.password).toBe(BASIC_PASSWORD);
    expect(loaded.secretRefs).toEqual([
      { path: 'routes.a.auth.pass', kind: 'env' },
      { path: 'routes.b.credentials.clientSecret', kind: 'file' },
      { path: 'routes.c.password', kind: 'enc' },
    ]);
    expect(JSON.stringify(loaded.input)).not.toContain(SMTP_PASS);
  });

  it('an absolute file: path, a CRLF ending, and RELAY365_MASTER_KEY in hex instead of the key file', () => {
    const dir = tempDir();
    const file = join(dir, 'pass.txt');
    writeFileSync(file, `${SMTP_PASS}\r\n`);
    const raw = randomBytes(32);
    registerSecrets(raw.toString('hex'));
    const enc = encryptSecret(new MasterKey(raw, 'test'), BASIC_PASSWORD);
    const loaded = load(dir, config({ a: smarthost(`file:${file}`), c: basic(enc) }), { RELAY365_MASTER_KEY: raw.toString('hex') });
    expect(((loaded.config.routes.a as { auth: { pass: string } }).auth).pass).toBe(SMTP_PASS);
    expect((loaded.config.routes.c as { password: string }).password).toBe(BASIC_PASSWORD);
  });

  it('works for a secret set from the environment too, and leaves keys that are not secrets alone', () => {
    const dir = tempDir();
    const loaded = load(dir, config({ a: smarthost('placeholder') }, { node: { name: 'env:NOT_A_SECRET' } }), { RELAY365_ROUTES__A__AUTH__PASS: 'env:SMTP_PASS', SMTP_PASS });
    expect(((loaded.config.routes.a as { auth: { pass: string } }).auth).pass).toBe(SMTP_PASS);
    expect(loaded.config.node.name).toBe('env:NOT_A_SECRET');
  });
});

describe('notify.admin.webhook, a bearer credential', () => {
  const hook = `https://hooks.contoso.example${HOOK_PATH}`;
  const withHook = (webhook: string) => config({ a: smarthost('x') }, { notify: { admin: { webhook } } });

  it('may be env:, file: or enc:, resolved like any secret', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'hook-url'), `${hook}\n`);
    const key = openMasterKey({ env: {}, keyFile: join(dir, 'data', 'master.key') });
    registerSecrets(readFileSync(join(dir, 'data', 'master.key'), 'utf8').trim());
    for (const [reference, env] of [['env:HOOK_URL', { HOOK_URL: hook }], ['file:hook-url', {}], [encryptSecret(key, hook), {}]] as const) {
      const loaded = load(dir, withHook(reference), env);
      expect(loaded.config.notify.admin.webhook).toBe(hook);
      expect(loaded.secretRefs).toEqual([{ path: 'notify.admin.webhook', kind: reference.slice(0, 3) === 'enc' ? 'enc' : reference.slice(0, 3) === 'env' ? 'env' : 'file' }]);
    }
  });

  it('is refused when it is not a URL, never repeating it', () => {
    const dir = tempDir();
    const file = join(dir, 'relay365.yaml');
    expect(problemsOf(() => load(dir, withHook(`hooks.contoso.example${HOOK_PATH}`)))).toEqual([
      `${file}: notify.admin.webhook: expected an http:// or https:// URL, or env:NAME, file:/path or enc:v1:… (the URL is a secret; it is not repeated here)`,
    ]);
    expect(problemsOf(() => load(dir, withHook('env:HOOK_URL'), { HOOK_URL: `ftp://hooks.contoso.example${HOOK_PATH}` }))).toEqual([
      `${file}: notify.admin.webhook: the reference does not hold an http:// or https:// URL (the value is a secret; it is not repeated here)`,
    ]);
  });

  it('config show masks it to its scheme and host; config check calls it a secret in plain text', async () => {
    const dir = tempDir();
    writeConfig(dir, withHook(hook));
    const show = await runCli(dir, ['config', 'show']);
    expect(show.stdout).toContain('webhook: https://hooks.contoso.example/… # set');
    expect(show.stdout).not.toContain(HOOK_PATH);
    const check = await runCli(dir, ['config', 'check']);
    expect(check.code).toBe(0);
    expect(check.stderr).toContain('notify.admin.webhook: a secret in plain text; give it as env:NAME, file:/path or enc:v1:… (relay365 secret encrypt) instead');
    expect(check.stderr).not.toContain(HOOK_PATH);
  });
});

describe('references that cannot be resolved stop the load, naming the key and the variable or file', () => {
  it('an unset variable, a missing file, an empty file', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'empty'), '\n');
    const problems = problemsOf(() => load(dir, config({ a: smarthost('env:SMTP_PASS'), b: graph(`file:${join(dir, 'nope')}`), c: basic('file:empty') })));
    const file = join(dir, 'relay365.yaml');
    expect(problems).toEqual([
      `${file}: routes.a.auth.pass: the environment variable SMTP_PASS (env:SMTP_PASS) is not set`,
      `${file}: routes.b.credentials.clientSecret: cannot read the secret file ${join(dir, 'nope')} (ENOENT)`,
      `${file}: routes.c.password: the secret file ${join(dir, 'empty')} is empty`,
    ]);
  });

  it('an unreadable file, and a reference set by an environment variable names that variable', () => {
    if (process.getuid?.() === 0) return; // root reads any file: nothing to refuse
    const dir = tempDir();
    writeFileSync(join(dir, 'locked'), SMTP_PASS, { mode: 0o000 });
    chmodSync(join(dir, 'locked'), 0o000);
    expect(problemsOf(() => load(dir, config({ a: smarthost('file:locked') })))).toEqual([`${join(dir, 'relay365.yaml')}: routes.a.auth.pass: cannot read the secret file ${join(dir, 'locked')} (EACCES)`]);
  });

  it('names the environment variable that set the reference', () => {
    const dir = tempDir();
    expect(problemsOf(() => load(dir, config({ a: smarthost('x') }), { RELAY365_ROUTES__A__AUTH__PASS: 'env:MISSING' }))).toEqual([
      'environment RELAY365_ROUTES__A__AUTH__PASS: routes.a.auth.pass: the environment variable MISSING (env:MISSING) is not set',
    ]);
  });

  it('enc: without a master key, with another key, damaged, or of an unknown version — never showing the secret', () => {
    const dir = tempDir();
    const keyFile = join(dir, 'data', 'master.key');
    const other = new MasterKey(randomBytes(32), 'the other node');
    const enc = encryptSecret(other, BASIC_PASSWORD);
    expect(problemsOf(() => load(dir, config({ c: basic(enc) })))).toEqual([
      `${join(dir, 'relay365.yaml')}: routes.c.password: an enc:v1: value needs the master key it was encrypted with: set RELAY365_MASTER_KEY, or put the key file at ${keyFile} (secrets.keyFile)`,
    ]);
    const mine = openMasterKey({ env: {}, keyFile });
    registerSecrets(readFileSync(keyFile, 'utf8').trim());
    const [wrong] = problemsOf(() => load(dir, config({ c: basic(enc) })));
    expect(wrong).toBe(
      `${join(dir, 'relay365.yaml')}: routes.c.password: was encrypted with another master key (key id ${other.keyId}); the master key from the key file ${keyFile} has key id ${mine.keyId}. Use the key it was encrypted with, or encrypt the secret again with relay365 secret encrypt`,
    );
    const good = encryptSecret(mine, BASIC_PASSWORD);
    const damaged = `${good.slice(0, -4)}${good.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
    expect(problemsOf(() => load(dir, config({ c: basic(damaged) })))[0]).toContain('the enc:v1: value is damaged');
    expect(problemsOf(() => load(dir, config({ c: basic('enc:v2:abc') })))[0]).toContain('an encrypted value starts with "enc:v1:"');
  });

  it('a RELAY365_MASTER_KEY that is not a key is refused without showing it', () => {
    const dir = tempDir();
    const enc = encryptSecret(new MasterKey(randomBytes(32), 'x'), BASIC_PASSWORD);
    const problems = problemsOf(() => load(dir, config({ c: basic(enc) }), { RELAY365_MASTER_KEY: 'not-a-key-but-secret-text' }));
    expect(problems).toEqual(['RELAY365_MASTER_KEY: not a relay365 master key: expected 32 bytes as 64 hex digits or base64 (44 characters), got 25 characters']);
  });
});

describe('the master key file', () => {
  it('is created once with mode 0600 in a 0700 folder, and read back the same', () => {
    const dir = tempDir();
    const keyFile = join(dir, 'keys', 'master.key');
    const created = openMasterKey({ env: {}, keyFile });
    registerSecrets(readFileSync(keyFile, 'utf8').trim());
    expect(created.created).toBe(true);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'keys')).mode & 0o777).toBe(0o700);
    const again = openMasterKey({ env: {}, keyFile });
    expect(again).toMatchObject({ created: false, keyId: created.keyId, source: `the key file ${keyFile}` });
  });

  it('warns when others can read it', () => {
    const dir = tempDir();
    const keyFile = join(dir, 'master.key');
    openMasterKey({ env: {}, keyFile });
    registerSecrets(readFileSync(keyFile, 'utf8').trim());
    chmodSync(keyFile, 0o644);
    const loaded = load(dir, config({ c: basic(encryptSecret(openMasterKey({ env: {}, keyFile }), BASIC_PASSWORD)) }, { secrets: { keyFile: 'master.key' } }));
    expect(loaded.warnings).toEqual([`secrets.keyFile: ${keyFile} can be read by others (mode 0644); chmod 600 it`]);
  });
});
